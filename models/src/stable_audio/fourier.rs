//! The reference's "expo" Fourier features: `dim / 2` frequencies spaced exponentially from 0.5
//! to 10,000, cosines then sines of 2π·f·x. Both the timestep and the duration go through them.

use candle_core::{DType, Device, Result, Tensor};

const MIN_FREQUENCY: f64 = 0.5;
const MAX_FREQUENCY: f64 = 10_000.0;

/// Features `[B, dim]` of the values `[B]`, computed in f32 whatever `dtype` they are cast to
/// at the end (as the reference does, autocast off).
pub fn expo_fourier_features(
    values: &[f32],
    dim: usize,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    let half = dim / 2;
    // The reference subtracts the logs in f64 (Python floats) and rounds once to f32.
    let log_min = MIN_FREQUENCY.ln() as f32;
    let log_span = (MAX_FREQUENCY.ln() - MIN_FREQUENCY.ln()) as f32;
    let frequencies: Vec<f32> = linspace_0_1(half)
        .into_iter()
        .map(|ramp| (ramp * log_span + log_min).exp())
        .collect();
    let mut features = Vec::with_capacity(values.len() * dim);
    for &value in values {
        let arguments: Vec<f32> = frequencies
            .iter()
            .map(|f| value * f * 2.0 * std::f32::consts::PI)
            .collect();
        features.extend(arguments.iter().map(|a| a.cos()));
        features.extend(arguments.iter().map(|a| a.sin()));
    }
    Tensor::from_vec(features, (values.len(), 2 * half), device)?.to_dtype(dtype)
}

/// `torch.linspace(0, 1, n)` in f32 as PyTorch computes it: the first half counts up from 0,
/// the second half down from 1, so both ends are exact. At 10,000 Hz one ulp of a frequency
/// moves the phase by 0.004 rad, which is why the rounding has to match.
fn linspace_0_1(n: usize) -> Vec<f32> {
    if n < 2 {
        return vec![0.0; n];
    }
    let step = 1.0f32 / (n - 1) as f32;
    (0..n)
        .map(|i| {
            if i < n / 2 {
                step * i as f32
            } else {
                1.0 - step * (n - 1 - i) as f32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_gives_cosines_of_one_and_sines_of_zero() {
        let f = expo_fourier_features(&[0.0], 8, DType::F32, &Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(f[0], [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn the_lowest_frequency_is_half_a_cycle_per_unit() {
        let f = expo_fourier_features(&[1.0], 256, DType::F32, &Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        // cos(2π · 0.5 · 1) = -1.
        assert!((f[0][0] + 1.0).abs() < 1e-6, "{}", f[0][0]);
    }
}

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
    let frequencies = frequencies(half);
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

/// The `half` frequencies, as the reference computes them in f32: the logs subtracted in f64
/// (Python floats) and rounded once.
fn frequencies(half: usize) -> Vec<f32> {
    let log_min = MIN_FREQUENCY.ln() as f32;
    let log_span = (MAX_FREQUENCY.ln() - MIN_FREQUENCY.ln()) as f32;
    linspace_0_1(half)
        .into_iter()
        .map(|ramp| (ramp * log_span + log_min).exp())
        .collect()
}

/// `torch.linspace(0, 1, n)` in f32 as PyTorch computes it: the first half counts up from 0,
/// the second half down from 1, each value `step · i` rounded once (its vectorised kernel
/// fuses the multiply and the add). At 10,000 Hz one ulp of a frequency moves the phase by up
/// to 6 mrad, which is why the rounding has to match.
fn linspace_0_1(n: usize) -> Vec<f32> {
    if n < 2 {
        return vec![0.0; n];
    }
    let step = f64::from(1.0f32 / (n - 1) as f32);
    (0..n)
        .map(|i| {
            let value = if i < n / 2 {
                step * i as f64
            } else {
                1.0 - step * (n - 1 - i) as f64
            };
            value as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frequencies_are_within_an_ulp_of_pytorchs() {
        // PyTorch's vectorised f32 exp is not correctly rounded everywhere (5 of these 128
        // differ from the correctly rounded value by an ulp); ours is. The ramp before it is
        // bit for bit the same.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/stable_audio/fourier_frequencies.f32"
        );
        let bytes = std::fs::read(path).unwrap();
        let torch: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let ours = frequencies(128);
        let ulps: Vec<u32> = ours
            .iter()
            .zip(&torch)
            .map(|(a, b)| a.to_bits().abs_diff(b.to_bits()))
            .collect();
        assert!(ulps.iter().all(|&u| u <= 1), "{ulps:?}");
        assert!(ulps.iter().filter(|&&u| u == 1).count() <= 5, "{ulps:?}");
    }

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

//! Prompt interpolation: text embeddings are mixed linearly, initial noise spherically (slerp
//! keeps the noise's norm, so the mix is still plausible Gaussian noise; a linear mix of two
//! independent noises would be too quiet in the middle).

use candle_core::Tensor;

use super::error::Result;

/// `a + (b - a) · t`.
pub fn lerp(a: &Tensor, b: &Tensor, t: f64) -> Result<Tensor> {
    Ok((a + ((b - a)? * t)?)?)
}

/// Spherical interpolation of two tensors of the same shape, treated as flat vectors; nearly
/// parallel inputs fall back to `lerp` (as Riffusion's own `slerp` does above 0.9995).
pub fn slerp(a: &Tensor, b: &Tensor, t: f64) -> Result<Tensor> {
    let norm =
        |x: &Tensor| -> Result<f64> { Ok(x.sqr()?.sum_all()?.to_scalar::<f32>()?.sqrt() as f64) };
    let (na, nb) = (norm(a)?, norm(b)?);
    if na == 0.0 || nb == 0.0 {
        return lerp(a, b, t);
    }
    let dot = (a * b)?.sum_all()?.to_scalar::<f32>()? as f64 / (na * nb);
    if dot.abs() > 0.9995 {
        return lerp(a, b, t);
    }
    let theta = dot.acos();
    let sin = theta.sin();
    let wa = ((1.0 - t) * theta).sin() / sin;
    let wb = (t * theta).sin() / sin;
    Ok(((a * wa)? + (b * wb)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn slerp_ends_at_the_inputs_and_keeps_the_norm_of_orthogonal_unit_vectors() {
        let a = Tensor::new(&[1f32, 0.0], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0f32, 1.0], &Device::Cpu).unwrap();
        let mid = slerp(&a, &b, 0.5).unwrap().to_vec1::<f32>().unwrap();
        assert!((mid[0] - 0.5f32.sqrt()).abs() < 1e-6 && (mid[1] - 0.5f32.sqrt()).abs() < 1e-6);
        assert_eq!(
            slerp(&a, &b, 0.0).unwrap().to_vec1::<f32>().unwrap(),
            vec![1.0, 0.0]
        );
        let end = slerp(&a, &b, 1.0).unwrap().to_vec1::<f32>().unwrap();
        assert!(end[0].abs() < 1e-6 && (end[1] - 1.0).abs() < 1e-6);
        let l = lerp(&a, &b, 0.25).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(l, vec![0.75, 0.25]);
    }
}

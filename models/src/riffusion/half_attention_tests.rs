//! The VAE's and the UNet's attention in f16 with queries and keys as large as real weights
//! make them. Random test weights give small activations and hide an f16 overflow that real
//! ones hit: unscaled q·kᵀ past 65,504 is infinite, and the softmax of it NaN. These run on the
//! CPU's f16 path, which is the code CUDA and Metal run (`kernels::attention::unfused`).

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::autoencoder::PixelAttention;
use super::rng::NoiseRng;
use super::unet::transformer::Attention;

/// `gain` · identity: the projection makes q (or k) `gain` times its normalised input, whose
/// elements are about ±1, so a token's q·k with itself is `gain² × width`.
fn scaled_identity(width: usize, gain: f64) -> Tensor {
    (Tensor::eye(width, DType::F32, &Device::Cpu).unwrap() * gain).unwrap()
}

fn noise(rng: &mut NoiseRng, shape: &[usize], scale: f64) -> Tensor {
    (rng.tensor(shape, &Device::Cpu).unwrap() * scale).unwrap()
}

/// The f16 output is finite and agrees with f32 to f16's precision, relative to its size.
fn assert_close_to_f32(half: &Tensor, full: &Tensor, what: &str) {
    let half = half.to_dtype(DType::F32).unwrap();
    let values = half.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let non_finite = values.iter().filter(|v| !v.is_finite()).count();
    assert_eq!(
        non_finite, 0,
        "{what}: {non_finite} values are not finite in f16"
    );
    let largest = full
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let err = (&half - full)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        err <= 5e-3 * largest,
        "{what}: f16 differs from f32 by {err} (outputs up to {largest})"
    );
}

fn var_builder(tensors: &HashMap<String, Tensor>, dtype: DType) -> VarBuilder<'static> {
    VarBuilder::from_tensors(tensors.clone(), dtype, &Device::Cpu)
}

#[test]
fn the_vae_mid_block_attention_stays_finite_in_f16() {
    // SD's VAE: one 512-wide head over the latent pixels (here 16×16 of them). A gain of 12
    // puts a token's unscaled score with itself at 12² × 512 = 73,728, past f16's largest
    // value; scaled by 1/√512 it is 3,258.
    let channels = 512;
    let mut rng = NoiseRng::new(7);
    let mut tensors = HashMap::new();
    for (name, weight) in [
        ("to_q", scaled_identity(channels, 12.0)),
        ("to_k", scaled_identity(channels, 12.0)),
        ("to_v", noise(&mut rng, &[channels, channels], 0.05)),
        ("to_out.0", noise(&mut rng, &[channels, channels], 0.05)),
    ] {
        tensors.insert(format!("{name}.weight"), weight);
        tensors.insert(
            format!("{name}.bias"),
            Tensor::zeros(channels, DType::F32, &Device::Cpu).unwrap(),
        );
    }
    tensors.insert(
        "group_norm.weight".into(),
        Tensor::ones(channels, DType::F32, &Device::Cpu).unwrap(),
    );
    tensors.insert(
        "group_norm.bias".into(),
        Tensor::zeros(channels, DType::F32, &Device::Cpu).unwrap(),
    );
    let x = noise(&mut rng, &[1, channels, 16, 16], 1.0);

    let run = |dtype: DType| {
        let attention = PixelAttention::load(channels, 32, var_builder(&tensors, dtype)).unwrap();
        attention.forward(&x.to_dtype(dtype).unwrap()).unwrap()
    };
    assert_close_to_f32(&run(DType::F16), &run(DType::F32), "VAE attention");
}

#[test]
fn a_unet_self_attention_stays_finite_in_f16() {
    // SD 1.5's first transformer: 320 wide, 8 heads of 40. A gain of 48 puts a token's
    // unscaled score with itself at 48² × 40 = 92,160; scaled by 1/√40 it is 14,573.
    let (dim, heads) = (320, 8);
    let mut rng = NoiseRng::new(11);
    let mut tensors = HashMap::new();
    tensors.insert("to_q.weight".into(), scaled_identity(dim, 48.0));
    tensors.insert("to_k.weight".into(), scaled_identity(dim, 48.0));
    tensors.insert("to_v.weight".into(), noise(&mut rng, &[dim, dim], 0.05));
    tensors.insert("to_out.0.weight".into(), noise(&mut rng, &[dim, dim], 0.05));
    tensors.insert(
        "to_out.0.bias".into(),
        Tensor::zeros(dim, DType::F32, &Device::Cpu).unwrap(),
    );
    // What the layer norm in front of it hands over: elements of about ±1.
    let x = noise(&mut rng, &[2, 256, dim], 1.0);

    let run = |dtype: DType| {
        let attention = Attention::load(dim, dim, heads, var_builder(&tensors, dtype)).unwrap();
        let x = x.to_dtype(dtype).unwrap();
        attention.forward(&x, &x).unwrap()
    };
    assert_close_to_f32(&run(DType::F16), &run(DType::F32), "UNet attention");
}

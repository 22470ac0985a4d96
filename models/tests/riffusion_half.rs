//! Riffusion in f16, the arithmetic of CUDA and Metal, run on the CPU so that CI checks it
//! without a GPU: CLIP, the UNet, the VAE and a whole 10-step loop against the f32 reference
//! fixtures of diffusers / transformers.
//!
//! Tolerances are relative to the largest reference value: f16 keeps 11 bits of mantissa
//! (about 5e-4 relative per rounding), and each layer rounds its output again.

mod riffusion_common;

use bgm_models::device::ComputeDevice;
use bgm_models::riffusion::{RiffusionModel, SchedulerKind};
use candle_core::{DType, Tensor};
use riffusion_common::*;

/// The least relative error f16 arithmetic leaves on these parts (11-bit mantissa: 5e-4 per
/// rounding).
const F16_TRACE: f32 = 1e-4;

fn half_model() -> RiffusionModel {
    tiny_model_on(&ComputeDevice::cpu_f16())
}

/// The error of `ours` against the fixture, relative to the fixture's largest value. The
/// models hand back f32 by design, so f16 is checked by its trace: a part computed in f32
/// would match the f32 fixtures to about 1e-6, f16 rounding leaves at least 1e-4.
fn relative_error(ours: &Tensor, reference: &str, what: &str) -> f32 {
    let reference = array(reference);
    let err = max_abs_error(&ours.to_dtype(DType::F32).unwrap(), &reference);
    let scale = max_abs(&reference);
    let relative = err / scale;
    eprintln!(
        "{what} in f16: max abs error {err:e}, largest value {scale:.3}, relative {relative:e}"
    );
    assert!(
        relative > F16_TRACE,
        "{what}: relative error {relative:e} is f32's, not f16's"
    );
    relative
}

#[test]
fn clip_in_half_precision_stays_close_to_transformers() {
    let model = half_model();
    let m = manifest();
    let prompts: Vec<&str> = m.prompts.iter().map(String::as_str).collect();
    let hidden = model.text_encoder.encode(&prompts).unwrap();
    assert!(relative_error(&hidden, "clip_hidden", "CLIP hidden states") < 5e-3);
}

#[test]
fn unet_in_half_precision_stays_close_to_diffusers() {
    let model = half_model();
    let m = manifest();
    let noise = model
        .predict_noise(
            &array("unet_latents"),
            m.unet_timestep as f64,
            &array("unet_embeddings"),
        )
        .unwrap();
    assert!(relative_error(&noise, "unet_noise", "UNet noise prediction") < 5e-3);
}

#[test]
fn vae_in_half_precision_stays_close_to_diffusers() {
    let model = half_model();
    let decoded = model.vae.decode_raw(&array("vae_latents")).unwrap();
    assert!(relative_error(&decoded, "vae_decoded", "VAE decode") < 5e-3);
    let mean = model.vae.encode_mean_raw(&array("vae_image")).unwrap();
    assert!(relative_error(&mean, "vae_encoded_mean", "VAE encode mean") < 5e-3);
}

/// Ten DPM-Solver++ steps with guidance 7: each step's f16 rounding is amplified by the
/// guidance and carried into the next, so the loop is allowed more than one call.
#[test]
fn a_ten_step_loop_in_half_precision_stays_close_to_diffusers() {
    let latents = ten_step_loop(&half_model(), SchedulerKind::DpmSolverPP2M);
    let relative = relative_error(
        &latents,
        "loop_dpmpp2m_latents",
        "DPM-Solver++ 10-step loop latents",
    );
    assert!(relative < 2e-2);
}

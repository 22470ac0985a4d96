//! Shared by the Riffusion tests: the tiny fixtures of tools/parity/riffusion/make_fixtures.py.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bgm_models::device::ComputeDevice;
use bgm_models::riffusion::{denoise, DenoiseInputs, RiffusionModel, SchedulerKind};
use bgm_models::task::CancelToken;
use bgm_models::weights::WeightsConfig;
use candle_core::{Device, Tensor};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Manifest {
    pub arrays: std::collections::HashMap<String, Vec<usize>>,
    pub prompts: Vec<String>,
    pub negative_prompt: String,
    pub tokenizer_texts: Vec<String>,
    pub full_vocab_ids: Vec<Vec<u32>>,
    pub tiny_vocab_ids: Vec<Vec<u32>>,
    pub unet_timestep: usize,
    pub timesteps: std::collections::HashMap<String, Vec<usize>>,
    pub loop_: Option<serde_json::Value>,
    pub img2img: Img2Img,
}

#[derive(Deserialize)]
pub struct Img2Img {
    pub steps: usize,
    pub strength: f64,
    pub guidance_scale: f64,
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/riffusion")
}

pub fn manifest() -> &'static Manifest {
    static M: OnceLock<Manifest> = OnceLock::new();
    M.get_or_init(|| {
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("manifest.json")).unwrap())
            .unwrap()
    })
}

/// A fixture array as a tensor of its recorded shape.
pub fn array(name: &str) -> Tensor {
    let bytes = std::fs::read(fixtures().join(format!("{name}.f32"))).unwrap();
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let shape = manifest().arrays[name].clone();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// The largest absolute value of an f32 tensor.
pub fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

pub fn max_abs_error(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    max_abs(&(a - b).unwrap())
}

/// The fixtures' 10-step guided loop (guidance 7, batch 2, fixed noise) on `model`: the
/// final latents.
pub fn ten_step_loop(model: &RiffusionModel, kind: SchedulerKind) -> Tensor {
    let m = manifest();
    let prompts: Vec<&str> = m.prompts.iter().map(String::as_str).collect();
    let cond = model.text_encoder.encode(&prompts).unwrap();
    let uncond = model
        .text_encoder
        .encode(&[m.negative_prompt.as_str()])
        .unwrap();
    denoise(
        model,
        &DenoiseInputs {
            cond: &cond,
            uncond: &uncond,
            noise: &array("loop_noise"),
            init: None,
            scheduler: kind,
            steps: 10,
            guidance_scale: 7.0,
            keep_left: None,
        },
        &mut |_: f64| {},
        &CancelToken::new(),
    )
    .unwrap()
}

/// Weights config that converts .bin files into `dir`, never touching the network.
pub fn offline_config(dir: &Path) -> WeightsConfig {
    WeightsConfig {
        models_dir: Some(dir.join("models")),
        ..WeightsConfig::offline_in(dir)
    }
}

/// Copies a folder tree, leaving out `.bin` weights.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else if !entry.file_name().to_string_lossy().ends_with(".bin") {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The tiny pipeline in diffusers' safetensors layout (`diffusion_pytorch_model.safetensors`,
/// `text_encoder/model.safetensors`), written once per test binary from the committed .bin
/// layout with candle's own pickle reader and safetensors writer.
pub fn tiny_safetensors_folder() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let bin = fixtures().join("tiny-bin");
        copy_tree(&bin, dir.path());
        for (from, to) in [
            (
                "unet/diffusion_pytorch_model.bin",
                "unet/diffusion_pytorch_model.safetensors",
            ),
            (
                "vae/diffusion_pytorch_model.bin",
                "vae/diffusion_pytorch_model.safetensors",
            ),
            (
                "text_encoder/pytorch_model.bin",
                "text_encoder/model.safetensors",
            ),
        ] {
            let tensors: std::collections::HashMap<String, Tensor> =
                candle_core::pickle::read_all(bin.join(from))
                    .unwrap()
                    .into_iter()
                    .collect();
            candle_core::safetensors::save(&tensors, dir.path().join(to)).unwrap();
        }
        dir
    })
    .path()
}

/// The tiny model from its safetensors folder, on the CPU.
pub fn tiny_model() -> RiffusionModel {
    tiny_model_on(&ComputeDevice::cpu())
}

/// The tiny model on `device` (the CPU in f16 stands in for a GPU's arithmetic).
pub fn tiny_model_on(device: &ComputeDevice) -> RiffusionModel {
    let dir = tempfile::tempdir().unwrap();
    RiffusionModel::from_folder(
        tiny_safetensors_folder(),
        &offline_config(dir.path()),
        device,
    )
    .unwrap()
}

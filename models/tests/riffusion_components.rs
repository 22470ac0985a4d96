//! Riffusion's components on the tiny random SD 1.5 model against diffusers / transformers
//! (fixtures from tools/parity/riffusion/make_fixtures.py), the CLIP tokenizer on the real
//! 49408-token vocabulary, and loading through the catalogue from `.bin` files.

mod riffusion_common;

use std::io::Read;

use bgm_models::device::ComputeDevice;
use bgm_models::riffusion::{ClipTokenizer, RiffusionModel, Scheduler, SchedulerKind};
use bgm_models::weights::{find_model, locate};
use riffusion_common::*;

/// f32 on the CPU against PyTorch f32: differences come from summation order only.
const HIDDEN_TOLERANCE: f32 = 1e-4;
const UNET_TOLERANCE: f32 = 1e-4;
const VAE_TOLERANCE: f32 = 1e-4;

/// CLIP's vocab.json and merges.txt built from open_clip's merges list: the 256 byte-level
/// symbols, the same with `</w>`, one token per merge, then the two special tokens.
fn write_full_vocabulary(folder: &std::path::Path) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(fixtures().join("bpe_simple_vocab_16e6.txt.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let merges: Vec<&str> = text.split('\n').skip(1).take(49152 - 256 - 2).collect();
    let mut symbols: Vec<u32> = (b'!'..=b'~')
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .map(u32::from)
        .collect();
    let mut extra = 0;
    for b in 0..=255u32 {
        if !symbols.contains(&b) {
            symbols.push(256 + extra);
            extra += 1;
        }
    }
    let symbols: Vec<String> = symbols
        .iter()
        .map(|&c| char::from_u32(c).unwrap().to_string())
        .collect();
    let mut vocab: Vec<String> = symbols.clone();
    vocab.extend(symbols.iter().map(|s| format!("{s}</w>")));
    vocab.extend(merges.iter().map(|m| m.replace(' ', "")));
    vocab.push("<|startoftext|>".into());
    vocab.push("<|endoftext|>".into());
    assert_eq!(vocab.len(), 49408);
    let map: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), serde_json::Value::from(i)))
        .collect();
    std::fs::write(
        folder.join("vocab.json"),
        serde_json::to_string(&map).unwrap(),
    )
    .unwrap();
    std::fs::write(
        folder.join("merges.txt"),
        format!("#version: 0.2\n{}\n", merges.join("\n")),
    )
    .unwrap();
}

#[test]
fn tokenizer_matches_transformers_on_the_real_49408_token_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    write_full_vocabulary(dir.path());
    let tokenizer = ClipTokenizer::from_folder(dir.path(), 77).unwrap();
    let m = manifest();
    for (text, expected) in m.tokenizer_texts.iter().zip(&m.full_vocab_ids) {
        assert_eq!(&tokenizer.encode(text).unwrap(), expected, "{text:?}");
    }
}

#[test]
fn tokenizer_matches_transformers_on_the_tiny_vocabulary() {
    let tokenizer = ClipTokenizer::from_folder(&fixtures().join("tiny-bin/tokenizer"), 77).unwrap();
    let m = manifest();
    for (text, expected) in m.tokenizer_texts.iter().zip(&m.tiny_vocab_ids) {
        assert_eq!(&tokenizer.encode(text).unwrap(), expected, "{text:?}");
    }
}

#[test]
fn clip_hidden_states_match_transformers() {
    let model = tiny_model();
    let m = manifest();
    let prompts: Vec<&str> = m.prompts.iter().map(String::as_str).collect();
    let hidden = model.text_encoder.encode(&prompts).unwrap();
    let err = max_abs_error(&hidden, &array("clip_hidden"));
    eprintln!("CLIP hidden states max abs error: {err:e}");
    assert!(err < HIDDEN_TOLERANCE, "{err}");
}

#[test]
fn unet_noise_prediction_matches_diffusers() {
    let model = tiny_model();
    let m = manifest();
    let noise = model
        .predict_noise(
            &array("unet_latents"),
            m.unet_timestep as f64,
            &array("unet_embeddings"),
        )
        .unwrap();
    let err = max_abs_error(&noise, &array("unet_noise"));
    eprintln!("UNet noise prediction max abs error: {err:e}");
    assert!(err < UNET_TOLERANCE, "{err}");
}

/// On the CPU the UNet batch goes through in slices of two rows (to bound attention memory):
/// the result is the one-call result, row for row, including a batch that is not a multiple.
#[test]
fn sliced_unet_batches_match_one_call() {
    let model = tiny_model();
    let m = manifest();
    let latents = array("unet_latents");
    let embeddings = array("unet_embeddings");
    let latents = candle_core::Tensor::cat(
        &[
            &latents,
            &(&latents * 0.5).unwrap(),
            &latents.neg().unwrap(),
        ],
        0,
    )
    .unwrap();
    let embeddings = candle_core::Tensor::cat(&[&embeddings, &embeddings, &embeddings], 0).unwrap();
    let rows = latents.dim(0).unwrap();
    assert!(rows > bgm_models::riffusion::CPU_UNET_ROWS, "{rows} rows");
    let latents = latents.narrow(0, 0, rows - 1).unwrap();
    let embeddings = embeddings.narrow(0, 0, rows - 1).unwrap();
    let sliced = model
        .predict_noise(&latents, m.unet_timestep as f64, &embeddings)
        .unwrap();
    let whole = model
        .unet
        .forward(&latents, m.unet_timestep as f64, &embeddings)
        .unwrap();
    assert_eq!(sliced.dims(), whole.dims());
    let err = max_abs_error(&sliced, &whole);
    eprintln!(
        "sliced vs one-call UNet, {} rows: max abs {err:e}",
        rows - 1
    );
    assert!(err < 1e-4, "{err}");
}

#[test]
fn vae_decode_and_encode_mean_match_diffusers() {
    let model = tiny_model();
    let decoded = model.vae.decode_raw(&array("vae_latents")).unwrap();
    let err = max_abs_error(&decoded, &array("vae_decoded"));
    eprintln!("VAE decode max abs error: {err:e}");
    assert!(err < VAE_TOLERANCE, "{err}");
    let mean = model.vae.encode_mean_raw(&array("vae_image")).unwrap();
    let err = max_abs_error(&mean, &array("vae_encoded_mean"));
    eprintln!("VAE encode mean max abs error: {err:e}");
    assert!(err < VAE_TOLERANCE, "{err}");
}

/// VAEs saved before diffusers 0.14, riffusion-model-v1's among them, name the middle block's
/// attention `query`/`key`/`value`/`proj_attn`, some as 1×1 convolutions: both load and give
/// the same images.
#[test]
fn vae_loads_the_legacy_attention_names() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(tiny_safetensors_folder(), dir.path());
    let file = dir.path().join("vae/diffusion_pytorch_model.safetensors");
    let tensors = candle_core::safetensors::load(&file, &candle_core::Device::Cpu).unwrap();
    let legacy = [
        ("to_q.", "query."),
        ("to_k.", "key."),
        ("to_v.", "value."),
        ("to_out.0.", "proj_attn."),
    ];
    let mut renamed = 0;
    let tensors: std::collections::HashMap<String, candle_core::Tensor> = tensors
        .into_iter()
        .map(|(name, t)| {
            let Some((new, old)) = legacy.iter().find(|(new, _)| name.contains(new)) else {
                return (name, t);
            };
            renamed += 1;
            let t = if name.ends_with("weight") && name.contains("to_q") {
                t.unsqueeze(2).unwrap().unsqueeze(3).unwrap()
            } else {
                t
            };
            (name.replace(new, old), t)
        })
        .collect();
    assert_eq!(
        renamed, 16,
        "four projections in the encoder and in the decoder"
    );
    candle_core::safetensors::save(&tensors, &file).unwrap();

    let config = offline_config(dir.path());
    let model = RiffusionModel::from_folder(dir.path(), &config, &ComputeDevice::cpu()).unwrap();
    let decoded = model.vae.decode_raw(&array("vae_latents")).unwrap();
    let err = max_abs_error(&decoded, &array("vae_decoded"));
    assert!(err < VAE_TOLERANCE, "{err}");
}

#[test]
fn scheduler_timesteps_match_diffusers() {
    let model = tiny_model();
    for (kind, name) in [
        (SchedulerKind::Ddim, "ddim"),
        (SchedulerKind::DpmSolverPP2M, "dpmpp2m"),
    ] {
        for steps in [10, 25, 50] {
            let s = Scheduler::new(kind, &model.schedule, steps).unwrap();
            assert_eq!(
                s.timesteps(),
                manifest().timesteps[&format!("{name}_{steps}")].as_slice(),
                "{name} {steps}"
            );
        }
    }
}

/// The catalogue's riffusion entry as a local models folder with the real layout (.bin
/// weights, vocab.json + merges.txt): loaded through locate + the .bin conversion, it gives
/// the same outputs as the safetensors folder.
#[test]
fn loads_through_the_catalogue_from_bin_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = offline_config(dir.path());
    let entry = find_model("riffusion").unwrap();
    let folder = dir.path().join("models/riffusion/riffusion-model-v1");
    for file in &entry.files {
        let target = folder.join(&file.path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(fixtures().join("tiny-bin").join(&file.path), &target).unwrap();
    }
    let resolved = locate(&entry, &config).unwrap();
    let model = RiffusionModel::load(&resolved, &config, &ComputeDevice::cpu()).unwrap();
    check_against_references(&model, ".bin");
}

/// A models folder as newer Hub snapshots and most fine-tunes have it: diffusers' safetensors
/// names (no `.bin` at all), and a CLIP text encoder saved by transformers 5, whose tensor
/// names lack the `text_model.` prefix.
#[test]
fn loads_through_the_catalogue_from_a_safetensors_folder() {
    let dir = tempfile::tempdir().unwrap();
    let config = offline_config(dir.path());
    let entry = find_model("riffusion").unwrap();
    let folder = dir.path().join("models/riffusion/riffusion-model-v1");
    copy_tree(tiny_safetensors_folder(), &folder);
    let text = folder.join("text_encoder/model.safetensors");
    let unprefixed: std::collections::HashMap<String, candle_core::Tensor> =
        candle_core::safetensors::load(&text, &candle_core::Device::Cpu)
            .unwrap()
            .into_iter()
            .map(|(name, t)| (name.trim_start_matches("text_model.").to_string(), t))
            .collect();
    assert!(unprefixed.contains_key("embeddings.token_embedding.weight"));
    candle_core::safetensors::save(&unprefixed, &text).unwrap();
    assert!(!folder.join("unet/diffusion_pytorch_model.bin").exists());

    let status = bgm_models::weights::model_status(&entry, &config);
    assert_eq!(
        status.state,
        bgm_models::weights::ModelState::Ready,
        "{:?}",
        status.missing
    );
    let unet_bytes = std::fs::metadata(folder.join("unet/diffusion_pytorch_model.safetensors"))
        .unwrap()
        .len();
    assert!(
        status.bytes_on_disk > unet_bytes,
        "{}",
        status.bytes_on_disk
    );
    let resolved = locate(&entry, &config).unwrap();
    let model = RiffusionModel::load(&resolved, &config, &ComputeDevice::cpu()).unwrap();
    check_against_references(&model, "safetensors");
}

/// The UNet, CLIP and VAE of a catalogue-loaded model against the reference fixtures.
fn check_against_references(model: &RiffusionModel, layout: &str) {
    let m = manifest();
    let noise = model
        .predict_noise(
            &array("unet_latents"),
            m.unet_timestep as f64,
            &array("unet_embeddings"),
        )
        .unwrap();
    let err = max_abs_error(&noise, &array("unet_noise"));
    eprintln!("UNet (catalogue, {layout}) max abs error: {err:e}");
    assert!(err < UNET_TOLERANCE, "{err}");
    let prompts: Vec<&str> = m.prompts.iter().map(String::as_str).collect();
    let err = max_abs_error(
        &model.text_encoder.encode(&prompts).unwrap(),
        &array("clip_hidden"),
    );
    assert!(err < HIDDEN_TOLERANCE, "{err}");
    let err = max_abs_error(
        &model.vae.decode_raw(&array("vae_latents")).unwrap(),
        &array("vae_decoded"),
    );
    assert!(err < VAE_TOLERANCE, "{err}");
}

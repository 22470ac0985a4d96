//! A whole tiny Stable Audio 3 folder in the published layout, built from the parity fixtures'
//! parts: one `model_config.json`, one `model.safetensors` (DiT and conditioners, SAME-S under
//! `pretransform.model.`), and the text encoder in its subfolder with a word-level tokenizer.
//! The models tests and the app's pipeline tests (through `#[path]`) both use it.

use std::path::{Path, PathBuf};

use candle_core::Device;
use serde_json::Value;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/stable_audio")
}

/// A word-level tokenizer over the tiny T5Gemma's vocabulary: `words` take ids 4, 5, … (at
/// most 396 of them); anything else is `<unk>` (3).
pub fn tiny_tokenizer(dir: &Path, words: impl IntoIterator<Item = String>) -> PathBuf {
    use tokenizers::models::wordlevel::WordLevel;
    let vocab = words
        .into_iter()
        .take(396)
        .zip(4u32..)
        .chain([("<unk>".to_string(), 3)]);
    let model = WordLevel::builder()
        .vocab(vocab.collect())
        .unk_token("<unk>".into())
        .build()
        .unwrap();
    let mut tokenizer = tokenizers::Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(tokenizers::pre_tokenizers::whitespace::Whitespace {}));
    let path = dir.join("tokenizer.json");
    tokenizer.save(&path, false).unwrap();
    path
}

/// Writes the tiny model's folder into `dir`, its prompts up to `max_tokens` long. The
/// decoder's weight matrices are scaled by `decoder_gain`: at 1 the random decoder's
/// differential attention nearly cancels and its output hardly depends on the latents (every
/// candidate sounds alike, correlation 0.99999 in the reference too); at 4 two latents decode
/// to audio correlated 0.59, so tests that listen to the music use that.
pub fn write_tiny_model_folder(
    dir: &Path,
    words: impl IntoIterator<Item = String>,
    max_tokens: usize,
    decoder_gain: f64,
) {
    let read = |path: PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let dit = read(fixtures().join("dit/model_config.json"));
    let same = read(fixtures().join("same/model_config.json"));
    let config = serde_json::json!({
        "model_type": "diffusion_cond", "sample_rate": 44100, "audio_channels": 2,
        "model": {
            "io_channels": 16,
            "diffusion": dit["model"]["diffusion"],
            "pretransform": {"type": "autoencoder", "config": same["model"]},
            "conditioning": {"cond_dim": 64, "configs": [
                {"id": "prompt", "type": "t5gemma", "config": {"max_length": max_tokens, "subfolder": "t5gemma-b-b-ul2"}},
                {"id": "seconds_total", "type": "number", "config": {"min_val": 0, "max_val": 384}}
            ]}
        }
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("model_config.json"), config.to_string()).unwrap();
    let mut tensors =
        candle_core::safetensors::load(fixtures().join("dit/model.safetensors"), &Device::Cpu)
            .unwrap();
    for (name, tensor) in
        candle_core::safetensors::load(fixtures().join("same/model.safetensors"), &Device::Cpu)
            .unwrap()
    {
        let matrix = name.ends_with(".weight") || name.ends_with(".weight_v");
        let tensor = match name.starts_with("decoder.") && matrix {
            true => (tensor * decoder_gain).unwrap(),
            false => tensor,
        };
        tensors.insert(format!("pretransform.model.{name}"), tensor);
    }
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    let text = dir.join("t5gemma-b-b-ul2");
    std::fs::create_dir_all(&text).unwrap();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(fixtures().join("t5gemma").join(file), text.join(file)).unwrap();
    }
    tiny_tokenizer(&text, words);
}

/// The parity tests' vocabulary: "w4" … "w399" are ids 4 … 399.
#[allow(dead_code)] // The app's tests use their own words.
pub fn numbered_words() -> impl Iterator<Item = String> {
    (4..400u32).map(|id| format!("w{id}"))
}

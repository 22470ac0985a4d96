//! The Stable Audio 3 part of the GPU benchmark: a folder of random weights in the published
//! layout (full small-music size, or the tiny test model for the CPU dry run), then a whole
//! generate of four candidates as the app's generate stage runs one window of it.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use bgm_models::device::ComputeDevice;
use bgm_models::seed::SplitMix64;
use bgm_models::stable_audio::{
    MusicRequest, StableAudio, CONFIG_FILE, TEXT_ENCODER_FOLDER, WEIGHTS_FILE,
};
use bgm_models::task::CancelToken;
use candle_core::{DType, Device, Tensor};
use serde_json::{json, Value};

use super::stable_audio_common::{tiny_tokenizer, write_tiny_model_folder};
use super::{report, PeakMemory};

/// The folder under the bench's weights.
pub const FOLDER: &str = "sa3";
const PROMPT: &str =
    "joyful, uplifting bouncy pop piano with handclaps, upbeat fast tempo, bright major key, 120 BPM";
const ROWS: usize = 4;

/// Every tensor of the full-size checkpoint (DiT, conditioners, SAME-S), as the reference's
/// own modules list them, and the text encoder's config as transformers writes it.
const FULL_SIZE_KEYS: &str = include_str!("../../tests/fixtures/stable_audio/full_size_keys.tsv");
const FULL_SIZE_TEXT_CONFIG: &str =
    include_str!("../../tests/fixtures/stable_audio/full_size_t5gemma_config.json");

fn prompt_words() -> Vec<String> {
    PROMPT
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Writes `weights/sa3`: `full` (random weights, f16, 1.7 GB) or `tiny` (the test model).
pub fn write(weights: &Path, size: &str) -> Result<(), String> {
    let dir = weights.join(FOLDER);
    let started = Instant::now();
    match size {
        "tiny" => write_tiny_model_folder(&dir, prompt_words(), 64, 1.0),
        "full" => write_full(&dir).map_err(|e| format!("writing {}: {e}", dir.display()))?,
        other => return Err(format!("--write-sa3 takes full or tiny, not {other}")),
    }
    eprintln!(
        "wrote {} in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write_full(dir: &Path) -> candle_core::Result<()> {
    let text = dir.join(TEXT_ENCODER_FOLDER);
    std::fs::create_dir_all(&text)?;
    std::fs::write(dir.join(CONFIG_FILE), model_config().to_string())?;
    std::fs::write(text.join("config.json"), FULL_SIZE_TEXT_CONFIG)?;
    tiny_tokenizer(&text, prompt_words());
    let mut rng = SplitMix64::new(1);
    let checkpoint: Vec<(String, Vec<usize>)> = FULL_SIZE_KEYS
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (name, shape) = line.split_once('\t').expect("name<TAB>shape");
            let dims = shape
                .trim_matches(|c| c == '(' || c == ')')
                .split(',')
                .filter(|d| !d.trim().is_empty())
                .map(|d| d.trim().parse().expect("a dimension"))
                .collect();
            (name.to_string(), dims)
        })
        .collect();
    save_random(&checkpoint, &mut rng, &dir.join(WEIGHTS_FILE))?;
    let config: Value = serde_json::from_str(FULL_SIZE_TEXT_CONFIG).expect("the committed config");
    save_random(
        &text_encoder_tensors(&config["encoder"]),
        &mut rng,
        &text.join(WEIGHTS_FILE),
    )
}

/// The small-music config (docs/stable-audio-3-port.md, 1.2) at the sizes of the key list.
fn model_config() -> Value {
    let same = json!({"channels": 128, "c_mults": [6], "strides": [16], "latent_dim": 256,
        "transformer_depths": [6], "differential": true, "dyt": true, "dim_heads": 64,
        "variable_stride": true, "chunk_size": 32, "chunk_midpoint_shift": true});
    let with = |extra: Value| {
        let mut stage = same.clone();
        stage
            .as_object_mut()
            .expect("an object")
            .extend(extra.as_object().expect("an object").clone());
        stage
    };
    json!({
        "model_type": "diffusion_cond", "sample_rate": 44100, "audio_channels": 2,
        "model": {
            "io_channels": 256,
            "diffusion": {
                "type": "dit", "diffusion_objective": "rf_denoiser",
                "cross_attention_cond_ids": ["prompt", "seconds_total"],
                "global_cond_ids": ["seconds_total"],
                "local_add_cond_ids": ["inpaint_mask", "inpaint_masked_input"],
                "config": {"io_channels": 256, "patch_size": 1, "embed_dim": 1024, "depth": 20,
                    "num_heads": 16, "cond_token_dim": 768, "global_cond_dim": 768,
                    "local_add_cond_dim": 257, "global_cond_type": "adaLN",
                    "timestep_features_type": "expo", "timestep_features_dim": 256,
                    "num_memory_tokens": 64, "attn_kwargs": {"qk_norm": "rms"},
                    "norm_type": "rms_norm", "ff_kwargs": {"mult": 4}}
            },
            "conditioning": {"cond_dim": 768, "configs": [
                {"id": "prompt", "type": "t5gemma",
                 "config": {"max_length": 256, "padding_mode": "learned",
                            "subfolder": TEXT_ENCODER_FOLDER}},
                {"id": "seconds_total", "type": "number",
                 "config": {"min_val": 0, "max_val": 384, "fourier_features_type": "expo"}}
            ]},
            "pretransform": {"type": "autoencoder", "config": {
                "latent_dim": 256, "downsampling_ratio": 4096, "io_channels": 2,
                "pretransform": {"type": "patched", "config": {"patch_size": 256, "channels": 2}},
                "encoder": {"type": "same", "config": with(json!({"in_channels": 512, "mask_noise": 0.0}))},
                "decoder": {"type": "same", "config": with(json!({"out_channels": 512,
                    "sinusoidal_blocks": [0], "conv_mapping": true, "mask_noise": 0.01}))},
                "bottleneck": {"type": "softnorm", "config": {"dim": 256, "noise_augment_dim": 0,
                    "noise_regularize": true, "auto_scale": true}}
            }}
        }
    })
}

/// T5Gemma's encoder tensors (transformers' names) for its module config.
fn text_encoder_tensors(module: &Value) -> Vec<(String, Vec<usize>)> {
    let size = |key: &str| module[key].as_u64().expect("a size in the config") as usize;
    let (hidden, inner, layers) = (
        size("hidden_size"),
        size("intermediate_size"),
        size("num_hidden_layers"),
    );
    let (heads, kv_heads, head_dim) = (
        size("num_attention_heads"),
        size("num_key_value_heads"),
        size("head_dim"),
    );
    let mut tensors = vec![
        (
            "encoder.embed_tokens.weight".to_string(),
            vec![size("vocab_size"), hidden],
        ),
        ("encoder.norm.weight".to_string(), vec![hidden]),
    ];
    for i in 0..layers {
        let layer = |name: &str, shape: Vec<usize>| (format!("encoder.layers.{i}.{name}"), shape);
        tensors.extend([
            layer("self_attn.q_proj.weight", vec![heads * head_dim, hidden]),
            layer("self_attn.k_proj.weight", vec![kv_heads * head_dim, hidden]),
            layer("self_attn.v_proj.weight", vec![kv_heads * head_dim, hidden]),
            layer("self_attn.o_proj.weight", vec![hidden, heads * head_dim]),
            layer("mlp.gate_proj.weight", vec![inner, hidden]),
            layer("mlp.up_proj.weight", vec![inner, hidden]),
            layer("mlp.down_proj.weight", vec![hidden, inner]),
        ]);
        for norm in [
            "pre_self_attn_layernorm",
            "post_self_attn_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ] {
            tensors.push(layer(&format!("{norm}.weight"), vec![hidden]));
        }
    }
    tensors
}

/// Random f16 tensors of these names and shapes, drawn as the reference's bench draws them:
/// DyT slopes near 1, gains near 1, everything else small noise (±0.035, std 0.02).
fn save_random(
    tensors: &[(String, Vec<usize>)],
    rng: &mut SplitMix64,
    path: &Path,
) -> candle_core::Result<()> {
    let mut map = HashMap::new();
    for (name, shape) in tensors {
        let count: usize = shape.iter().product();
        if count == 0 {
            continue;
        }
        let (centre, spread) = if name.ends_with(".alpha") {
            (1.0, 0.2)
        } else if name.ends_with("gamma")
            || name.ends_with("weight_g")
            || name.contains("running_std")
        {
            (1.0, 0.1)
        } else {
            (0.0, 0.02 * 3f32.sqrt())
        };
        let values: Vec<f32> = (0..count)
            .map(|_| centre + spread * (2.0 * rng.next_f32() - 1.0))
            .collect();
        let tensor =
            Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?.to_dtype(DType::F16)?;
        map.insert(name.clone(), tensor);
    }
    candle_core::safetensors::save(&map, path)
}

/// Loads `weights/sa3` on the device and times one warm-up generate (1 candidate of 10 s) and
/// then four candidates of `seconds` at `steps`, with the parts: the text encoding and the
/// first step, each further step, the decodes.
pub fn bench(weights: &Path, device: &ComputeDevice, seconds: f64, steps: usize) {
    let started = Instant::now();
    let model = StableAudio::from_folder(&weights.join(FOLDER), false, device)
        .unwrap_or_else(|e| panic!("loading Stable Audio 3: {e}"));
    device.device.synchronize().expect("synchronize");
    report("ours_sa3_load_s", started.elapsed().as_secs_f64());
    let generate = |rows: usize, seconds: f64, marks: &mut Vec<f64>| {
        let prompts = vec![PROMPT; rows];
        let seeds: Vec<u64> = (0..rows as u64).collect();
        let started = Instant::now();
        let music = model
            .generate(
                &MusicRequest {
                    prompts: &prompts,
                    seeds: &seeds,
                    seconds,
                    steps,
                    continuation: None,
                },
                &mut |_: f64| marks.push(started.elapsed().as_secs_f64()),
                &CancelToken::new(),
            )
            .expect("generate");
        (started.elapsed().as_secs_f64(), music)
    };
    generate(1, seconds.min(10.0), &mut Vec::new());
    let peak = PeakMemory::start(&device.device);
    let mut marks = Vec::new();
    let (total, music) = generate(ROWS, seconds, &mut marks);
    peak.finish("sa3");
    report("ours_sa3_seconds", seconds);
    report("ours_sa3_steps", steps as f64);
    report("ours_sa3_generate_s", total);
    if let [first, .., last_step, _] = marks[..] {
        report("ours_sa3_text_and_first_step_s", first);
        if steps > 1 {
            report("ours_sa3_step_s", (last_step - first) / (steps - 1) as f64);
        }
        report("ours_sa3_decode_s", (total - last_step) / ROWS as f64);
    }
    let audio = music.audio.flatten_all().expect("audio");
    let finite = audio
        .to_vec1::<f32>()
        .expect("audio")
        .iter()
        .filter(|s| !s.is_finite())
        .count();
    report("ours_sa3_non_finite", finite as f64);
    let rms: f32 = audio
        .sqr()
        .and_then(|s| s.mean_all())
        .and_then(|m| m.sqrt())
        .and_then(|r| r.to_scalar())
        .expect("rms");
    report("ours_sa3_rms", rms as f64);
}

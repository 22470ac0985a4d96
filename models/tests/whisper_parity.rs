//! Parity of the Whisper stage with transformers 4.46 on the tiny random Whisper in
//! `tests/fixtures/whisper/tiny` (made by tools/parity/whisper/make_fixtures.py): mel filters,
//! the log-mel of real (espeak-ng) speech, encoder output, decoder logits with and without the
//! KV cache, and greedy decoding with and without timestamps. Each test prints its max error.

use std::path::{Path, PathBuf};

use bgm_models::device::ComputeDevice;
use bgm_models::stt::mel::{mel_filterbank, LogMel, N_FRAMES};
use bgm_models::stt::{Strategy, Whisper, WindowDecoder};
use candle_core::{IndexOp, Tensor};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whisper")
}

fn manifest() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("manifest.json")).unwrap())
        .unwrap()
}

fn f32s(name: &str) -> Vec<f32> {
    std::fs::read(fixtures().join(name))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn i32s(name: &str) -> Vec<i32> {
    std::fs::read(fixtures().join(name))
        .unwrap()
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn u32_list(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The committed espeak-ng clip as the references read it: int16 / 32768.
fn speech(name: &str) -> Vec<f32> {
    let mut reader = hound::WavReader::open(fixtures().join(name)).unwrap();
    assert_eq!(reader.spec().sample_rate, 16_000);
    assert_eq!(reader.spec().channels, 1);
    reader
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect()
}

fn tiny() -> Whisper {
    let dir = fixtures().join("tiny");
    Whisper::from_folder(
        &dir,
        &[dir.join("model.safetensors")],
        &ComputeDevice::cpu(),
    )
    .unwrap()
}

fn speech_mel_tensor(whisper: &Whisper) -> Tensor {
    let mel = whisper.front_end().window(&speech("speech_en.wav"));
    Tensor::from_vec(mel, (1, 80, N_FRAMES), &candle_core::Device::Cpu).unwrap()
}

#[test]
fn mel_filterbanks_match_transformers() {
    for n in [80usize, 128] {
        let ours: Vec<f32> = mel_filterbank(n).into_iter().flatten().collect();
        let reference = f32s(&format!("mel_filters_{n}.f32"));
        let err = max_abs_diff(&ours, &reference);
        println!("mel filters {n}: max abs error {err:.3e}");
        assert!(err < 1e-6, "{n} mel filters differ by {err}");
    }
}

#[test]
fn log_mel_of_real_speech_matches_the_feature_extractor() {
    let entry = &manifest()["speech_logmel_80.f32"];
    let frames = entry["frames"].as_u64().unwrap() as usize;
    let pad_value = entry["pad_value"].as_f64().unwrap() as f32;
    let reference = f32s("speech_logmel_80.f32");
    let ours = LogMel::new(80).window(&speech("speech_en.wav"));
    let mut err = 0f32;
    for m in 0..80 {
        for t in 0..frames {
            err = err.max((ours[m * N_FRAMES + t] - reference[m * frames + t]).abs());
        }
        for t in frames..N_FRAMES {
            err = err.max((ours[m * N_FRAMES + t] - pad_value).abs());
        }
    }
    println!("log-mel of speech_en.wav: max abs error {err:.3e} over 80 x 3000");
    assert!(err < 1e-3, "log-mel differs by {err}");
}

#[test]
fn encoder_output_matches() {
    let whisper = tiny();
    let audio = whisper
        .model()
        .encode(&speech_mel_tensor(&whisper))
        .unwrap();
    assert_eq!(audio.dims(), &[1, 1500, 32]);
    let ours: Vec<f32> = audio.flatten_all().unwrap().to_vec1().unwrap();
    let err = max_abs_diff(&ours, &f32s("encoder_output.f32"));
    println!("encoder output: max abs error {err:.3e}");
    assert!(err < 1e-3, "encoder output differs by {err}");
}

#[test]
fn decoder_logits_match_with_and_without_the_cache() {
    let whisper = tiny();
    let model = whisper.model();
    let audio = model.encode(&speech_mel_tensor(&whisper)).unwrap();
    let prefix = u32_list(&manifest()["decoder_logits_last.f32"]["prefix"]);
    let ids = Tensor::new(prefix.as_slice(), model.device())
        .unwrap()
        .unsqueeze(0)
        .unwrap();

    // One pass over the whole prefix.
    let mut cache = model.start(&audio, 1).unwrap();
    let hidden = model.decode(&ids, &mut cache).unwrap();
    let all = model.all_logits(&hidden).unwrap().squeeze(0).unwrap();
    let last: Vec<f32> = all.i(prefix.len() - 1).unwrap().to_vec1().unwrap();
    let err_last = max_abs_diff(&last, &f32s("decoder_logits_last.f32"));

    // Top-5 at every position.
    let top_ids = i32s("decoder_top5_ids.i32");
    let top_values = f32s("decoder_top5_values.f32");
    let mut err_top = 0f32;
    for pos in 0..prefix.len() {
        let row: Vec<f32> = all.i(pos).unwrap().to_vec1().unwrap();
        for k in 0..5 {
            let id = top_ids[pos * 5 + k] as usize;
            err_top = err_top.max((row[id] - top_values[pos * 5 + k]).abs());
        }
        let best = (0..row.len())
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        assert_eq!(best as i32, top_ids[pos * 5], "argmax at position {pos}");
    }

    // Token by token through the KV cache.
    let mut cache = model.start(&audio, 1).unwrap();
    let mut stepped = Vec::new();
    for &t in &prefix {
        let id = Tensor::new(&[t], model.device())
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let h = model.decode(&id, &mut cache).unwrap();
        stepped = model
            .last_logits(&h)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap();
    }
    let err_cache = max_abs_diff(&stepped, &last);
    println!(
        "decoder logits: last position max abs error {err_last:.3e}, top-5 at all positions \
         {err_top:.3e}, cached vs one pass {err_cache:.3e}"
    );
    assert!(err_last < 2e-3 && err_top < 2e-3, "{err_last} {err_top}");
    assert!(err_cache < 1e-4, "{err_cache}");
}

fn greedy_matches(key: &str) {
    let whisper = tiny();
    let model = whisper.model();
    let audio = model.encode(&speech_mel_tensor(&whisper)).unwrap();
    let entry = &manifest()[key];
    let prompt = u32_list(&entry["prompt"]);
    let expected = u32_list(&entry["sampled"]);
    let timestamps = entry["timestamps"].as_bool().unwrap();
    let rules = whisper.logit_rules(timestamps);
    let decoder = WindowDecoder {
        model,
        rules: &rules,
        sample_len: entry["max_new_tokens"].as_u64().unwrap() as usize,
        no_speech: whisper.tokenizer().special.no_speech,
        seed: 0,
    };
    let got = decoder
        .decode(&audio, &prompt, 0, Strategy::Greedy)
        .unwrap();
    let mut tokens = got.tokens.clone();
    if entry["ended_with_eot"].as_bool().unwrap() {
        tokens.push(whisper.tokenizer().special.eot);
    }
    let first_difference = tokens.iter().zip(&expected).position(|(a, b)| a != b);
    println!(
        "{key}: {} tokens, identical: {}",
        tokens.len(),
        first_difference.is_none() && tokens.len() == expected.len()
    );
    assert_eq!(
        first_difference, None,
        "first difference at sampled token index"
    );
    assert_eq!(tokens.len(), expected.len());
}

#[test]
fn greedy_tokens_with_timestamps_match() {
    greedy_matches("greedy_timestamps");
}

#[test]
fn greedy_tokens_without_timestamps_match() {
    greedy_matches("greedy_no_timestamps");
}

/// The f16 path (what CUDA and Metal run): masks, layer norms and softmax in half precision.
/// Run on the CPU here, so CI checks it without a GPU: against transformers' logits (the f32
/// reference fixture; transformers' own f16 needs a GPU, which the fixtures' machine lacks) and
/// against our f32, with f16's trace required (a model quietly in f32 would match to 1e-5).
#[test]
fn half_precision_stays_close_to_transformers_and_to_f32() {
    let dir = fixtures().join("tiny");
    let weights = [dir.join("model.safetensors")];
    let f32_model = tiny();
    let half = ComputeDevice {
        dtype: candle_core::DType::F16,
        ..ComputeDevice::cpu()
    };
    let f16_model = Whisper::from_folder(&dir, &weights, &half).unwrap();
    let mel = speech_mel_tensor(&f32_model);
    let prefix = u32_list(&manifest()["decoder_logits_last.f32"]["prefix"]);
    let logits = |w: &Whisper| -> Vec<f32> {
        let model = w.model();
        let audio = model.encode(&mel).unwrap();
        let mut cache = model.start(&audio, 1).unwrap();
        let ids = Tensor::new(prefix.as_slice(), model.device())
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let hidden = model.decode(&ids, &mut cache).unwrap();
        model
            .last_logits(&hidden)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let (full, reduced) = (logits(&f32_model), logits(&f16_model));
    let reference = f32s("decoder_logits_last.f32");
    let scale = reference.iter().map(|v| v.abs()).fold(0.0, f32::max);
    let err = max_abs_diff(&reference, &reduced);
    let err_f32 = max_abs_diff(&full, &reduced);
    println!(
        "f16 decoder logits: max abs error {err:.3e} against transformers, {err_f32:.3e} \
         against our f32 (largest logit {scale:.2})"
    );
    assert!(err < 0.02 * scale, "{err}");
    assert!(err_f32 > 1e-4 * scale, "{err_f32}: not computed in f16");
    // The same word wins.
    let best = |row: &[f32]| (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b]));
    assert_eq!(best(&reduced), best(&reference));
}

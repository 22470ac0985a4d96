//! The emotion classifier on a tiny random RoBERTa (2 layers, hidden size 16) with a real
//! byte-level BPE tokenizer, against logits from transformers' RobertaForSequenceClassification
//! (fixtures written by tools/parity/emotion/make_fixtures.py).

use std::path::{Path, PathBuf};

use bgm_models::device::ComputeDevice;
use bgm_models::emotion::{
    Emotion, EmotionClassifier, EmotionError, TranscriptSegment, DEFAULT_BATCH_SIZE,
};
use bgm_models::task::CancelToken;
use bgm_models::weights::{find_model, locate, WeightsConfig};
use serde::Deserialize;

/// Max abs error allowed between candle (f32, CPU) and PyTorch logits.
const LOGIT_TOLERANCE: f32 = 1e-4;

#[derive(Deserialize)]
struct Expected {
    texts: Vec<String>,
    labels: Vec<String>,
    input_ids: Vec<Vec<u32>>,
    logits: Vec<Vec<f32>>,
    probabilities: Vec<Vec<f32>>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/emotion")
}

fn expected() -> Expected {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
        .unwrap()
}

fn classifier() -> EmotionClassifier {
    EmotionClassifier::from_folder(
        &fixtures(),
        &[fixtures().join("model.safetensors")],
        &ComputeDevice::cpu(),
    )
    .unwrap()
}

fn max_abs_error(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

#[test]
fn labels_come_from_the_config() {
    let c = classifier();
    let names: Vec<String> = c.labels().iter().map(|e| e.to_string()).collect();
    assert_eq!(names, expected().labels);
    assert_eq!(
        c.labels()[0],
        Emotion::Joy,
        "the fixture's order is permuted on purpose"
    );
}

#[test]
fn tokens_match_the_reference_including_truncation_at_512() {
    let e = expected();
    let texts: Vec<&str> = e.texts.iter().map(String::as_str).collect();
    let ids = classifier().token_ids(&texts).unwrap();
    assert_eq!(ids, e.input_ids);
    assert_eq!(ids.last().unwrap().len(), 512);
}

#[test]
fn padded_batch_logits_match_transformers() {
    let e = expected();
    let texts: Vec<&str> = e.texts.iter().map(String::as_str).collect();
    let c = classifier();
    let logits = c.logits(&texts).unwrap();
    let err = max_abs_error(&logits, &e.logits);
    eprintln!("max abs logit error (batched, padded): {err:e}");
    assert!(err < LOGIT_TOLERANCE, "max abs error {err}");

    // Each text alone (no padding) gives the same logits as in the padded batch.
    let single: Vec<Vec<f32>> = texts.iter().flat_map(|t| c.logits(&[t]).unwrap()).collect();
    let err = max_abs_error(&single, &e.logits);
    eprintln!("max abs logit error (one by one): {err:e}");
    assert!(err < LOGIT_TOLERANCE, "max abs error {err}");

    // Softmax scores, mapped to emotions by the config's labels.
    let scores = c.classify(&texts).unwrap();
    for (s, p) in scores.iter().zip(&e.probabilities) {
        for (label, &want) in c.labels().iter().zip(p) {
            assert!((s.get(*label) - want).abs() < 1e-5);
        }
        let sum: f32 = Emotion::ALL.iter().map(|&x| s.get(x)).sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }
}

/// The catalogue's emotion model laid out as a local models folder, the way the app finds the
/// real one: config.json, vocab.json + merges.txt (no tokenizer.json, like the reference repo)
/// and pytorch_model.bin (converted to safetensors by the weights module).
#[test]
fn loads_through_the_catalogue_from_vocab_merges_and_bin() {
    let dir = tempfile::tempdir().unwrap();
    let entry = find_model("emotion").unwrap();
    let folder = dir
        .path()
        .join("models")
        .join("j-hartmann")
        .join("emotion-english-distilroberta-base");
    std::fs::create_dir_all(&folder).unwrap();
    for file in ["vocab.json", "merges.txt", "pytorch_model.bin"] {
        std::fs::copy(fixtures().join(file), folder.join(file)).unwrap();
    }
    // A config without the fields candle requires but transformers defaults.
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("config.json")).unwrap())
            .unwrap();
    for field in [
        "position_embedding_type",
        "hidden_act",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "pad_token_id",
    ] {
        config.as_object_mut().unwrap().remove(field);
    }
    std::fs::write(folder.join("config.json"), config.to_string()).unwrap();

    let weights_config = WeightsConfig {
        models_dir: Some(dir.path().join("models")),
        ..WeightsConfig::offline_in(dir.path())
    };
    let resolved = locate(&entry, &weights_config).unwrap();
    let c = EmotionClassifier::load(&resolved, &weights_config, &ComputeDevice::cpu()).unwrap();

    let e = expected();
    let texts: Vec<&str> = e.texts.iter().map(String::as_str).collect();
    assert_eq!(c.token_ids(&texts).unwrap(), e.input_ids);
    let err = max_abs_error(&c.logits(&texts).unwrap(), &e.logits);
    eprintln!("max abs logit error (catalogue, .bin, vocab+merges): {err:e}");
    assert!(err < LOGIT_TOLERANCE, "max abs error {err}");
}

#[test]
fn segments_get_all_seven_scores_in_batches() {
    let c = classifier();
    let e = expected();
    let mut segments: Vec<TranscriptSegment> = e
        .texts
        .iter()
        .enumerate()
        .map(|(i, t)| TranscriptSegment {
            start: i as f64 * 3.0,
            end: i as f64 * 3.0 + 2.5,
            text: t.clone(),
        })
        .collect();
    segments.push(TranscriptSegment {
        start: 30.0,
        end: 31.0,
        text: "   ".into(),
    });
    let mut reports = Vec::new();
    let mut progress = |f: f64| reports.push(f);
    let out = c
        .classify_segments(&segments, 4, &mut progress, &CancelToken::new())
        .unwrap();
    assert_eq!(out.len(), segments.len());
    for (o, p) in out.iter().zip(&e.probabilities) {
        let (emotion, confidence) = o.scores.top();
        assert_eq!((o.emotion, o.confidence), (emotion, confidence));
        for (label, &want) in c.labels().iter().zip(p) {
            assert!((o.scores.get(*label) - want).abs() < 1e-5);
        }
    }
    assert_eq!(out.last().unwrap().emotion, Emotion::Neutral);
    assert_eq!(reports.last(), Some(&1.0));
    assert!(reports.windows(2).all(|w| w[0] <= w[1]));

    let cancel = CancelToken::new();
    cancel.cancel();
    let err = c
        .classify_segments(&segments, DEFAULT_BATCH_SIZE, &mut |_: f64| {}, &cancel)
        .expect_err("cancelled");
    assert!(matches!(err, EmotionError::Cancelled));
    assert!(c.logits(&[]).unwrap().is_empty());
}

#[test]
fn bad_model_folders_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cpu = ComputeDevice::cpu();
    let weights = [fixtures().join("model.safetensors")];
    let err = EmotionClassifier::from_folder(dir.path(), &weights, &cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("config.json"), "{err}");

    std::fs::copy(
        fixtures().join("tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("config.json")).unwrap())
            .unwrap();
    config["id2label"]["0"] = "happy".into();
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let err = EmotionClassifier::from_folder(dir.path(), &weights, &cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("id2label"), "{err}");

    config["id2label"]["0"] = "joy".into();
    config["hidden_size"] = 24.into();
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let err = EmotionClassifier::from_folder(dir.path(), &weights, &cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("weights"), "{err}");
}

#[test]
fn the_whole_stage_gives_segments_and_a_timeline() {
    use bgm_models::emotion::{analyse_transcript, TimelineOptions};
    let c = classifier();
    let segments: Vec<TranscriptSegment> = expected()
        .texts
        .iter()
        .take(5)
        .enumerate()
        .map(|(i, t)| TranscriptSegment {
            start: 2.0 + i as f64 * 6.0,
            end: 7.0 + i as f64 * 6.0,
            text: t.clone(),
        })
        .collect();
    let report = analyse_transcript(
        &c,
        &segments,
        40.0,
        &TimelineOptions::default(),
        &mut |_: f64| {},
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(report.segments.len(), 5);
    assert_eq!(report.timeline.sections[0].start, 0.0);
    assert_eq!(report.timeline.sections.last().unwrap().end, 40.0);
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"scores\":{\"anger\""), "{json}");

    let silent = analyse_transcript(
        &c,
        &[],
        12.0,
        &TimelineOptions::default(),
        &mut |_: f64| {},
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(silent.timeline.sections.len(), 1);
    assert_eq!(silent.timeline.sections[0].emotion, Emotion::Neutral);
}

#[test]
fn a_missing_model_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = WeightsConfig {
        models_dir: Some(dir.path().join("models")),
        ..WeightsConfig::offline_in(dir.path())
    };
    let err = EmotionClassifier::load_default(&config, &ComputeDevice::cpu())
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("emotion-english-distilroberta-base"),
        "{err}"
    );
}

/// GPUs run the model in f16: the same code path in f16 on the CPU stays close to the reference.
#[test]
fn half_precision_stays_close() {
    let device = ComputeDevice {
        dtype: candle_core::DType::F16,
        ..ComputeDevice::cpu()
    };
    let c = EmotionClassifier::from_folder(
        &fixtures(),
        &[fixtures().join("model.safetensors")],
        &device,
    )
    .unwrap();
    let e = expected();
    let texts: Vec<&str> = e.texts.iter().map(String::as_str).take(5).collect();
    let err = max_abs_error(&c.logits(&texts).unwrap(), &e.logits[..5]);
    eprintln!("max abs logit error (f16 on CPU): {err:e}");
    assert!(err < 2e-2, "max abs error {err}");
}

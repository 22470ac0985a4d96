//! The 7-class emotion classifier: `j-hartmann/emotion-english-distilroberta-base` (RoBERTa) run
//! with candle-transformers' XLM-RoBERTa sequence classifier, which has the same architecture
//! (embeddings with RoBERTa's position ids — `padding_idx + 1 + position` for real tokens,
//! `padding_idx` for padding — 6 encoder layers, and a dense + tanh + out_proj head on `<s>`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::Activation;
use candle_transformers::models::xlm_roberta::{Config, XLMRobertaForSequenceClassification};
use serde::Deserialize;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{
    AddedToken, PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

use super::{ClassifiedSegment, Emotion, EmotionError, EmotionScores, TranscriptSegment};
use crate::device::ComputeDevice;
use crate::task::{CancelToken, Progress};
use crate::weights::{locate_named, ResolvedModel, WeightsConfig};

/// The classifier's catalogue name.
pub const MODEL_NAME: &str = "emotion";

/// Texts are truncated to this many tokens, `<s>` and `</s>` included.
pub const MAX_TOKENS: usize = 512;
/// Segments per forward pass.
pub const DEFAULT_BATCH_SIZE: usize = 16;

/// The RoBERTa fields of a model's `config.json`. Missing fields take the defaults of
/// transformers' `RobertaConfig` (which candle's `Config` would otherwise require).
#[derive(Clone, Debug, Deserialize)]
pub struct RobertaSettings {
    #[serde(default = "d_vocab")]
    pub vocab_size: usize,
    #[serde(default = "d_hidden")]
    pub hidden_size: usize,
    #[serde(default = "d_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "d_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "d_intermediate")]
    pub intermediate_size: usize,
    #[serde(default = "d_act")]
    pub hidden_act: String,
    #[serde(default = "d_dropout")]
    pub hidden_dropout_prob: f32,
    #[serde(default = "d_dropout")]
    pub attention_probs_dropout_prob: f32,
    #[serde(default = "d_positions")]
    pub max_position_embeddings: usize,
    #[serde(default = "d_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "d_pad")]
    pub pad_token_id: u32,
    #[serde(default = "d_position_type")]
    pub position_embedding_type: String,
    /// Label names by class index (JSON keys are strings: `{"0": "anger", ...}`).
    #[serde(default)]
    pub id2label: BTreeMap<String, String>,
}

// transformers' RobertaConfig / BertConfig defaults.
fn d_vocab() -> usize {
    50265
}
fn d_hidden() -> usize {
    768
}
fn d_layers() -> usize {
    12
}
fn d_heads() -> usize {
    12
}
fn d_intermediate() -> usize {
    3072
}
fn d_act() -> String {
    "gelu".into()
}
fn d_dropout() -> f32 {
    0.1
}
fn d_positions() -> usize {
    512
}
fn d_type_vocab() -> usize {
    2
}
fn d_eps() -> f64 {
    1e-12
}
fn d_pad() -> u32 {
    1
}
fn d_position_type() -> String {
    "absolute".into()
}

impl RobertaSettings {
    /// Parses `config.json` text; `path` is only for messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, EmotionError> {
        let bad = |message: String| EmotionError::Config {
            path: path.to_path_buf(),
            message,
        };
        let settings: Self = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if settings.hidden_size == 0
            || settings.num_attention_heads == 0
            || !settings
                .hidden_size
                .is_multiple_of(settings.num_attention_heads)
        {
            return Err(bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                settings.hidden_size, settings.num_attention_heads
            )));
        }
        if settings.position_embedding_type != "absolute" {
            return Err(bad(format!(
                "position_embedding_type \"{}\" is not supported (only \"absolute\")",
                settings.position_embedding_type
            )));
        }
        Ok(settings)
    }

    /// The labels in class-index order, which must be the seven emotions.
    pub fn labels(&self, path: &Path) -> Result<Vec<Emotion>, EmotionError> {
        let bad = |message: String| EmotionError::Config {
            path: path.to_path_buf(),
            message,
        };
        let mut by_index: Vec<(usize, Emotion)> = Vec::new();
        for (key, name) in &self.id2label {
            let index: usize = key
                .parse()
                .map_err(|_| bad(format!("id2label key \"{key}\" is not a class index")))?;
            let emotion: Emotion = name
                .parse()
                .map_err(|_| bad(format!("id2label[{key}] = \"{name}\" is not an emotion")))?;
            by_index.push((index, emotion));
        }
        by_index.sort();
        let labels: Vec<Emotion> = by_index.iter().map(|&(_, e)| e).collect();
        let indices_ok = by_index.iter().enumerate().all(|(i, &(k, _))| i == k);
        let mut sorted = labels.clone();
        sorted.sort();
        if !indices_ok || sorted != Emotion::ALL {
            return Err(bad(format!(
                "id2label must name the seven emotions once each, by indices 0..6; found {:?}",
                self.id2label
            )));
        }
        Ok(labels)
    }

    fn candle_config(&self, path: &Path) -> Result<Config, EmotionError> {
        let hidden_act: Activation = serde_json::from_value(self.hidden_act.clone().into())
            .map_err(|_| EmotionError::Config {
                path: path.to_path_buf(),
                message: format!("hidden_act \"{}\" is not supported", self.hidden_act),
            })?;
        Ok(Config {
            hidden_size: self.hidden_size,
            layer_norm_eps: self.layer_norm_eps,
            attention_probs_dropout_prob: self.attention_probs_dropout_prob,
            hidden_dropout_prob: self.hidden_dropout_prob,
            num_attention_heads: self.num_attention_heads,
            position_embedding_type: self.position_embedding_type.clone(),
            intermediate_size: self.intermediate_size,
            hidden_act,
            num_hidden_layers: self.num_hidden_layers,
            vocab_size: self.vocab_size,
            max_position_embeddings: self.max_position_embeddings,
            type_vocab_size: self.type_vocab_size,
            pad_token_id: self.pad_token_id,
        })
    }
}

/// The loaded classifier: model, tokenizer and label order.
pub struct EmotionClassifier {
    model: XLMRobertaForSequenceClassification,
    tokenizer: Tokenizer,
    labels: Vec<Emotion>,
    device: Device,
}

impl EmotionClassifier {
    /// Loads the catalogue's emotion model found by [`crate::weights::locate`]: `config.json`,
    /// `tokenizer.json` when the folder has one (else `vocab.json` + `merges.txt`), and the
    /// weights as safetensors (`.bin` converted once).
    pub fn load(
        model: &ResolvedModel,
        config: &WeightsConfig,
        device: &ComputeDevice,
    ) -> Result<Self, EmotionError> {
        let weights = model.safetensors_paths(config)?;
        Self::from_folder(&model.root, &weights, device)
    }

    /// Finds the catalogue's `emotion` model (models folder, then hub cache; never the network)
    /// and loads it. A missing model is an error that says how to get it.
    pub fn load_default(
        config: &WeightsConfig,
        device: &ComputeDevice,
    ) -> Result<Self, EmotionError> {
        Self::load(&locate_named(MODEL_NAME, config)?, config, device)
    }

    /// Loads from a folder holding `config.json` and tokenizer files, with the given weights.
    pub fn from_folder(
        folder: &Path,
        weights: &[PathBuf],
        device: &ComputeDevice,
    ) -> Result<Self, EmotionError> {
        let config_path = folder.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|source| EmotionError::Read {
            path: config_path.clone(),
            source,
        })?;
        let settings = RobertaSettings::from_json(&text, &config_path)?;
        let labels = settings.labels(&config_path)?;
        let tokenizer = load_tokenizer(folder, &settings)?;
        Self::new(settings, labels, tokenizer, weights, device, &config_path)
    }

    fn new(
        settings: RobertaSettings,
        labels: Vec<Emotion>,
        tokenizer: Tokenizer,
        weights: &[PathBuf],
        device: &ComputeDevice,
        config_path: &Path,
    ) -> Result<Self, EmotionError> {
        let config = settings.candle_config(config_path)?;
        let vb = crate::weights::var_builder(weights, device.dtype, &device.device)
            .map_err(EmotionError::Weights)?;
        let model = XLMRobertaForSequenceClassification::new(labels.len(), &config, vb)
            .map_err(EmotionError::Weights)?;
        Ok(Self {
            model,
            tokenizer,
            labels,
            device: device.device.clone(),
        })
    }

    /// The model's labels in class-index order (from `config.json`'s `id2label`).
    pub fn labels(&self) -> &[Emotion] {
        &self.labels
    }

    /// Token ids of each text as the model sees them (`<s> … </s>`, truncated, no padding).
    pub fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, EmotionError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmotionError::Encode(e.to_string()))?;
        Ok(encodings
            .iter()
            .map(|e| {
                e.get_ids()
                    .iter()
                    .zip(e.get_attention_mask())
                    .filter(|(_, &m)| m == 1)
                    .map(|(&id, _)| id)
                    .collect()
            })
            .collect())
    }

    /// Raw logits (class-index order) of one padded batch.
    pub fn logits(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmotionError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmotionError::Encode(e.to_string()))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.len());
        let mut ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for e in &encodings {
            if e.len() != cols {
                return Err(EmotionError::Encode("the batch was not padded".into()));
            }
            ids.extend_from_slice(e.get_ids());
            mask.extend(e.get_attention_mask().iter().map(|&m| m as f32));
        }
        let compute = EmotionError::Compute;
        let ids = Tensor::from_vec(ids, (rows, cols), &self.device).map_err(compute)?;
        let mask = Tensor::from_vec(mask, (rows, cols), &self.device).map_err(compute)?;
        let types = ids.zeros_like().map_err(compute)?;
        let logits = self
            .model
            .forward(&ids, &mask, &types)
            .and_then(|l| l.to_dtype(DType::F32))
            .and_then(|l| l.to_vec2::<f32>())
            .map_err(compute)?;
        Ok(logits)
    }

    /// All seven softmax scores of each text.
    pub fn classify(&self, texts: &[&str]) -> Result<Vec<EmotionScores>, EmotionError> {
        Ok(self
            .logits(texts)?
            .iter()
            .map(|row| {
                let mut scores = EmotionScores::default();
                for (&emotion, p) in self.labels.iter().zip(softmax(row)) {
                    scores.set(emotion, p);
                }
                scores
            })
            .collect())
    }

    /// Classifies transcript segments in batches of `batch_size` (texts of similar length are
    /// batched together so that little padding is computed), reporting progress and stopping
    /// when `cancel` is set. Segments without text are neutral without running the model.
    pub fn classify_segments(
        &self,
        segments: &[TranscriptSegment],
        batch_size: usize,
        progress: &mut dyn Progress,
        cancel: &CancelToken,
    ) -> Result<Vec<ClassifiedSegment>, EmotionError> {
        let batch_size = batch_size.max(1);
        let mut scores = vec![EmotionScores::one_hot(Emotion::Neutral); segments.len()];
        let mut order: Vec<usize> = (0..segments.len())
            .filter(|&i| !segments[i].text.trim().is_empty())
            .collect();
        order.sort_by_key(|&i| (segments[i].text.len(), i));
        let total = order.len().max(1);
        progress.report(0.0);
        for (n, chunk) in order.chunks(batch_size).enumerate() {
            if cancel.is_cancelled() {
                return Err(EmotionError::Cancelled);
            }
            let texts: Vec<&str> = chunk.iter().map(|&i| segments[i].text.trim()).collect();
            for (&i, s) in chunk.iter().zip(self.classify(&texts)?) {
                scores[i] = s;
            }
            progress.report(((n * batch_size + chunk.len()) as f64 / total as f64).min(1.0));
        }
        progress.report(1.0);
        Ok(segments
            .iter()
            .zip(scores)
            .map(|(segment, s)| ClassifiedSegment::new(segment, s))
            .collect())
    }
}

fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = row.iter().map(|&x| (x - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|&e| e / sum).collect()
}

/// `tokenizer.json` if present, else a RoBERTa byte-level BPE built from `vocab.json` and
/// `merges.txt` (what the reference repo ships). Padding: longest in the batch, with `<pad>`.
fn load_tokenizer(folder: &Path, settings: &RobertaSettings) -> Result<Tokenizer, EmotionError> {
    // RoBERTa's positions start at padding_idx + 1: never index past the position table.
    let max_tokens = MAX_TOKENS.min(
        settings
            .max_position_embeddings
            .saturating_sub(settings.pad_token_id as usize + 1),
    );
    let json = folder.join("tokenizer.json");
    let (mut tokenizer, path) = if json.is_file() {
        let t = Tokenizer::from_file(&json).map_err(|e| EmotionError::Tokenizer {
            path: json.clone(),
            message: e.to_string(),
        })?;
        (t, json)
    } else {
        let vocab = folder.join("vocab.json");
        let merges = folder.join("merges.txt");
        let bad = |message: String| EmotionError::Tokenizer {
            path: vocab.clone(),
            message,
        };
        let (Some(v), Some(m)) = (vocab.to_str(), merges.to_str()) else {
            return Err(bad("the path is not valid UTF-8".into()));
        };
        let bpe = BPE::from_file(v, m)
            .build()
            .map_err(|e| bad(format!("{e} (with {})", merges.display())))?;
        let mut t = Tokenizer::new(bpe);
        t.add_special_tokens(
            ["<s>", "<pad>", "</s>", "<unk>", "<mask>"].map(|s| AddedToken::from(s, true)),
        )
        .map_err(|e| bad(e.to_string()))?;
        let id = |token: &str| {
            t.token_to_id(token)
                .ok_or_else(|| bad(format!("the vocabulary has no {token} token")))
        };
        let (cls, sep) = (id("<s>")?, id("</s>")?);
        t.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        t.with_decoder(Some(ByteLevel::default()));
        t.with_post_processor(Some(
            RobertaProcessing::new(("</s>".into(), sep), ("<s>".into(), cls))
                .trim_offsets(true)
                .add_prefix_space(false),
        ));
        (t, vocab)
    };
    let pad_token = tokenizer
        .id_to_token(settings.pad_token_id)
        .ok_or_else(|| EmotionError::Tokenizer {
            path: path.clone(),
            message: format!(
                "pad_token_id {} is not in the vocabulary",
                settings.pad_token_id
            ),
        })?;
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        direction: PaddingDirection::Right,
        pad_to_multiple_of: None,
        pad_id: settings.pad_token_id,
        pad_type_id: 0,
        pad_token,
    }));
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|e| EmotionError::Tokenizer {
            path,
            message: e.to_string(),
        })?;
    Ok(tokenizer)
}

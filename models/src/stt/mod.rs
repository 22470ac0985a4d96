//! Stage 1a, speech-to-text: Whisper with timestamps, language detection and translation.
//!
//! The network is ours ([`model`]: candle, transformers weight names, a decoder KV cache); the
//! front end ([`mel`]), the logit rules ([`rules`]), window decoding ([`decode`]) and long-form
//! seeking with temperature fallback ([`transcribe`]) follow OpenAI's `transcribe`.

mod config;
mod decode;
mod error;
pub mod mel;
pub mod model;
mod rules;
mod segments;
mod source;
mod tokenizer;
mod transcribe;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use config::{GenerationConfig, WhisperConfig};
pub use decode::{compression_ratio, Strategy, WindowDecoder, WindowDecoding};
pub use error::SttError;
pub use rules::LogitRules;
pub use segments::{split_window, TokenSpan, WindowSplit, TIME_PRECISION};
pub use source::SpeechSource;
pub use tokenizer::{SpecialTokens, Task, WhisperTokenizer};
pub use transcribe::{Segment, TranscribeOptions, Transcript};

use crate::device::ComputeDevice;
use crate::task::{CancelToken, Progress};
use crate::weights::{locate_named, ResolvedModel, WeightsConfig};
use error::Result;
use mel::LogMel;
use model::WhisperModel;

/// The model the app uses unless told otherwise.
pub const DEFAULT_MODEL: &str = "whisper-base";

/// A loaded Whisper: network, tokenizer, generation settings and front end.
pub struct Whisper {
    model: WhisperModel,
    tokenizer: WhisperTokenizer,
    generation: GenerationConfig,
    front_end: LogMel,
}

impl Whisper {
    /// Finds the catalogue model `name` (models folder, then the hub cache; never the network)
    /// and loads it.
    pub fn load_named(name: &str, config: &WeightsConfig, device: &ComputeDevice) -> Result<Self> {
        Self::load(&locate_named(name, config)?, config, device)
    }

    pub fn load(
        model: &ResolvedModel,
        config: &WeightsConfig,
        device: &ComputeDevice,
    ) -> Result<Self> {
        let weights = model.safetensors_paths(config)?;
        Self::from_folder(&model.root, &weights, device)
    }

    /// Loads `config.json`, `generation_config.json` and `tokenizer.json` from `folder` and the
    /// given safetensors weights (any float dtype; converted to the device's).
    pub fn from_folder(folder: &Path, weights: &[PathBuf], device: &ComputeDevice) -> Result<Self> {
        let config = WhisperConfig::from_file(&folder.join("config.json"))?;
        let generation = GenerationConfig::from_file(&folder.join("generation_config.json"))?;
        let tokenizer = WhisperTokenizer::load(&folder.join("tokenizer.json"), &generation)?;
        if tokenizer.special.timestamp_begin as usize >= config.vocab_size {
            return Err(SttError::Config {
                path: folder.join("config.json"),
                message: format!(
                    "vocab_size {} leaves no room for timestamp tokens (from id {})",
                    config.vocab_size, tokenizer.special.timestamp_begin
                ),
            });
        }
        let vb = crate::weights::var_builder(weights, device.dtype, &device.device)
            .map_err(SttError::Weights)?;
        let model = WhisperModel::load(vb, &config).map_err(SttError::Weights)?;
        Ok(Self {
            front_end: LogMel::new(config.num_mel_bins),
            model,
            tokenizer,
            generation,
        })
    }

    pub fn model(&self) -> &WhisperModel {
        &self.model
    }

    pub fn tokenizer(&self) -> &WhisperTokenizer {
        &self.tokenizer
    }

    pub fn generation_config(&self) -> &GenerationConfig {
        &self.generation
    }

    pub fn front_end(&self) -> &LogMel {
        &self.front_end
    }

    /// The transcript in the spoken language and, when that is not English and `english` is
    /// set, a second pass translating to English (which the emotion stage reads).
    pub fn transcribe_for_emotions(
        &self,
        speech: &mut dyn SpeechSource,
        options: &TranscribeOptions,
        english: bool,
        progress: &mut dyn Progress,
        cancel: &CancelToken,
    ) -> Result<SpeechTranscript> {
        let two_passes = english && options.task == Task::Transcribe;
        let mut first = |f: f64| progress.report(if two_passes { f / 2.0 } else { f });
        let original = self.transcribe_from(speech, options, &mut first, cancel)?;
        let translation =
            if two_passes && original.language != "en" && !original.segments.is_empty() {
                let translate = TranscribeOptions {
                    task: Task::Translate,
                    language: Some(original.language.clone()),
                    ..options.clone()
                };
                let mut second = |f: f64| progress.report(0.5 + f / 2.0);
                Some(self.transcribe_from(speech, &translate, &mut second, cancel)?)
            } else {
                None
            };
        progress.report(1.0);
        Ok(SpeechTranscript {
            language: original.language.clone(),
            duration: original.duration,
            segments: original.segments,
            english: translation.map(|t| t.segments),
        })
    }
}

/// What the transcribe stage stores: the segments as spoken, and an English translation when
/// the speech is in another language. The emotion stage reads [`SpeechTranscript::for_emotions`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeechTranscript {
    pub language: String,
    pub duration: f64,
    pub segments: Vec<Segment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english: Option<Vec<Segment>>,
}

impl SpeechTranscript {
    /// English segments: the translation when there is one, else the original.
    pub fn for_emotions(&self) -> &[Segment] {
        self.english.as_deref().unwrap_or(&self.segments)
    }
}

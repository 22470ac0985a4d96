//! Whisper's tokenizer: the text BPE from `tokenizer.json` plus the special tokens decoding
//! needs, with ids taken from `generation_config.json` and, where it is silent, the tokenizer.

use std::path::Path;

use tokenizers::Tokenizer;

use super::config::GenerationConfig;
use super::error::{Result, SttError};

/// What the decoder is asked to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    #[default]
    Transcribe,
    /// Speech in any language → English text.
    Translate,
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "transcribe" => Ok(Task::Transcribe),
            "translate" => Ok(Task::Translate),
            other => Err(format!(
                "unknown task \"{other}\": use transcribe or translate"
            )),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SpecialTokens {
    pub sot: u32,
    pub eot: u32,
    pub sot_prev: u32,
    pub no_timestamps: u32,
    /// The first timestamp token, `<|0.00|>`; each next id is 0.02 s later.
    pub timestamp_begin: u32,
    pub transcribe: Option<u32>,
    pub translate: Option<u32>,
    pub no_speech: Option<u32>,
    pub sot_lm: Option<u32>,
}

pub struct WhisperTokenizer {
    inner: Tokenizer,
    pub special: SpecialTokens,
    /// Language codes (`en`, `de`, …) and their token ids, in id order.
    languages: Vec<(String, u32)>,
}

impl WhisperTokenizer {
    pub fn load(path: &Path, generation: &GenerationConfig) -> Result<Self> {
        let bad = |message: String| SttError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        let inner = Tokenizer::from_file(path).map_err(|e| bad(e.to_string()))?;
        let id = |name: &str| inner.token_to_id(name);
        let need = |given: Option<u32>, name: &str| {
            given
                .or_else(|| id(name))
                .ok_or_else(|| bad(format!("it has no {name} token")))
        };
        let sot = need(generation.decoder_start_token_id, "<|startoftranscript|>")?;
        let eot = need(generation.eos_token_id, "<|endoftext|>")?;
        let no_timestamps = need(generation.no_timestamps_token_id, "<|notimestamps|>")?;
        let sot_prev = need(generation.prev_sot_token_id, "<|startofprev|>")?;
        let task = |name: &str| {
            generation
                .task_to_id
                .get(name)
                .copied()
                .or_else(|| id(&format!("<|{name}|>")))
        };
        let special = SpecialTokens {
            sot,
            eot,
            sot_prev,
            no_timestamps,
            timestamp_begin: no_timestamps + 1,
            transcribe: task("transcribe"),
            translate: task("translate"),
            no_speech: id("<|nospeech|>").or_else(|| id("<|nocaptions|>")),
            sot_lm: id("<|startoflm|>"),
        };
        let mut languages: Vec<(String, u32)> = generation
            .lang_to_id
            .iter()
            .filter_map(|(token, &id)| {
                let code = token.strip_prefix("<|")?.strip_suffix("|>")?;
                Some((code.to_string(), id))
            })
            .collect();
        languages.sort_by_key(|&(_, id)| id);
        Ok(Self {
            inner,
            special,
            languages,
        })
    }

    pub fn is_multilingual(&self) -> bool {
        !self.languages.is_empty()
    }

    pub fn languages(&self) -> &[(String, u32)] {
        &self.languages
    }

    pub fn language_id(&self, code: &str) -> Result<u32> {
        self.languages
            .iter()
            .find(|(c, _)| c == code)
            .map(|&(_, id)| id)
            .ok_or_else(|| SttError::UnknownLanguage {
                code: code.to_string(),
                known: self
                    .languages
                    .iter()
                    .map(|(c, _)| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    pub fn language_code(&self, id: u32) -> Option<&str> {
        self.languages
            .iter()
            .find(|&&(_, i)| i == id)
            .map(|(c, _)| c.as_str())
    }

    /// The start of every window's prompt: SOT, then for multilingual models the language and
    /// the task, then `<|notimestamps|>` when timestamps are off.
    pub fn sot_sequence(
        &self,
        language: Option<&str>,
        task: Task,
        timestamps: bool,
    ) -> Result<Vec<u32>> {
        let mut seq = vec![self.special.sot];
        if self.is_multilingual() {
            let language = language.unwrap_or("en");
            seq.push(self.language_id(language)?);
            let task_id = match task {
                Task::Transcribe => self.special.transcribe,
                Task::Translate => self.special.translate,
            };
            seq.push(task_id.ok_or(SttError::EnglishOnly {
                what: "find its task tokens",
            })?);
        } else if task == Task::Translate {
            return Err(SttError::EnglishOnly { what: "translate" });
        }
        if !timestamps {
            seq.push(self.special.no_timestamps);
        }
        Ok(seq)
    }

    /// Text tokens of `text` (no specials), for previous-text prompts.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| SttError::Encode(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of `tokens`, ignoring special and timestamp tokens.
    pub fn decode_text(&self, tokens: &[u32]) -> String {
        let text: Vec<u32> = tokens
            .iter()
            .copied()
            .filter(|&t| t < self.special.eot)
            .collect();
        self.inner.decode(&text, false).unwrap_or_default()
    }

    /// Tokens that are neither text nor timestamps, and which OpenAI never lets the model emit.
    pub fn always_suppressed(&self) -> Vec<u32> {
        let s = &self.special;
        [
            Some(s.sot),
            Some(s.sot_prev),
            s.transcribe,
            s.translate,
            s.no_speech,
            s.sot_lm,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

//! The two JSON files that describe a transformers Whisper checkpoint: `config.json` (the
//! architecture) and `generation_config.json` (special token ids, suppressed tokens, languages).

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::{Result, SttError};

/// The architecture fields of transformers' `WhisperConfig` that inference needs.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct WhisperConfig {
    pub vocab_size: usize,
    pub num_mel_bins: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_layers: usize,
    pub decoder_attention_heads: usize,
    /// Older configs lack the FFN sizes; Whisper's are always 4 × d_model.
    #[serde(default)]
    pub encoder_ffn_dim: Option<usize>,
    #[serde(default)]
    pub decoder_ffn_dim: Option<usize>,
    pub max_source_positions: usize,
    pub max_target_positions: usize,
    #[serde(default = "default_activation")]
    pub activation_function: String,
    #[serde(default)]
    pub scale_embedding: bool,
}

fn default_activation() -> String {
    "gelu".into()
}

impl WhisperConfig {
    pub fn encoder_ffn(&self) -> usize {
        self.encoder_ffn_dim.unwrap_or(4 * self.d_model)
    }

    pub fn decoder_ffn(&self) -> usize {
        self.decoder_ffn_dim.unwrap_or(4 * self.d_model)
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let config: Self = read_json(path)?;
        let bad = |message: String| SttError::Config {
            path: path.to_path_buf(),
            message,
        };
        for (heads, what) in [
            (config.encoder_attention_heads, "encoder_attention_heads"),
            (config.decoder_attention_heads, "decoder_attention_heads"),
        ] {
            if heads == 0 || !config.d_model.is_multiple_of(heads) {
                return Err(bad(format!(
                    "d_model {} is not a multiple of {what} {heads}",
                    config.d_model
                )));
            }
        }
        if config.d_model < 4 || !config.d_model.is_multiple_of(2) {
            return Err(bad(format!(
                "d_model {} must be even and at least 4",
                config.d_model
            )));
        }
        if !matches!(config.activation_function.as_str(), "gelu" | "gelu_new") {
            return Err(bad(format!(
                "activation_function \"{}\" is not supported (only \"gelu\")",
                config.activation_function
            )));
        }
        if config.num_mel_bins == 0 || config.max_source_positions == 0 {
            return Err(bad(
                "num_mel_bins and max_source_positions must be positive".into(),
            ));
        }
        Ok(config)
    }
}

/// The fields of transformers' `generation_config.json` that Whisper decoding reads. Ids that
/// are missing here are looked up in the tokenizer instead.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct GenerationConfig {
    #[serde(default)]
    pub decoder_start_token_id: Option<u32>,
    #[serde(default, deserialize_with = "one_or_first")]
    pub eos_token_id: Option<u32>,
    #[serde(default)]
    pub no_timestamps_token_id: Option<u32>,
    #[serde(default)]
    pub prev_sot_token_id: Option<u32>,
    #[serde(default)]
    pub suppress_tokens: Vec<u32>,
    #[serde(default)]
    pub begin_suppress_tokens: Vec<u32>,
    /// `{"<|en|>": 50259, …}`; empty for English-only models.
    #[serde(default)]
    pub lang_to_id: BTreeMap<String, u32>,
    /// `{"transcribe": 50359, "translate": 50358}`.
    #[serde(default)]
    pub task_to_id: BTreeMap<String, u32>,
    #[serde(default)]
    pub max_initial_timestamp_index: Option<u32>,
    #[serde(default)]
    pub is_multilingual: Option<bool>,
    /// `[layer, head]` pairs whose cross-attention follows the audio (for word timing).
    #[serde(default)]
    pub alignment_heads: Vec<[usize; 2]>,
    #[serde(default)]
    pub max_length: Option<usize>,
}

/// `eos_token_id` is a number in Whisper's files but a list in some exports.
fn one_or_first<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(u32),
        Many(Vec<u32>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(id)) => Some(id),
        Some(OneOrMany::Many(ids)) => ids.first().copied(),
    })
}

impl GenerationConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        read_json(path)
    }
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| SttError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut de = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| SttError::Config {
        path: path.to_path_buf(),
        message: format!("field `{}`: {}", e.path(), e.inner()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eos_may_be_a_list() {
        let g: GenerationConfig = serde_json::from_str(r#"{"eos_token_id": [50257, 1]}"#).unwrap();
        assert_eq!(g.eos_token_id, Some(50257));
    }

    #[test]
    fn bad_heads_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"vocab_size": 10, "num_mel_bins": 80, "d_model": 30, "encoder_layers": 1,
                "encoder_attention_heads": 4, "decoder_layers": 1, "decoder_attention_heads": 2,
                "max_source_positions": 1500, "max_target_positions": 448}"#,
        )
        .unwrap();
        let err = WhisperConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("encoder_attention_heads 4"), "{err}");
        assert!(err.contains("config.json"), "{err}");
    }

    #[test]
    fn missing_field_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"vocab_size": 10}"#).unwrap();
        let err = WhisperConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("num_mel_bins"), "{err}");
    }
}

//! From prompts and a duration to what the DiT attends to, as the reference's conditioners do
//! it: the prompt's T5Gemma tokens (no BOS or EOS, padded to the encoder's length, padded
//! positions replaced by a learnt padding embedding), then one duration token; the duration's
//! embedding is also the global vector.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use tokenizers::Tokenizer;

use super::duration::DurationEmbedder;
use super::error::{Result, StableAudioError};
use super::t5gemma::{T5GemmaConfig, T5GemmaEncoder};

/// The prompt length Stable Audio 3's config asks of the text encoder.
pub const MAX_PROMPT_TOKENS: usize = 256;
/// Gemma's padding id.
const PAD_ID: u32 = 0;

/// The DiT's conditioning for a batch: `context` `[B, tokens + 1, width]`, `global` `[B, width]`.
pub struct Conditioned {
    pub context: Tensor,
    pub global: Tensor,
}

/// The text encoder, kept loaded or loaded for each use.
pub enum TextEncoder {
    Resident(T5GemmaEncoder),
    /// Loaded from its (mapped) weights for each batch of prompts and dropped after: T5Gemma
    /// is 1.1 GB in f32, needed once per generation, and the DiT's sampling that follows is
    /// when memory peaks.
    OnDemand {
        config: T5GemmaConfig,
        softcap: bool,
        weights: VarBuilder<'static>,
    },
}

impl TextEncoder {
    fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        Ok(match self {
            TextEncoder::Resident(encoder) => encoder.forward(ids, mask)?,
            TextEncoder::OnDemand {
                config,
                softcap,
                weights,
            } => T5GemmaEncoder::load(config, *softcap, weights.clone())?.forward(ids, mask)?,
        })
    }
}

pub struct PromptConditioner {
    tokenizer: Tokenizer,
    encoder: TextEncoder,
    padding_embedding: Tensor,
    duration: DurationEmbedder,
    max_tokens: usize,
    device: Device,
}

impl PromptConditioner {
    /// `tokenizer_file`: T5Gemma's `tokenizer.json`; `vb` at the checkpoint's root
    /// (`conditioner.conditioners.*`).
    pub fn load(
        tokenizer_file: &Path,
        encoder: TextEncoder,
        width: usize,
        max_tokens: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let tokenizer =
            Tokenizer::from_file(tokenizer_file).map_err(|e| StableAudioError::Config {
                path: tokenizer_file.to_path_buf(),
                message: format!("not a tokenizer.json: {e}"),
            })?;
        let conditioners = vb.pp("conditioner.conditioners");
        Ok(Self {
            tokenizer,
            encoder,
            padding_embedding: conditioners
                .get(width, "prompt.padding_embedding")?
                .to_dtype(DType::F32)?,
            duration: DurationEmbedder::load(width, conditioners.pp("seconds_total"))?,
            max_tokens,
            device: vb.device().clone(),
        })
    }

    /// Token ids `[B, max_tokens]` and the mask of real tokens, or an error naming the prompt
    /// that does not fit (the reference would cut it silently).
    fn tokenize(&self, prompts: &[&str]) -> Result<(Tensor, Tensor)> {
        let mut ids = Vec::with_capacity(prompts.len() * self.max_tokens);
        let mut mask = Vec::with_capacity(prompts.len() * self.max_tokens);
        for prompt in prompts {
            let encoding = self.tokenizer.encode(*prompt, false).map_err(|e| {
                StableAudioError::Prompt(format!("could not tokenize \"{prompt}\": {e}"))
            })?;
            let tokens = encoding.get_ids();
            if tokens.len() > self.max_tokens {
                return Err(StableAudioError::Prompt(format!(
                    "the prompt \"{}\" is {} tokens long; the text encoder takes at most {}: shorten it",
                    ellipsis(prompt),
                    tokens.len(),
                    self.max_tokens
                )));
            }
            ids.extend_from_slice(tokens);
            ids.resize(ids.len() + self.max_tokens - tokens.len(), PAD_ID);
            mask.extend(std::iter::repeat_n(1u32, tokens.len()));
            mask.extend(std::iter::repeat_n(0u32, self.max_tokens - tokens.len()));
        }
        let shape = (prompts.len(), self.max_tokens);
        Ok((
            Tensor::from_vec(ids, shape, &self.device)?,
            Tensor::from_vec(mask, shape, &self.device)?,
        ))
    }

    /// One row per prompt, each with the duration `seconds` of its music.
    pub fn condition(&self, prompts: &[&str], seconds: &[f32]) -> Result<Conditioned> {
        if prompts.len() != seconds.len() {
            return Err(StableAudioError::Prompt(format!(
                "{} prompts for {} durations",
                prompts.len(),
                seconds.len()
            )));
        }
        let (ids, mask) = self.tokenize(prompts)?;
        let hidden = self.encoder.forward(&ids, &mask)?;
        let (b, tokens, width) = hidden.dims3()?;
        let real = mask
            .to_dtype(DType::U8)?
            .unsqueeze(2)?
            .broadcast_as((b, tokens, width))?;
        let padding = self.padding_embedding.broadcast_as((b, tokens, width))?;
        let prompt = real.where_cond(&hidden, &padding)?;
        let duration = self.duration.forward(seconds)?.to_dtype(DType::F32)?;
        Ok(Conditioned {
            context: Tensor::cat(&[&prompt, &duration.unsqueeze(1)?], 1)?,
            global: duration,
        })
    }
}

/// The start of a long prompt, for messages.
fn ellipsis(prompt: &str) -> String {
    const SHOWN: usize = 60;
    match prompt.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &prompt[..cut]),
        None => prompt.to_string(),
    }
}

//! The CLIP text encoder: prompts to the last hidden states the UNet attends to.

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::clip::text_model::{ClipTextConfig, ClipTextTransformer};

use super::error::{Result, RiffusionError};
use super::tokenizer::ClipTokenizer;

pub struct TextEncoder {
    model: ClipTextTransformer,
    tokenizer: ClipTokenizer,
    device: Device,
}

impl TextEncoder {
    pub fn load(
        config: &ClipTextConfig,
        tokenizer: ClipTokenizer,
        weights: &[PathBuf],
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let weights_error = |source| RiffusionError::Weights {
            component: "text encoder",
            source,
        };
        let vb = crate::weights::var_builder(weights, dtype, device).map_err(weights_error)?;
        // Checkpoints saved by transformers before 5 name the weights `text_model.…`; version 5
        // saves them without that prefix (and so do fine-tunes made with it).
        let vb = if vb.contains_tensor("text_model.embeddings.token_embedding.weight") {
            vb.pp("text_model")
        } else {
            vb
        };
        let model = ClipTextTransformer::new(vb, config).map_err(weights_error)?;
        Ok(Self {
            model,
            tokenizer,
            device: device.clone(),
        })
    }

    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    /// Hidden states of token ids, (batch, max_len, hidden), in the model's dtype.
    pub fn encode_ids(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        let rows = ids.len();
        let cols = self.tokenizer.max_len();
        if ids.iter().any(|r| r.len() != cols) {
            return Err(RiffusionError::Request(format!(
                "token rows must have {cols} ids"
            )));
        }
        let flat: Vec<u32> = ids.iter().flatten().copied().collect();
        let ids = Tensor::from_vec(flat, (rows, cols), &self.device)?;
        Ok(self.model.forward_with_mask(&ids, usize::MAX)?)
    }

    /// Hidden states of prompts, (batch, max_len, hidden).
    pub fn encode(&self, prompts: &[&str]) -> Result<Tensor> {
        let ids = prompts
            .iter()
            .map(|p| self.tokenizer.encode(p))
            .collect::<Result<Vec<_>>>()?;
        self.encode_ids(&ids)
    }
}

//! The DiT's part of the published `model_config.json` (`model.diffusion.config`), with the
//! reference's defaults for what it leaves out. Variants of the architecture this port does not
//! implement (patching, prepend conditioning, other norms) are refused by name.

use std::path::Path;

use serde::Deserialize;

use super::error::{read_json, Result, StableAudioError};

/// The diffusion transformer's sizes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DitConfig {
    pub io_channels: usize,
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
    /// Width of the cross-attention tokens (T5Gemma's 768 and the duration's).
    pub cond_token_dim: usize,
    /// Width of the global conditioning (the duration's embedding).
    pub global_cond_dim: usize,
    /// Channels of the per-frame additive conditioning: the inpaint mask plus masked latents.
    #[serde(default)]
    pub local_add_cond_dim: usize,
    #[serde(default = "default_timestep_features_dim")]
    pub timestep_features_dim: usize,
    #[serde(default)]
    pub num_memory_tokens: usize,
    #[serde(default)]
    ff_kwargs: FeedForwardConfig,
    #[serde(default = "one")]
    patch_size: usize,
    #[serde(default = "default_global_cond_type")]
    global_cond_type: String,
    #[serde(default = "default_timestep_features_type")]
    timestep_features_type: String,
    #[serde(default = "default_timestep_cond_type")]
    timestep_cond_type: String,
    #[serde(default)]
    timestep_features_logsnr: bool,
    #[serde(default)]
    attn_kwargs: AttentionConfig,
    #[serde(default = "default_norm_type")]
    norm_type: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
struct FeedForwardConfig {
    #[serde(default = "default_ff_mult")]
    mult: usize,
}

impl Default for FeedForwardConfig {
    fn default() -> Self {
        Self {
            mult: default_ff_mult(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
struct AttentionConfig {
    #[serde(default)]
    qk_norm: Option<String>,
    #[serde(default)]
    differential: bool,
}

fn default_timestep_features_dim() -> usize {
    256
}
fn one() -> usize {
    1
}
fn default_ff_mult() -> usize {
    4
}
fn default_global_cond_type() -> String {
    "prepend".into()
}
fn default_timestep_features_type() -> String {
    "learned".into()
}
fn default_timestep_cond_type() -> String {
    "global".into()
}
fn default_norm_type() -> String {
    "layer_norm".into()
}

impl DitConfig {
    /// Stable Audio 3 Small (music and sfx): the constants the reference's MLX port states.
    pub fn small() -> Self {
        Self {
            io_channels: 256,
            embed_dim: 1024,
            depth: 20,
            num_heads: 16,
            cond_token_dim: 768,
            global_cond_dim: 768,
            local_add_cond_dim: 257,
            timestep_features_dim: 256,
            num_memory_tokens: 64,
            ff_kwargs: FeedForwardConfig::default(),
            patch_size: 1,
            global_cond_type: "adaLN".into(),
            timestep_features_type: "expo".into(),
            timestep_cond_type: "global".into(),
            timestep_features_logsnr: false,
            attn_kwargs: AttentionConfig {
                qk_norm: Some("rms".into()),
                differential: false,
            },
            norm_type: "rms_norm".into(),
        }
    }

    /// Reads `model.diffusion.config` of a `model_config.json`.
    pub fn from_model_config(path: &Path) -> Result<Self> {
        let invalid = |message: String| StableAudioError::config(path, message);
        let json = read_json(path)?;
        let dit = json
            .pointer("/model/diffusion/config")
            .ok_or_else(|| invalid("it has no model.diffusion.config".into()))?;
        let config: Self = serde_json::from_value(dit.clone())
            .map_err(|e| invalid(format!("model.diffusion.config: {e}")))?;
        config.check().map_err(invalid)?;
        Ok(config)
    }

    /// The architecture variants this port runs; anything else is named.
    fn check(&self) -> std::result::Result<(), String> {
        let expect = |what: &str, found: &str, wanted: &str| {
            (found == wanted)
                .then_some(())
                .ok_or_else(|| format!("{what} is \"{found}\"; this port supports \"{wanted}\""))
        };
        expect("global_cond_type", &self.global_cond_type, "adaLN")?;
        expect(
            "timestep_features_type",
            &self.timestep_features_type,
            "expo",
        )?;
        expect("timestep_cond_type", &self.timestep_cond_type, "global")?;
        expect("norm_type", &self.norm_type, "rms_norm")?;
        expect(
            "attn_kwargs.qk_norm",
            self.attn_kwargs.qk_norm.as_deref().unwrap_or("none"),
            "rms",
        )?;
        if self.patch_size != 1 {
            return Err(format!(
                "patch_size is {}; this port supports 1",
                self.patch_size
            ));
        }
        if self.timestep_features_logsnr {
            return Err("timestep_features_logsnr is set; this port feeds the raw timestep".into());
        }
        if self.attn_kwargs.differential {
            return Err("the DiT's attention is differential (the medium model); this port runs the small one".into());
        }
        if self.num_heads == 0 || !self.embed_dim.is_multiple_of(self.num_heads) {
            return Err(format!(
                "{} heads do not divide embed_dim {}",
                self.num_heads, self.embed_dim
            ));
        }
        if self.local_add_cond_dim != 0 && self.local_add_cond_dim != self.io_channels + 1 {
            return Err(format!(
                "local_add_cond_dim is {}; the inpaint inputs are a mask and {} latent channels",
                self.local_add_cond_dim, self.io_channels
            ));
        }
        Ok(())
    }

    pub fn head_dim(&self) -> usize {
        self.embed_dim / self.num_heads
    }

    /// Dimensions of each head that RoPE rotates: half the head, at least 32 (the reference's
    /// `RotaryEmbedding(max(dim_heads // 2, 32))`).
    pub fn rotary_dim(&self) -> usize {
        (self.head_dim() / 2).max(32)
    }

    pub fn ff_inner(&self) -> usize {
        self.embed_dim * self.ff_kwargs.mult
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(json: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), json).unwrap();
        file
    }

    #[test]
    fn the_small_model_has_the_published_sizes() {
        let c = DitConfig::small();
        assert_eq!((c.head_dim(), c.rotary_dim(), c.ff_inner()), (64, 32, 4096));
        assert!(c.check().is_ok());
    }

    #[test]
    fn reads_the_diffusion_config_and_names_unsupported_variants() {
        let config = r#"{"model": {"diffusion": {"config": {
            "io_channels": 16, "embed_dim": 128, "depth": 2, "num_heads": 2,
            "cond_token_dim": 32, "global_cond_dim": 32, "local_add_cond_dim": 17,
            "global_cond_type": "adaLN", "timestep_features_type": "expo",
            "num_memory_tokens": 8, "attn_kwargs": {"qk_norm": "rms"}, "norm_type": "rms_norm"}}}}"#;
        let file = write(config);
        let c = DitConfig::from_model_config(file.path()).unwrap();
        assert_eq!(
            (c.embed_dim, c.depth, c.num_memory_tokens, c.rotary_dim()),
            (128, 2, 8, 32)
        );

        let differential = write(&config.replace(
            r#""qk_norm": "rms""#,
            r#""qk_norm": "rms", "differential": true"#,
        ));
        let err = DitConfig::from_model_config(differential.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("differential"), "{err}");
        let prepend = write(&config.replace(r#""adaLN""#, r#""prepend""#));
        let err = DitConfig::from_model_config(prepend.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("global_cond_type is \"prepend\""), "{err}");
        let no_dit = write(r#"{"model": {}}"#);
        let err = DitConfig::from_model_config(no_dit.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no model.diffusion.config"), "{err}");
    }
}

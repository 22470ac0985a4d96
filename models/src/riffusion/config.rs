//! The diffusers `config.json` files of the UNet, the VAE and the text encoder, and the
//! scheduler's `scheduler_config.json`, turned into candle's configs. Keys this code does not
//! implement are rejected when they hold anything but the SD 1.5 value, so a model of another
//! architecture fails with a clear message instead of loading wrong.

use std::path::Path;

use candle_transformers::models::clip::text_model::{Activation, ClipTextConfig};
use candle_transformers::models::stable_diffusion::unet_2d::{
    BlockConfig, UNet2DConditionModelConfig,
};
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKLConfig;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::error::{Result, RiffusionError};

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| RiffusionError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| RiffusionError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn bad(path: &Path, message: impl Into<String>) -> RiffusionError {
    RiffusionError::Config {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Fails unless `key` is absent or null, or equals one of `allowed`.
fn require(
    path: &Path,
    extra: &serde_json::Map<String, Value>,
    key: &str,
    allowed: &[Value],
) -> Result<()> {
    match extra.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(v) if allowed.contains(v) => Ok(()),
        Some(v) => Err(bad(
            path,
            format!(
                "{key} = {v} is not supported (Stable Diffusion 1.5 uses {})",
                allowed.first().map_or("null".into(), |a| a.to_string())
            ),
        )),
    }
}

/// A number or a per-block list (diffusers accepts both for head counts).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum PerBlock {
    One(usize),
    Each(Vec<usize>),
}

impl PerBlock {
    fn get(&self, i: usize) -> Option<usize> {
        match self {
            PerBlock::One(v) => Some(*v),
            PerBlock::Each(v) => v.get(i).copied(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
struct UNetJson {
    #[serde(default = "four")]
    in_channels: usize,
    #[serde(default = "four")]
    out_channels: usize,
    #[serde(default)]
    center_input_sample: bool,
    #[serde(default = "yes")]
    flip_sin_to_cos: bool,
    #[serde(default)]
    freq_shift: f64,
    down_block_types: Vec<String>,
    up_block_types: Vec<String>,
    block_out_channels: Vec<usize>,
    #[serde(default = "two")]
    layers_per_block: usize,
    #[serde(default = "one")]
    downsample_padding: usize,
    #[serde(default = "one_f")]
    mid_block_scale_factor: f64,
    #[serde(default = "thirty_two")]
    norm_num_groups: usize,
    #[serde(default = "eps5")]
    norm_eps: f64,
    cross_attention_dim: usize,
    #[serde(default = "eight_heads")]
    attention_head_dim: PerBlock,
    #[serde(default)]
    num_attention_heads: Option<PerBlock>,
    #[serde(default)]
    use_linear_projection: bool,
    #[serde(default = "one_per_block")]
    transformer_layers_per_block: PerBlock,
    #[serde(flatten)]
    extra: serde_json::Map<String, Value>,
}

fn four() -> usize {
    4
}
fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn thirty_two() -> usize {
    32
}
fn yes() -> bool {
    true
}
fn one_f() -> f64 {
    1.0
}
fn eps5() -> f64 {
    1e-5
}
fn eight_heads() -> PerBlock {
    PerBlock::One(8)
}
fn one_per_block() -> PerBlock {
    PerBlock::One(1)
}

/// The UNet as candle builds it, with its channel counts.
#[derive(Clone, Debug)]
pub struct UNetSettings {
    pub in_channels: usize,
    pub out_channels: usize,
    pub config: UNet2DConditionModelConfig,
}

impl UNetSettings {
    pub fn from_file(path: &Path) -> Result<Self> {
        let j: UNetJson = read_json(path)?;
        let s = |v: &str| Value::String(v.into());
        require(path, &j.extra, "act_fn", &[s("silu")])?;
        require(
            path,
            &j.extra,
            "mid_block_type",
            &[s("UNetMidBlock2DCrossAttn")],
        )?;
        require(path, &j.extra, "time_embedding_type", &[s("positional")])?;
        require(path, &j.extra, "resnet_time_scale_shift", &[s("default")])?;
        require(path, &j.extra, "class_embed_type", &[])?;
        require(path, &j.extra, "addition_embed_type", &[])?;
        require(path, &j.extra, "time_cond_proj_dim", &[])?;
        require(path, &j.extra, "encoder_hid_dim", &[])?;
        require(
            path,
            &j.extra,
            "only_cross_attention",
            &[Value::Bool(false)],
        )?;
        require(
            path,
            &j.extra,
            "dual_cross_attention",
            &[Value::Bool(false)],
        )?;
        require(path, &j.extra, "upcast_attention", &[Value::Bool(false)])?;
        require(path, &j.extra, "conv_in_kernel", &[3.into()])?;
        require(path, &j.extra, "conv_out_kernel", &[3.into()])?;
        let n = j.block_out_channels.len();
        if n == 0 || j.down_block_types.len() != n || j.up_block_types.len() != n {
            return Err(bad(path, "block_out_channels, down_block_types and up_block_types must have the same, non-zero length"));
        }
        // diffusers' historical naming: `attention_head_dim` holds the number of heads unless
        // `num_attention_heads` is given; candle's `attention_head_dim` is that head count.
        let heads = j
            .num_attention_heads
            .clone()
            .unwrap_or(j.attention_head_dim.clone());
        let mut blocks = Vec::with_capacity(n);
        for (i, kind) in j.down_block_types.iter().enumerate() {
            let up = &j.up_block_types[n - 1 - i];
            let cross = match (kind.as_str(), up.as_str()) {
                ("CrossAttnDownBlock2D", "CrossAttnUpBlock2D") => true,
                ("DownBlock2D", "UpBlock2D") => false,
                _ => return Err(bad(path, format!("down block {i} \"{kind}\" with up block \"{up}\" is not supported (CrossAttnDownBlock2D/CrossAttnUpBlock2D or DownBlock2D/UpBlock2D, mirrored)"))),
            };
            let head_count = heads
                .get(i)
                .ok_or_else(|| bad(path, "attention_head_dim has fewer entries than blocks"))?;
            let out_channels = j.block_out_channels[i];
            if head_count == 0
                || !out_channels.is_multiple_of(head_count)
                || !out_channels.is_multiple_of(j.norm_num_groups)
            {
                return Err(bad(path, format!("block {i}: {out_channels} channels do not split into {head_count} heads and {} groups", j.norm_num_groups)));
            }
            let layers = j.transformer_layers_per_block.get(i).unwrap_or(1);
            blocks.push(BlockConfig {
                out_channels,
                use_cross_attn: cross.then_some(layers),
                attention_head_dim: head_count,
            });
        }
        if blocks.last().is_some_and(|b| b.use_cross_attn.is_some()) {
            return Err(bad(
                path,
                "the last down block must be a DownBlock2D (as in SD 1.5)",
            ));
        }
        Ok(Self {
            in_channels: j.in_channels,
            out_channels: j.out_channels,
            config: UNet2DConditionModelConfig {
                center_input_sample: j.center_input_sample,
                flip_sin_to_cos: j.flip_sin_to_cos,
                freq_shift: j.freq_shift,
                blocks,
                layers_per_block: j.layers_per_block,
                downsample_padding: j.downsample_padding,
                mid_block_scale_factor: j.mid_block_scale_factor,
                norm_num_groups: j.norm_num_groups,
                norm_eps: j.norm_eps,
                cross_attention_dim: j.cross_attention_dim,
                sliced_attention_size: None,
                use_linear_projection: j.use_linear_projection,
            },
        })
    }
}

#[derive(Clone, Debug, Deserialize)]
struct VaeJson {
    #[serde(default = "three")]
    in_channels: usize,
    #[serde(default = "three")]
    out_channels: usize,
    block_out_channels: Vec<usize>,
    #[serde(default = "one")]
    layers_per_block: usize,
    #[serde(default = "four")]
    latent_channels: usize,
    #[serde(default = "thirty_two")]
    norm_num_groups: usize,
    #[serde(default = "sd_scaling")]
    scaling_factor: f64,
    #[serde(default = "yes")]
    use_quant_conv: bool,
    #[serde(default = "yes")]
    use_post_quant_conv: bool,
    #[serde(flatten)]
    extra: serde_json::Map<String, Value>,
}

fn three() -> usize {
    3
}
fn sd_scaling() -> f64 {
    0.18215
}

/// The VAE as candle builds it, with the latent scaling factor.
#[derive(Clone, Debug)]
pub struct VaeSettings {
    pub in_channels: usize,
    pub out_channels: usize,
    pub scaling_factor: f64,
    pub config: AutoEncoderKLConfig,
}

impl VaeSettings {
    pub fn from_file(path: &Path) -> Result<Self> {
        let j: VaeJson = read_json(path)?;
        let s = |v: &str| Value::String(v.into());
        require(path, &j.extra, "act_fn", &[s("silu")])?;
        require(path, &j.extra, "shift_factor", &[])?;
        require(
            path,
            &j.extra,
            "mid_block_add_attention",
            &[Value::Bool(true)],
        )?;
        for key in ["down_block_types", "up_block_types"] {
            if let Some(Value::Array(kinds)) = j.extra.get(key) {
                let want = if key == "down_block_types" {
                    "DownEncoderBlock2D"
                } else {
                    "UpDecoderBlock2D"
                };
                if kinds.len() != j.block_out_channels.len() || kinds.iter().any(|k| k != want) {
                    return Err(bad(path, format!("{key} must be {want} for every block")));
                }
            }
        }
        if j.block_out_channels.is_empty()
            || j.block_out_channels
                .iter()
                .any(|c| c % j.norm_num_groups != 0)
        {
            return Err(bad(
                path,
                "block_out_channels must be non-empty multiples of norm_num_groups",
            ));
        }
        Ok(Self {
            in_channels: j.in_channels,
            out_channels: j.out_channels,
            scaling_factor: j.scaling_factor,
            config: AutoEncoderKLConfig {
                block_out_channels: j.block_out_channels,
                layers_per_block: j.layers_per_block,
                latent_channels: j.latent_channels,
                norm_num_groups: j.norm_num_groups,
                use_quant_conv: j.use_quant_conv,
                use_post_quant_conv: j.use_post_quant_conv,
            },
        })
    }

    /// Pixels per latent cell along each axis (8 for SD 1.5).
    pub fn downscale(&self) -> usize {
        1 << (self.config.block_out_channels.len() - 1)
    }
}

#[derive(Clone, Debug, Deserialize)]
struct ClipJson {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default = "seventy_seven")]
    max_position_embeddings: usize,
    #[serde(default = "quick_gelu")]
    hidden_act: String,
    #[serde(default = "eps5")]
    layer_norm_eps: f64,
    #[serde(default)]
    projection_dim: Option<usize>,
}

fn seventy_seven() -> usize {
    77
}
fn quick_gelu() -> String {
    "quick_gelu".into()
}

/// The CLIP text encoder's config.
pub fn clip_config(path: &Path) -> Result<ClipTextConfig> {
    let j: ClipJson = read_json(path)?;
    if j.hidden_act != "quick_gelu" {
        return Err(bad(
            path,
            format!(
                "hidden_act \"{}\" is not supported (SD 1.5's CLIP uses quick_gelu)",
                j.hidden_act
            ),
        ));
    }
    if (j.layer_norm_eps - 1e-5).abs() > 1e-12 {
        return Err(bad(path, "layer_norm_eps must be 1e-5"));
    }
    if j.num_attention_heads == 0 || !j.hidden_size.is_multiple_of(j.num_attention_heads) {
        return Err(bad(
            path,
            "hidden_size must be a multiple of num_attention_heads",
        ));
    }
    Ok(ClipTextConfig {
        vocab_size: j.vocab_size,
        embed_dim: j.hidden_size,
        activation: Activation::QuickGelu,
        intermediate_size: j.intermediate_size,
        max_position_embeddings: j.max_position_embeddings,
        pad_with: None,
        num_hidden_layers: j.num_hidden_layers,
        num_attention_heads: j.num_attention_heads,
        projection_dim: j.projection_dim.unwrap_or(j.hidden_size),
    })
}

/// The noise schedule of `scheduler_config.json` (shared by every scheduler we build from it).
#[derive(Clone, Debug, Deserialize)]
pub struct ScheduleConfig {
    #[serde(default = "thousand")]
    pub num_train_timesteps: usize,
    #[serde(default = "beta_start")]
    pub beta_start: f64,
    #[serde(default = "beta_end")]
    pub beta_end: f64,
    #[serde(default = "scaled_linear")]
    pub beta_schedule: String,
    #[serde(default)]
    pub steps_offset: usize,
    #[serde(default)]
    pub set_alpha_to_one: bool,
    #[serde(default = "epsilon")]
    pub prediction_type: String,
    /// `leading`, `linspace` or `trailing`; absent: each scheduler's own default.
    #[serde(default)]
    pub timestep_spacing: Option<String>,
    #[serde(default)]
    pub trained_betas: Option<Vec<f64>>,
}

fn thousand() -> usize {
    1000
}
fn beta_start() -> f64 {
    0.00085
}
fn beta_end() -> f64 {
    0.012
}
fn scaled_linear() -> String {
    "scaled_linear".into()
}
fn epsilon() -> String {
    "epsilon".into()
}

impl ScheduleConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let c: Self = read_json(path)?;
        if c.prediction_type != "epsilon" {
            return Err(bad(
                path,
                format!(
                    "prediction_type \"{}\" is not supported (epsilon only)",
                    c.prediction_type
                ),
            ));
        }
        if !matches!(c.beta_schedule.as_str(), "scaled_linear" | "linear")
            && c.trained_betas.is_none()
        {
            return Err(bad(
                path,
                format!("beta_schedule \"{}\" is not supported", c.beta_schedule),
            ));
        }
        if let Some(s) = &c.timestep_spacing {
            if !matches!(s.as_str(), "leading" | "linspace" | "trailing") {
                return Err(bad(
                    path,
                    format!("timestep_spacing \"{s}\" is not supported"),
                ));
            }
        }
        if c.num_train_timesteps < 2 {
            return Err(bad(path, "num_train_timesteps must be at least 2"));
        }
        Ok(c)
    }

    /// SD 1.5's schedule (riffusion's scheduler_config.json).
    pub fn sd15() -> Self {
        Self {
            num_train_timesteps: 1000,
            beta_start: beta_start(),
            beta_end: beta_end(),
            beta_schedule: scaled_linear(),
            steps_offset: 1,
            set_alpha_to_one: false,
            prediction_type: epsilon(),
            timestep_spacing: None,
            trained_betas: None,
        }
    }

    /// Cumulative products of `1 - beta`, computed in f64.
    pub fn alphas_cumprod(&self) -> Vec<f64> {
        let n = self.num_train_timesteps;
        let betas: Vec<f64> = match (&self.trained_betas, self.beta_schedule.as_str()) {
            (Some(b), _) => b.clone(),
            (None, "linear") => (0..n)
                .map(|i| {
                    self.beta_start + (self.beta_end - self.beta_start) * i as f64 / (n - 1) as f64
                })
                .collect(),
            _ => {
                let (a, b) = (self.beta_start.sqrt(), self.beta_end.sqrt());
                (0..n)
                    .map(|i| (a + (b - a) * i as f64 / (n - 1) as f64).powi(2))
                    .collect()
            }
        };
        let mut product = 1.0;
        betas
            .iter()
            .map(|beta| {
                product *= 1.0 - beta;
                product
            })
            .collect()
    }
}

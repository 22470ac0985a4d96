//! Loading Riffusion's components from a diffusers folder (`unet/`, `vae/`, `text_encoder/`,
//! `tokenizer/`, `scheduler/`): configs from their JSON files, weights as safetensors (`.bin`
//! converted once by the weights module).

use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};

use super::batching::{in_slices, rows_per_call, unet_row_bytes, SliceLimit, UNET_GPU_MAX_ROWS};
use super::config::{clip_config, ScheduleConfig, UNetSettings, VaeSettings};
use super::error::{Result, RiffusionError};
use super::text_encoder::TextEncoder;
use super::tokenizer::ClipTokenizer;
use super::unet::UNet;
use super::vae::Vae;
use crate::device::ComputeDevice;
use crate::weights::{ensure_safetensors, locate_named, ResolvedModel, WeightsConfig};

/// The catalogue name of Riffusion's weights.
pub const MODEL_NAME: &str = "riffusion";

/// The loaded model: every component on one device, in the device's dtype.
/// UNet rows per call on the CPU (one guided candidate: its unconditional and prompted rows).
pub const CPU_UNET_ROWS: usize = 2;

pub struct RiffusionModel {
    pub text_encoder: TextEncoder,
    pub unet: UNet,
    pub unet_settings: UNetSettings,
    pub vae: Vae,
    pub schedule: ScheduleConfig,
    pub device: ComputeDevice,
    /// The UNet slice that fitted the GPU after an out-of-memory retry.
    unet_slices: SliceLimit,
}

/// A component's weights: `<dir>/<stem>.safetensors` if present, else `<dir>/<stem>.bin`
/// converted to safetensors.
fn component_weights(dir: &Path, stem: &str, config: &WeightsConfig) -> Result<PathBuf> {
    let safetensors = dir.join(format!("{stem}.safetensors"));
    if safetensors.is_file() {
        return Ok(safetensors);
    }
    let bin = dir.join(format!("{stem}.bin"));
    if !bin.is_file() {
        return Err(RiffusionError::Read {
            path: bin,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no .safetensors or .bin weights here",
            ),
        });
    }
    Ok(ensure_safetensors(&bin, &config.resolved_conversion_dir())?)
}

impl RiffusionModel {
    /// Finds the catalogue's `riffusion` model (models folder, then hub cache; never the
    /// network) and loads it.
    pub fn load_default(config: &WeightsConfig, device: &ComputeDevice) -> Result<Self> {
        Self::load(&locate_named(MODEL_NAME, config)?, config, device)
    }

    /// Loads a model the catalogue resolved; its `.bin` files go through the weights module's
    /// safetensors conversion.
    pub fn load(
        model: &ResolvedModel,
        config: &WeightsConfig,
        device: &ComputeDevice,
    ) -> Result<Self> {
        let unet = model.safetensors_path("unet/diffusion_pytorch_model.bin", config)?;
        let vae = model.safetensors_path("vae/diffusion_pytorch_model.bin", config)?;
        let text = model.safetensors_path("text_encoder/pytorch_model.bin", config)?;
        Self::from_parts(&model.root, &unet, &vae, &text, device)
    }

    /// Loads a diffusers folder holding safetensors or `.bin` weights.
    pub fn from_folder(
        root: &Path,
        config: &WeightsConfig,
        device: &ComputeDevice,
    ) -> Result<Self> {
        let unet = component_weights(&root.join("unet"), "diffusion_pytorch_model", config)?;
        let vae = component_weights(&root.join("vae"), "diffusion_pytorch_model", config)?;
        let text = component_weights(&root.join("text_encoder"), "model", config)
            .or_else(|_| component_weights(&root.join("text_encoder"), "pytorch_model", config))?;
        Self::from_parts(root, &unet, &vae, &text, device)
    }

    fn from_parts(
        root: &Path,
        unet: &Path,
        vae: &Path,
        text: &Path,
        device: &ComputeDevice,
    ) -> Result<Self> {
        let clip = clip_config(&root.join("text_encoder").join("config.json"))?;
        let tokenizer =
            ClipTokenizer::from_folder(&root.join("tokenizer"), clip.max_position_embeddings)?;
        let text_encoder = TextEncoder::load(
            &clip,
            tokenizer,
            &[text.to_path_buf()],
            device.dtype,
            &device.device,
        )?;
        let unet_settings = UNetSettings::from_file(&root.join("unet").join("config.json"))?;
        let unet = load_unet(&unet_settings, unet, device)?;
        let vae_settings = VaeSettings::from_file(&root.join("vae").join("config.json"))?;
        let vae = Vae::load(
            vae_settings,
            &[vae.to_path_buf()],
            device.dtype,
            &device.device,
        )?;
        let schedule_path = root.join("scheduler").join("scheduler_config.json");
        let schedule = if schedule_path.is_file() {
            ScheduleConfig::from_file(&schedule_path)?
        } else {
            ScheduleConfig::sd15()
        };
        Ok(Self {
            text_encoder,
            unet,
            unet_settings,
            vae,
            schedule,
            device: device.clone(),
            unet_slices: SliceLimit::default(),
        })
    }

    /// One UNet noise prediction for a batch at one timestep; f32 out.
    ///
    /// The batch goes through in slices (see [`batching`](super::batching)): on the CPU
    /// [`CPU_UNET_ROWS`] rows, since the first block's self-attention holds rows × heads × 4096²
    /// scores (4.3 GB per tensor at the 8 rows of four guided candidates, 13.4 GB peak RSS
    /// measured) and the CPU's time per row is the same either way; on a GPU as many rows as
    /// its free memory holds.
    pub fn predict_noise(
        &self,
        latents: &Tensor,
        timestep: f64,
        embeddings: &Tensor,
    ) -> Result<Tensor> {
        let dtype = self.device.dtype;
        let (rows, _, latent_h, latent_w) = latents.dims4()?;
        let heads = self
            .unet_settings
            .config
            .blocks
            .first()
            .map_or(8, |b| b.attention_head_dim);
        let slice = rows_per_call(
            &self.device.device,
            CPU_UNET_ROWS,
            UNET_GPU_MAX_ROWS,
            unet_row_bytes(latent_h, latent_w, heads),
            rows,
        );
        in_slices(rows, slice, &self.unet_slices, |start, len| {
            let out = self.unet.forward(
                &latents.narrow(0, start, len)?.to_dtype(dtype)?,
                timestep,
                &embeddings.narrow(0, start, len)?.to_dtype(dtype)?,
            )?;
            Ok(out.to_dtype(DType::F32)?)
        })
    }

    /// Pixels per latent cell (8 for SD 1.5).
    pub fn downscale(&self) -> usize {
        self.vae.settings().downscale()
    }

    pub fn latent_channels(&self) -> usize {
        self.unet_settings.in_channels
    }
}

fn load_unet(settings: &UNetSettings, weights: &Path, device: &ComputeDevice) -> Result<UNet> {
    let weights_error = |source| RiffusionError::Weights {
        component: "UNet",
        source,
    };
    let vb = crate::weights::var_builder(&[weights], device.dtype, &device.device)
        .map_err(weights_error)?;
    UNet::load(
        settings.in_channels,
        settings.out_channels,
        &settings.config,
        vb,
    )
    .map_err(weights_error)
}

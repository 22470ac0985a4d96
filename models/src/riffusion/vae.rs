//! The VAE: latents to images and images to latents (the mean of the latent distribution, so
//! img2img is deterministic; diffusers' `retrieve_latents(sample_mode="argmax")`).

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};

use super::autoencoder::AutoEncoder;
use super::batching::{in_slices, rows_per_call, vae_row_bytes, SliceLimit, VAE_GPU_MAX_IMAGES};
use super::config::VaeSettings;
use super::error::{Result, RiffusionError};

pub struct Vae {
    model: AutoEncoder,
    settings: VaeSettings,
    dtype: DType,
    device: Device,
    /// The slice that fitted the GPU after an out-of-memory retry.
    slices: SliceLimit,
}

impl Vae {
    pub fn load(
        settings: VaeSettings,
        weights: &[PathBuf],
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let weights_error = |source| RiffusionError::Weights {
            component: "VAE",
            source,
        };
        let vb = crate::weights::var_builder(weights, dtype, device).map_err(weights_error)?;
        let model = AutoEncoder::load(
            settings.in_channels,
            settings.out_channels,
            &settings.config,
            vb,
        )
        .map_err(weights_error)?;
        Ok(Self {
            model,
            settings,
            dtype,
            device: device.clone(),
            slices: SliceLimit::default(),
        })
    }

    pub fn settings(&self) -> &VaeSettings {
        &self.settings
    }

    /// Unscaled latents (what the UNet works on, `/ scaling_factor` already applied by the
    /// caller or not: see [`Vae::decode_latents`]) to images in [-1, 1].
    ///
    /// One image at a time on the CPU: a 512×512 decode holds several 128-channel
    /// full-resolution activations (0.13 GB each per image in f32), so four at once added
    /// gigabytes to the peak, and the work per image is the same either way. A GPU decodes as
    /// many at once as its free memory holds.
    pub fn decode_raw(&self, latents: &Tensor) -> Result<Tensor> {
        let (rows, _, h, w) = latents.dims4()?;
        let down = self.settings.downscale();
        let row_bytes = vae_row_bytes(h * down, w * down, self.dtype.size_in_bytes());
        let slice = rows_per_call(&self.device, 1, VAE_GPU_MAX_IMAGES, row_bytes, rows);
        in_slices(rows, slice, &self.slices, |start, len| {
            let part = latents.narrow(0, start, len)?.to_dtype(self.dtype)?;
            Ok(self.model.decode(&part)?.to_dtype(DType::F32)?)
        })
    }

    /// UNet latents to images in [0, 1], shape (batch, 3, height, width).
    pub fn decode_latents(&self, latents: &Tensor) -> Result<Tensor> {
        let raw = self.decode_raw(&(latents / self.settings.scaling_factor)?)?;
        Ok(((raw / 2.0)? + 0.5)?.clamp(0f32, 1f32)?)
    }

    /// Images in [-1, 1] to the mean of their latent distribution (unscaled), sliced as in
    /// decoding.
    pub fn encode_mean_raw(&self, images: &Tensor) -> Result<Tensor> {
        let (rows, _, h, w) = images.dims4()?;
        let row_bytes = vae_row_bytes(h, w, self.dtype.size_in_bytes());
        let slice = rows_per_call(&self.device, 1, VAE_GPU_MAX_IMAGES, row_bytes, rows);
        in_slices(rows, slice, &self.slices, |start, len| {
            let part = images.narrow(0, start, len)?.to_dtype(self.dtype)?;
            Ok(self.model.encode_mean(&part)?.to_dtype(DType::F32)?)
        })
    }

    /// Images in [0, 1] to UNet latents (mean, scaled by `scaling_factor`).
    pub fn encode_latents(&self, images: &Tensor) -> Result<Tensor> {
        let raw = self.encode_mean_raw(&((images * 2.0)? - 1.0)?)?;
        Ok((raw * self.settings.scaling_factor)?)
    }
}

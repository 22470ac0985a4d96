//! The VAE: latents to images and images to latents (the mean of the latent distribution, so
//! img2img is deterministic; diffusers' `retrieve_latents(sample_mode="argmax")`).

use std::path::PathBuf;

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKL;

use super::batching::{in_slices, rows_per_call, vae_row_bytes, SliceLimit};
use super::config::VaeSettings;
use super::error::{Result, RiffusionError};
use crate::weights::ReleasingSafetensors;

/// candle's `encode` returns a distribution whose mean is private and whose `sample` draws from
/// candle's unseeded generator. This backend serves `quant_conv` with the log-variance half
/// zeroed and biased to -1e4, so the standard deviation is exactly 0 and `sample()` is the mean.
/// `quant_conv` is used by `encode` only, so decoding is unaffected.
struct MeanEncoding {
    inner: ReleasingSafetensors,
    latent_channels: usize,
}

impl MeanEncoding {
    fn adjust(&self, name: &str, tensor: Tensor) -> candle_core::Result<Tensor> {
        let c = self.latent_channels;
        match name {
            "quant_conv.weight" => {
                let mean = tensor.narrow(0, 0, c)?;
                Tensor::cat(&[mean.clone(), mean.zeros_like()?], 0)
            }
            "quant_conv.bias" => {
                let mean = tensor.narrow(0, 0, c)?;
                let floor = (mean.ones_like()? * -1e4)?;
                Tensor::cat(&[mean, floor], 0)
            }
            _ => Ok(tensor),
        }
    }
}

impl SimpleBackend for MeanEncoding {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = SimpleBackend::get(&self.inner, s, name, h, DType::F32, dev)?;
        self.adjust(name, tensor)?.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let tensor = self.inner.get_unchecked(name, DType::F32, dev)?;
        self.adjust(name, tensor)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.inner.contains_tensor(name)
    }
}

pub struct Vae {
    model: AutoEncoderKL,
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
        let inner = ReleasingSafetensors::open(weights).map_err(weights_error)?;
        let backend = MeanEncoding {
            inner,
            latent_channels: settings.config.latent_channels,
        };
        let vb = VarBuilder::from_backend(Box::new(backend), dtype, device.clone());
        let model = AutoEncoderKL::new(
            vb,
            settings.in_channels,
            settings.out_channels,
            settings.config.clone(),
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
        let slice = rows_per_call(&self.device, 1, row_bytes, rows);
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
        let slice = rows_per_call(&self.device, 1, row_bytes, rows);
        in_slices(rows, slice, &self.slices, |start, len| {
            let part = images.narrow(0, start, len)?.to_dtype(self.dtype)?;
            Ok(self.model.encode(&part)?.sample()?.to_dtype(DType::F32)?)
        })
    }

    /// Images in [0, 1] to UNet latents (mean, scaled by `scaling_factor`).
    pub fn encode_latents(&self, images: &Tensor) -> Result<Tensor> {
        let raw = self.encode_mean_raw(&((images * 2.0)? - 1.0)?)?;
        Ok((raw * self.settings.scaling_factor)?)
    }
}

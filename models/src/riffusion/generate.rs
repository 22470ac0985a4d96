//! Text-to-image and image-to-image for a batch of candidates: every candidate's rows go through
//! one UNet call per step (2 × candidates rows with classifier-free guidance).

use candle_core::{DType, Device, Tensor};
use image::RgbImage;

use super::error::{Result, RiffusionError};
use super::interpolate::{lerp, slerp};
use super::model::RiffusionModel;
use super::rng::seeded_noise;
use super::scheduler::{Scheduler, SchedulerKind};
use crate::task::{CancelToken, Progress};

/// Riffusion's spectrogram images are 512 pixels tall (512 mel bins).
pub const DEFAULT_HEIGHT: usize = 512;
/// 512 columns are 5.12 s of audio; wider images give longer clips.
pub const DEFAULT_WIDTH: usize = 512;

/// One candidate of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateRequest {
    pub prompt: String,
    pub seed: u64,
    /// Morph toward another prompt and seed.
    pub toward: Option<Morph>,
}

impl CandidateRequest {
    pub fn new(prompt: impl Into<String>, seed: u64) -> Self {
        Self {
            prompt: prompt.into(),
            seed,
            toward: None,
        }
    }
}

/// Prompt interpolation: the text embeddings are lerped and the initial noise slerped from the
/// candidate's (prompt, seed) toward these by `alpha` (0: the candidate's own, 1: these).
#[derive(Clone, Debug, PartialEq)]
pub struct Morph {
    pub prompt: String,
    pub seed: u64,
    pub alpha: f64,
}

/// Settings shared by the candidates of a batch.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub negative_prompt: String,
    pub steps: usize,
    pub width: usize,
    pub height: usize,
    pub guidance_scale: f64,
    pub scheduler: SchedulerKind,
    /// Image-to-image: start from these images (one for all candidates, or one each).
    pub init: Option<InitImages>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            negative_prompt: String::new(),
            steps: SchedulerKind::default().default_steps(),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            guidance_scale: 7.0,
            scheduler: SchedulerKind::default(),
            init: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct InitImages {
    pub images: Vec<RgbImage>,
    /// How much of the schedule to run: 1.0 ignores the image, 0.0 returns it.
    pub strength: f64,
}

/// A denoising run on prepared tensors (what [`generate`] builds from prompts and seeds).
pub struct DenoiseInputs<'a> {
    /// Prompt embeddings, (n, tokens, hidden).
    pub cond: &'a Tensor,
    /// Negative-prompt embeddings, (1 or n, tokens, hidden).
    pub uncond: &'a Tensor,
    /// Initial noise, (n, channels, h, w).
    pub noise: &'a Tensor,
    /// Clean image latents and the strength for image-to-image.
    pub init: Option<(&'a Tensor, f64)>,
    pub scheduler: SchedulerKind,
    pub steps: usize,
    pub guidance_scale: f64,
    /// Clean latents the left columns must keep (continuing a previous clip): (n, c, h, k).
    pub keep_left: Option<&'a Tensor>,
}

/// The denoising loop; returns the final latents (f32, on the model's device).
pub fn denoise(
    model: &RiffusionModel,
    inputs: &DenoiseInputs,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<Tensor> {
    let n = inputs.noise.dim(0)?;
    let mut scheduler = Scheduler::new(inputs.scheduler, &model.schedule, inputs.steps)?;
    let guided = inputs.guidance_scale > 1.0;
    let embeddings = if guided {
        let uncond = if inputs.uncond.dim(0)? == n {
            inputs.uncond.clone()
        } else {
            inputs.uncond.repeat((n, 1, 1))?
        };
        Tensor::cat(&[&uncond, inputs.cond], 0)?
    } else {
        inputs.cond.clone()
    };
    let start = match inputs.init {
        Some((_, strength)) if !(0.0..=1.0).contains(&strength) => {
            return Err(RiffusionError::Request(format!(
                "strength must be between 0 and 1, not {strength}"
            )))
        }
        Some((_, strength)) => scheduler.start_index(strength),
        None => 0,
    };
    let total = scheduler.timesteps().len();
    let mut latents = match inputs.init {
        Some((init, _)) if start < total => scheduler.add_noise(init, inputs.noise, start)?,
        Some((init, _)) => init.clone(),
        None => inputs.noise.clone(),
    };
    let keep = match inputs.keep_left {
        Some(strip) => {
            let k = strip.dim(3)?;
            Some((strip, k, inputs.noise.narrow(3, 0, k)?))
        }
        None => None,
    };
    let replace_left = |latents: &Tensor, level: (f64, f64)| -> Result<Tensor> {
        match &keep {
            Some((strip, k, noise)) => {
                let noised = Scheduler::noise_to(strip, noise, level)?;
                let w = latents.dim(3)?;
                Ok(Tensor::cat(&[&noised, &latents.narrow(3, *k, w - k)?], 3)?)
            }
            None => Ok(latents.clone()),
        }
    };
    if start < total {
        latents = replace_left(&latents, scheduler.level(start))?;
    }
    progress.report(0.0);
    for index in start..total {
        if cancel.is_cancelled() {
            return Err(RiffusionError::Cancelled);
        }
        let timestep = scheduler.timesteps()[index] as f64;
        let input = if guided {
            Tensor::cat(&[&latents, &latents], 0)?
        } else {
            latents.clone()
        };
        let prediction = model.predict_noise(&input, timestep, &embeddings)?;
        let noise_pred = if guided {
            let uncond = prediction.narrow(0, 0, n)?;
            let cond = prediction.narrow(0, n, n)?;
            (&uncond + ((cond - &uncond)? * inputs.guidance_scale)?)?
        } else {
            prediction
        };
        latents = scheduler.step(&noise_pred, index, &latents)?;
        latents = replace_left(&latents, scheduler.level_after(index))?;
        progress.report((index + 1 - start) as f64 / (total - start) as f64);
    }
    Ok(latents)
}

/// Images in [0, 1] as (n, 3, h, w) f32.
pub fn images_to_tensor(images: &[RgbImage], device: &Device) -> Result<Tensor> {
    let mut data = Vec::new();
    let (w, h) = images.first().map_or((0, 0), |i| i.dimensions());
    for image in images {
        if image.dimensions() != (w, h) {
            return Err(RiffusionError::Request(
                "init images must have the same size".into(),
            ));
        }
        for c in 0..3 {
            data.extend(image.pixels().map(|p| p.0[c] as f32 / 255.0));
        }
    }
    Ok(Tensor::from_vec(
        data,
        (images.len(), 3, h as usize, w as usize),
        device,
    )?)
}

/// (n, 3, h, w) in [0, 1] to images, rounding like diffusers' `numpy_to_pil`.
pub fn tensor_to_images(images: &Tensor) -> Result<Vec<RgbImage>> {
    let (n, _, h, w) = images.dims4()?;
    let bytes: Vec<u8> = (images.to_dtype(DType::F32)? * 255.0)?
        .round()?
        .clamp(0f32, 255f32)?
        .to_dtype(DType::U8)?
        .flatten_all()?
        .to_vec1()?;
    let plane = h * w;
    Ok((0..n)
        .map(|i| {
            let base = i * 3 * plane;
            RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let p = y as usize * w + x as usize;
                image::Rgb([
                    bytes[base + p],
                    bytes[base + plane + p],
                    bytes[base + 2 * plane + p],
                ])
            })
        })
        .collect())
}

/// The result of a batch.
pub struct Generated {
    /// Final latents, (n, channels, h, w), f32.
    pub latents: Tensor,
    pub images: Vec<RgbImage>,
}

/// Checks the size and returns the latent (height, width).
pub fn latent_size(model: &RiffusionModel, width: usize, height: usize) -> Result<(usize, usize)> {
    let factor = model.downscale();
    if width == 0
        || height == 0
        || !width.is_multiple_of(8)
        || !height.is_multiple_of(8)
        || !width.is_multiple_of(factor)
        || !height.is_multiple_of(factor)
    {
        return Err(RiffusionError::Request(format!(
            "the image size must be a positive multiple of 8 (and of the VAE's {factor}); {width}x{height} is not"
        )));
    }
    Ok((height / factor, width / factor))
}

/// Embeddings of the candidates' prompts (lerped toward their morph targets), in one call.
pub fn candidate_embeddings(
    model: &RiffusionModel,
    candidates: &[CandidateRequest],
) -> Result<Tensor> {
    let mut prompts: Vec<&str> = candidates.iter().map(|c| c.prompt.as_str()).collect();
    prompts.extend(
        candidates
            .iter()
            .filter_map(|c| c.toward.as_ref().map(|m| m.prompt.as_str())),
    );
    let all = model.text_encoder.encode(&prompts)?.to_dtype(DType::F32)?;
    let mut extra = candidates.len();
    let rows = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let own = all.narrow(0, i, 1)?;
            match &c.toward {
                Some(m) => {
                    let other = all.narrow(0, extra, 1)?;
                    extra += 1;
                    lerp(&own, &other, m.alpha)
                }
                None => Ok(own),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::cat(&rows, 0)?)
}

/// Initial noise of the candidates from their seeds (slerped toward their morph seeds).
pub fn candidate_noise(
    model: &RiffusionModel,
    candidates: &[CandidateRequest],
    h: usize,
    w: usize,
) -> Result<Tensor> {
    let device = &model.device.device;
    let c = model.latent_channels();
    let rows = candidates
        .iter()
        .map(|cand| {
            let own = seeded_noise(cand.seed, c, h, w, device)?;
            match &cand.toward {
                Some(m) => slerp(&own, &seeded_noise(m.seed, c, h, w, device)?, m.alpha),
                None => Ok(own),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::cat(&rows, 0)?)
}

/// Generates one image per candidate, all in one batch.
pub fn generate(
    model: &RiffusionModel,
    candidates: &[CandidateRequest],
    options: &GenerateOptions,
    keep_left: Option<&Tensor>,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<Generated> {
    if candidates.is_empty() {
        return Err(RiffusionError::Request("no candidates to generate".into()));
    }
    let (h, w) = latent_size(model, options.width, options.height)?;
    let cond = candidate_embeddings(model, candidates)?;
    let uncond = model
        .text_encoder
        .encode(&[options.negative_prompt.as_str()])?
        .to_dtype(DType::F32)?;
    let noise = candidate_noise(model, candidates, h, w)?;
    let init_latents = match &options.init {
        Some(init) => {
            if init.images.len() != 1 && init.images.len() != candidates.len() {
                return Err(RiffusionError::Request(format!(
                    "give one init image or one per candidate ({}), not {}",
                    candidates.len(),
                    init.images.len()
                )));
            }
            let resized: Vec<RgbImage> = init
                .images
                .iter()
                .map(|i| {
                    image::imageops::resize(
                        i,
                        options.width as u32,
                        options.height as u32,
                        image::imageops::FilterType::Lanczos3,
                    )
                })
                .collect();
            let pixels = images_to_tensor(&resized, &model.device.device)?;
            let latents = model.vae.encode_latents(&pixels)?;
            let latents = if latents.dim(0)? == candidates.len() {
                latents
            } else {
                latents.repeat((candidates.len(), 1, 1, 1))?
            };
            Some((latents, init.strength))
        }
        None => None,
    };
    let latents = denoise(
        model,
        &DenoiseInputs {
            cond: &cond,
            uncond: &uncond,
            noise: &noise,
            init: init_latents.as_ref().map(|(l, s)| (l, *s)),
            scheduler: options.scheduler,
            steps: options.steps,
            guidance_scale: options.guidance_scale,
            keep_left,
        },
        progress,
        cancel,
    )?;
    let images = tensor_to_images(&model.vae.decode_latents(&latents)?)?;
    Ok(Generated { latents, images })
}

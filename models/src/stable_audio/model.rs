//! Stable Audio 3 as one model: read from the published folder, prompts and seeds in, stereo
//! 44.1 kHz music out, as the reference's `generate()` makes it (text-to-audio).
//!
//! The folder, as the Hub repo publishes it: `model_config.json` and `model.safetensors` (the
//! DiT under `model.model.`, the conditioners under `conditioner.conditioners.`, SAME-S under
//! `pretransform.model.`), and the text encoder in `t5gemma-b-b-ul2/` (`config.json`,
//! `model.safetensors`, `tokenizer.json`).

use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use serde_json::Value;

use super::config::DitConfig;
use super::dit::DiffusionTransformer;
use super::error::{read_json, Result, StableAudioError};
use super::prompt::{PromptConditioner, TextEncoder, MAX_PROMPT_TOKENS};
use super::same::{SameConfig, SameDecoder};
use super::sampler::{pingpong_schedule, sample_pingpong, Conditioning, LatentLength, SAMPLE_RATE};
use super::t5gemma::T5GemmaConfig;
use crate::device::ComputeDevice;
use crate::riffusion::NoiseRng;
use crate::task::{CancelToken, Progress};

/// The files of a Stable Audio 3 folder, in one place.
pub const CONFIG_FILE: &str = "model_config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The text encoder's subfolder when the config names none.
pub const TEXT_ENCODER_FOLDER: &str = "t5gemma-b-b-ul2";
const TOKENIZER_FILE: &str = "tokenizer.json";
/// The catalogue's name for the model, and its gated Hub repo.
pub const MODEL_NAME: &str = "stable-audio-3-small";
pub const HUB_REPO: &str = "stabilityai/stable-audio-3-small-music";
/// Every file the app reads from the Hub repo, relative to its root: correct them here if the
/// published layout differs.
pub const PUBLISHED_FILES: [&str; 5] = [
    CONFIG_FILE,
    WEIGHTS_FILE,
    "t5gemma-b-b-ul2/config.json",
    "t5gemma-b-b-ul2/model.safetensors",
    "t5gemma-b-b-ul2/tokenizer.json",
];
/// Where its licence is accepted (the Hub repo's page), and the licence.
pub const LICENCE_PAGE: &str = "https://huggingface.co/stabilityai/stable-audio-3-small-music";
pub const LICENCE_NAME: &str = "Stability AI Community License (T5Gemma: Gemma Terms of Use)";

/// What to make: one candidate per seed, all the same length.
pub struct MusicRequest<'a> {
    /// One prompt per candidate.
    pub prompts: &'a [&'a str],
    pub seeds: &'a [u64],
    /// The whole length, the continued part included.
    pub seconds: f64,
    pub steps: usize,
    /// Latents `[candidates, channels, frames]` the music continues from: they are the known
    /// start of the new latent (the inpaint mask is 1 over them), and the model writes what
    /// follows, as the reference continues audio (outpainting). `None`: from nothing.
    pub continuation: Option<&'a Tensor>,
}

/// Latents `[candidates, channels, frames]`, what music is continued from.
pub type Latents = Tensor;

/// Four (or any number of) candidates.
pub struct GeneratedMusic {
    /// `[candidates, 2, samples]` at 44.1 kHz, `seconds` long, within [-1, 1].
    pub audio: Tensor,
    /// The sampled latents `[candidates, channels, frames]`, for continuing the music.
    pub latents: Tensor,
}

impl GeneratedMusic {
    /// Each candidate's audio as interleaved stereo samples (left, right, left, …).
    pub fn interleaved_stereo(&self) -> Result<Vec<Vec<f32>>> {
        let rows = self.audio.dim(0)?;
        (0..rows)
            .map(|row| {
                let frames = self.audio.get(row)?.t()?.contiguous()?;
                Ok(frames.flatten_all()?.to_vec1::<f32>()?)
            })
            .collect()
    }
}

pub struct StableAudio {
    conditioner: PromptConditioner,
    dit: DiffusionTransformer,
    decoder: SameDecoder,
    device: ComputeDevice,
}

impl StableAudio {
    /// Loads the folder's three parts on `device` (the DiT and the text encoder in its dtype,
    /// SAME-S in f32); the text encoder is read from its mapped file for each generation. `softcap` applies T5Gemma's attention logit cap (see `t5gemma`).
    pub fn from_folder(dir: &Path, softcap: bool, device: &ComputeDevice) -> Result<Self> {
        let config_file = dir.join(CONFIG_FILE);
        let dit_config = DitConfig::from_model_config(&config_file)?;
        let (same_config, same_prefix) = SameConfig::from_model_config(&config_file)?;
        let prompt = PromptSettings::read(&config_file)?;
        let weights = existing(dir.join(WEIGHTS_FILE))?;
        let vb = crate::weights::var_builder(&[&weights], device.dtype, &device.device)?;

        let text_dir = dir.join(&prompt.folder);
        let text_config = T5GemmaConfig::from_file(&existing(text_dir.join("config.json"))?)?;
        let text_vb = crate::weights::var_builder(
            &[existing(text_dir.join(WEIGHTS_FILE))?],
            device.dtype,
            &device.device,
        )?;
        let encoder = TextEncoder::OnDemand {
            config: text_config,
            softcap,
            weights: text_vb,
        };
        let conditioner = PromptConditioner::load(
            &existing(text_dir.join(TOKENIZER_FILE))?,
            encoder,
            dit_config.cond_token_dim,
            prompt.max_tokens,
            vb.clone(),
        )?;
        Ok(Self {
            conditioner,
            dit: DiffusionTransformer::load(&dit_config, vb.pp("model.model"))?,
            decoder: SameDecoder::load(&same_config, prefixed(vb, same_prefix))?,
            device: device.clone(),
        })
    }

    /// Audio samples per latent frame: the unit music is continued in.
    pub fn samples_per_frame(&self) -> usize {
        self.decoder.config().samples_per_frame()
    }

    /// The candidates of `request`, each from its own seed: the starting noise, every step's
    /// noise and the decoder's come from one generator per seed, so a seed gives the same
    /// music whatever else is in the batch, on every device.
    pub fn generate(
        &self,
        request: &MusicRequest,
        progress: &mut dyn Progress,
        cancel: &CancelToken,
    ) -> Result<GeneratedMusic> {
        let rows = request.seeds.len();
        if request.prompts.len() != rows || rows == 0 {
            return Err(StableAudioError::Prompt(format!(
                "{} prompts for {} seeds",
                request.prompts.len(),
                rows
            )));
        }
        let spf = self.decoder.config().samples_per_frame();
        let length = LatentLength::for_seconds(request.seconds, spf);
        let channels = self.dit.config().io_channels;
        let device = &self.device.device;
        let mut generators: Vec<NoiseRng> =
            request.seeds.iter().map(|&s| NoiseRng::new(s)).collect();
        let mut draw = |shape: &[usize]| -> candle_core::Result<Tensor> {
            let rows: Vec<Tensor> = generators
                .iter_mut()
                .map(|g| g.tensor(shape, device))
                .collect::<candle_core::Result<_>>()?;
            Tensor::stack(&rows, 0)
        };

        let conditioned = self
            .conditioner
            .condition(request.prompts, &vec![request.seconds as f32; rows])?;
        let padding = padding_mask(rows, length, device)?;
        let local = match request.continuation {
            Some(known) => Some(inpaint_inputs(known, rows, channels, length.frames)?),
            None => None,
        };
        let start = draw(&[channels, length.frames])?;
        let schedule = pingpong_schedule(request.steps);
        // The decoder is the last step's worth of work: steps + 1 units in all.
        let units = (request.steps + 1) as f64;
        let latents = sample_pingpong(
            &self.dit,
            &start,
            &schedule,
            &Conditioning {
                context: &conditioned.context,
                global: &conditioned.global,
                local: local.as_ref(),
                padding: Some(&padding),
            },
            |_| draw(&[channels, length.frames]),
            |step| {
                progress.report((step + 1) as f64 / units);
                if cancel.is_cancelled() {
                    candle_core::bail!("cancelled");
                }
                Ok(())
            },
        )
        // The loop stops with an error when the token is set; say so, not "compute error".
        .map_err(|err| match cancel.is_cancelled() {
            true => StableAudioError::Cancelled,
            false => StableAudioError::Compute(err),
        })?;
        // The known start goes back in as it was (the reference decodes the model's own
        // rendering of it): the decoder then sees the same frames on both sides of a join, so
        // music continued from these latents meets the earlier music without a seam.
        let latents = match request.continuation {
            Some(known) => keep_known_start(&latents, known)?,
            None => latents,
        };

        // One candidate at a time through the decoder (each with its own noise), which also
        // bounds its memory.
        let samples = (request.seconds * SAMPLE_RATE as f64).round() as usize;
        let valid_samples = length.valid * spf;
        let mut audio = Vec::with_capacity(rows);
        for (row, generator) in generators.iter_mut().enumerate() {
            if cancel.is_cancelled() {
                return Err(StableAudioError::Cancelled);
            }
            let mut noise = |shape: &[usize]| generator.tensor(shape, device);
            let decoded = self
                .decoder
                .decode(&latents.narrow(0, row, 1)?, Some(&mut noise))?;
            audio.push(finish(&decoded, valid_samples, samples)?);
        }
        progress.report(1.0);
        Ok(GeneratedMusic {
            audio: Tensor::cat(&audio, 0)?,
            latents,
        })
    }
}

/// `vb` under `prefix`, or `vb` itself for none (`pp("")` would put a dot before every name).
fn prefixed(vb: candle_nn::VarBuilder<'static>, prefix: &str) -> candle_nn::VarBuilder<'static> {
    if prefix.is_empty() {
        vb
    } else {
        vb.pp(prefix)
    }
}

/// The DiT's inpaint inputs `[rows, 1 + channels, frames]`: the mask (1 over the known frames)
/// and the latents with the known ones in place, zeros after.
fn inpaint_inputs(known: &Tensor, rows: usize, channels: usize, frames: usize) -> Result<Tensor> {
    let (known_rows, known_channels, known_frames) = known.dims3()?;
    if known_rows != rows || known_channels != channels || known_frames >= frames {
        return Err(StableAudioError::Prompt(format!(
            "continuing from latents of shape {:?} needs {rows} rows of {channels} channels and \
             fewer than the {frames} frames being made",
            known.dims()
        )));
    }
    let device = known.device();
    let rest = frames - known_frames;
    let mask = Tensor::cat(
        &[
            &Tensor::ones((rows, 1, known_frames), DType::F32, device)?,
            &Tensor::zeros((rows, 1, rest), DType::F32, device)?,
        ],
        2,
    )?;
    let latents = Tensor::cat(
        &[
            &known.to_dtype(DType::F32)?,
            &Tensor::zeros((rows, channels, rest), DType::F32, device)?,
        ],
        2,
    )?;
    Ok(Tensor::cat(&[&mask, &latents], 1)?)
}

/// `latents` with its first frames replaced by `known`.
fn keep_known_start(latents: &Tensor, known: &Tensor) -> candle_core::Result<Tensor> {
    let known_frames = known.dim(2)?;
    let rest = latents.dim(2)? - known_frames;
    Tensor::cat(
        &[
            &known.to_dtype(latents.dtype())?,
            &latents.narrow(2, known_frames, rest)?,
        ],
        2,
    )
}

/// `[rows, frames]` of 1 for the real frames, 0 for the padding past them.
fn padding_mask(
    rows: usize,
    length: LatentLength,
    device: &candle_core::Device,
) -> candle_core::Result<Tensor> {
    let row: Vec<f32> = (0..length.frames)
        .map(|f| if f < length.valid { 1.0 } else { 0.0 })
        .collect();
    Tensor::from_vec(row, (1, length.frames), device)?.repeat((rows, 1))
}

/// As the reference ends a generation: silence past the valid frames, samples clamped to
/// [-1, 1], cut to the requested length.
fn finish(decoded: &Tensor, valid_samples: usize, samples: usize) -> candle_core::Result<Tensor> {
    let (_, channels, total) = decoded.dims3()?;
    let kept = valid_samples.min(total);
    let audio = decoded.narrow(2, 0, kept)?.clamp(-1f32, 1f32)?;
    let audio = if kept < samples {
        let silence = Tensor::zeros((1, channels, samples - kept), DType::F32, decoded.device())?;
        Tensor::cat(&[&audio, &silence], 2)?
    } else {
        audio
    };
    audio
        .narrow(2, 0, samples)?
        .to_device(&candle_core::Device::Cpu)
}

/// A file of the folder, or an error naming it.
fn existing(path: PathBuf) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(StableAudioError::Read {
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "missing from the model folder",
            ),
            path,
        })
    }
}

/// The prompt conditioner's settings in `model_config.json`: the text encoder's subfolder and
/// its token limit.
struct PromptSettings {
    folder: String,
    max_tokens: usize,
}

impl PromptSettings {
    fn read(path: &Path) -> Result<Self> {
        let json = read_json(path)?;
        let prompt = json
            .pointer("/model/conditioning/configs")
            .and_then(Value::as_array)
            .and_then(|configs| {
                configs
                    .iter()
                    .find(|c| c.get("id").and_then(Value::as_str) == Some("prompt"))
            })
            .and_then(|c| c.get("config"));
        let field = |name: &str| prompt.and_then(|p| p.get(name));
        Ok(Self {
            folder: field("subfolder")
                .and_then(Value::as_str)
                .unwrap_or(TEXT_ENCODER_FOLDER)
                .to_string(),
            max_tokens: field("max_length")
                .and_then(Value::as_u64)
                .map_or(MAX_PROMPT_TOKENS, |n| n as usize),
        })
    }
}

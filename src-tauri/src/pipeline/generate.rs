//! The generate stage: Riffusion plays the plan, all four candidates of each clip in one
//! batch, and each candidate's spectrogram becomes 44.1 kHz stereo music.

use std::time::Instant;

use bgm_models::riffusion::{generate_long, LongOptions, RiffusionModel, SchedulerKind};
use bgm_models::spectrogram::{
    ImageToAudioOptions, PhaseInit, SpectrogramConverter, SpectrogramParams,
};
use bgm_models::task::{CancelToken, Progress};
use image::{DynamicImage, RgbImage};

use super::error::{PipelineError, Result};
use super::files::JobFiles;
use super::stages::{PipelineConfig, MIX_CHANNELS, MIX_RATE};
use crate::media::{write_wav, PcmAudio};

/// The denoising time of one generation: what a step costs on this machine.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiffusionTiming {
    /// "CPU", "CUDA" or "Metal".
    pub device: String,
    /// Rows per UNet call: candidates × 2 (classifier-free guidance).
    pub batch: usize,
    /// UNet calls: steps per clip × clips.
    pub steps: usize,
    /// Wall time of all the steps (model loading excluded).
    pub seconds: f64,
}

impl DiffusionTiming {
    /// Seconds per step of all four candidates together; `None` for a single-candidate
    /// regeneration, whose smaller batch says little about a full run.
    pub fn seconds_per_step(&self) -> Option<f64> {
        let full_batch = bgm_models::plan::CANDIDATES * 2;
        (self.steps > 0 && self.batch == full_batch).then(|| self.seconds / self.steps as f64)
    }
}

pub fn generate(
    config: &PipelineConfig,
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    generate_candidates(config, files, None, progress, cancel)
}

/// Generates every candidate, or only `only` (its files are replaced, the others' kept).
pub fn generate_candidates(
    config: &PipelineConfig,
    files: &JobFiles,
    only: Option<usize>,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let full_plan = files.load_plan()?;
    let mut plan = full_plan.clone();
    let indices: Vec<usize> = match only {
        Some(n) => {
            // The same plan with just that candidate in every section: one row per batch.
            for section in plan.sections.iter_mut() {
                section.candidates = section.candidates.get(n).cloned().into_iter().collect();
            }
            vec![n]
        }
        None => (0..bgm_models::plan::CANDIDATES).collect(),
    };
    let mut options = LongOptions::from_plan(&plan, SchedulerKind::default());
    if let Some(steps) = config.steps {
        options.steps = steps as usize;
    }
    let music = {
        let model = RiffusionModel::load_default(&config.weights, &config.device)?;
        let mut diffusion = |f: f64| progress.report(f * 0.8);
        let started = Instant::now();
        let music =
            generate_long(&model, &plan, &options, &mut diffusion, cancel).map_err(|e| {
                if cancel.is_cancelled() {
                    PipelineError::Cancelled
                } else {
                    e.into()
                }
            })?;
        let timing = DiffusionTiming {
            device: config.device.kind.to_string(),
            batch: indices.len() * 2,
            steps: options.steps * music.clips.len(),
            seconds: started.elapsed().as_secs_f64(),
        };
        files.save_diffusion_timing(&timing)?;
        music
        // The model (and its GPU memory) is dropped here, before the audio work.
    };
    let converter = SpectrogramConverter::new(SpectrogramParams::default())?;
    let total = music.spectrograms.len();
    for (k, (&n, spectrogram)) in indices.iter().zip(music.spectrograms).enumerate() {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        std::fs::create_dir_all(files.candidate_dir(n))
            .map_err(|e| PipelineError::file(&files.candidate_dir(n), e))?;
        spectrogram
            .save(files.spectrogram(n))
            .map_err(|e| PipelineError::file(&files.spectrogram(n), e))?;
        let seed = full_plan
            .sections
            .first()
            .and_then(|s| s.candidates.get(n))
            .map_or(0, |c| u64::from(c.seed));
        let pcm = music_from_spectrogram(&converter, spectrogram, seed)?;
        write_wav(&files.music(n), &pcm)?;
        progress.report(0.8 + 0.2 * (k + 1) as f64 / total as f64);
    }
    Ok(())
}

/// A spectrogram image as music in the mix's format (Griffin-Lim with phases from `seed`):
/// what the pipeline and `bgm-studio generate` both write.
pub fn music_from_spectrogram(
    converter: &SpectrogramConverter,
    spectrogram: RgbImage,
    seed: u64,
) -> Result<PcmAudio> {
    let audio = converter.image_to_audio(
        &DynamicImage::ImageRgb8(spectrogram),
        &ImageToAudioOptions {
            phase_init: PhaseInit::Random { seed },
            ..Default::default()
        },
    )?;
    to_mix_format(&audio.channels, audio.sample_rate)
}

/// Riffusion's audio is 44.1 kHz; mono becomes the two channels of the mix.
fn to_mix_format(channels: &[Vec<f32>], sample_rate: u32) -> Result<PcmAudio> {
    if sample_rate != MIX_RATE {
        return Err(PipelineError::MusicFormat(format!(
            "the spectrogram's audio is {sample_rate} Hz, the mix needs {MIX_RATE} Hz"
        )));
    }
    let stereo: Vec<Vec<f32>> = match channels {
        [mono] => vec![mono.clone(), mono.clone()],
        [left, right, ..] => vec![left.clone(), right.clone()],
        [] => return Err(PipelineError::MusicFormat("it has no audio".into())),
    };
    debug_assert_eq!(stereo.len(), usize::from(MIX_CHANNELS));
    Ok(PcmAudio::from_channels(&stereo, sample_rate))
}

//! Long music: one candidate's music for a whole plan as a sequence of clips with no gaps.
//!
//! Clips overlap by a strip of columns. Each clip after the first is *conditioned on the end of
//! the previous one*: during denoising, its first latent columns are replaced at every step by
//! the previous clip's last latent columns noised to the current level (outpainting of the
//! overlap strip), so the new clip grows out of the old one. The clips are then laid into one
//! long spectrogram, cross-faded over the overlap (`ColumnStitcher` does this as clips arrive),
//! and that becomes audio in Griffin-Lim passes over long stretches. Within a transition of the plan, clips
//! morph from one section's prompt and seed to the next one's (embeddings lerped, noise slerped).

use std::ops::ControlFlow;

use candle_core::Tensor;
use image::RgbImage;

use super::error::{Result, RiffusionError};
use super::generate::{generate, latent_size, CandidateRequest, GenerateOptions, Morph};
use super::model::RiffusionModel;
use super::scheduler::SchedulerKind;
use crate::plan::MusicPlan;
use crate::task::{CancelToken, Progress};

/// Spectrogram columns per second (hop 10 ms).
pub const COLUMNS_PER_SECOND: f64 = 100.0;
/// Default overlap between consecutive clips: 0.64 s.
pub const DEFAULT_OVERLAP: usize = 64;

#[derive(Clone, Debug)]
pub struct LongOptions {
    pub clip_width: usize,
    pub height: usize,
    /// Columns shared by consecutive clips (a multiple of the VAE's downscale, 8 for SD).
    pub overlap: usize,
    pub steps: usize,
    pub scheduler: SchedulerKind,
    pub guidance_scale: f64,
    pub negative_prompt: String,
}

impl LongOptions {
    /// The plan's own settings (steps, guidance, negative prompt) with default sizes.
    pub fn from_plan(plan: &MusicPlan, scheduler: SchedulerKind) -> Self {
        Self {
            clip_width: super::DEFAULT_WIDTH,
            height: super::DEFAULT_HEIGHT,
            overlap: DEFAULT_OVERLAP,
            steps: plan.steps as usize,
            scheduler,
            guidance_scale: plan.guidance_scale as f64,
            negative_prompt: plan.negative_prompt.clone(),
        }
    }
}

/// What one clip of the sequence plays, for every candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipPlan {
    pub start_column: usize,
    pub candidates: Vec<CandidateRequest>,
}

/// A distinct seed per clip, derived from the plan's seed (SplitMix64 of seed and clip index).
pub fn clip_seed(seed: u32, clip: usize) -> u64 {
    crate::seed::splitmix64((seed as u64) << 32 | clip as u64)
}

/// The mean over `[span.0, span.1]` of the morph ramp that rises from 0 at `from` to 1 at
/// `from + seconds` (a step at `from` when `seconds` is 0).
fn mean_ramp(from: f64, seconds: f64, span: (f64, f64)) -> f64 {
    const SAMPLES: usize = 256;
    let ramp = |t: f64| {
        if seconds <= 0.0 {
            f64::from(u8::from(t >= from))
        } else {
            ((t - from) / seconds).clamp(0.0, 1.0)
        }
    };
    (0..SAMPLES)
        .map(|i| ramp(span.0 + (span.1 - span.0) * (i as f64 + 0.5) / SAMPLES as f64))
        .sum::<f64>()
        / SAMPLES as f64
}

/// Total columns of the plan's music.
pub fn total_columns(plan: &MusicPlan) -> usize {
    (plan.duration * COLUMNS_PER_SECOND).ceil().max(1.0) as usize
}

/// The clips covering the plan, with each candidate's prompt, seed and morph per clip.
pub fn plan_clips(plan: &MusicPlan, options: &LongOptions) -> Result<Vec<ClipPlan>> {
    let (w, o) = (options.clip_width, options.overlap);
    if o >= w {
        return Err(RiffusionError::Request(format!(
            "the overlap ({o}) must be narrower than a clip ({w})"
        )));
    }
    if plan.sections.is_empty() {
        return Err(RiffusionError::Request("the plan has no sections".into()));
    }
    let columns = total_columns(plan);
    let count = 1 + columns.saturating_sub(w).div_ceil(w - o);
    let candidates = plan.sections[0].candidates.len();
    Ok((0..count)
        .map(|k| {
            let start_column = k * (w - o);
            let centre = (start_column as f64 + w as f64 / 2.0) / COLUMNS_PER_SECOND;
            let section = plan
                .sections
                .iter()
                .position(|s| centre < s.end)
                .unwrap_or(plan.sections.len() - 1);
            let span = (
                start_column as f64 / COLUMNS_PER_SECOND,
                (start_column + w) as f64 / COLUMNS_PER_SECOND,
            );
            // A transition whose morph overlaps this clip; the clip plays the morph's mean.
            let morph = plan.transitions.iter().enumerate().find_map(|(j, t)| {
                let alpha = mean_ramp(t.at - t.seconds / 2.0, t.seconds, span);
                (alpha > 0.0 && alpha < 1.0).then_some((j, alpha))
            });
            let candidates = (0..candidates)
                .map(|c| match morph {
                    Some((j, alpha)) if j + 1 < plan.sections.len() => {
                        let (a, b) = (
                            &plan.sections[j].candidates[c],
                            &plan.sections[j + 1].candidates[c],
                        );
                        CandidateRequest {
                            prompt: a.prompt.clone(),
                            seed: clip_seed(a.seed, k),
                            toward: Some(Morph {
                                prompt: b.prompt.clone(),
                                seed: clip_seed(b.seed, k),
                                alpha,
                            }),
                        }
                    }
                    _ => {
                        let s = &plan.sections[section].candidates[c];
                        CandidateRequest::new(s.prompt.clone(), clip_seed(s.seed, k))
                    }
                })
                .collect();
            ClipPlan {
                start_column,
                candidates,
            }
        })
        .collect())
}

/// The generated music of every candidate.
pub struct LongMusic {
    pub clips: Vec<ClipPlan>,
    /// Clip images per candidate, in order.
    pub clip_images: Vec<Vec<RgbImage>>,
    /// One seamless spectrogram per candidate, exactly the plan's duration wide.
    pub spectrograms: Vec<RgbImage>,
}

/// Generates every clip of the plan, all candidates of a clip in one batch, and keeps them all
/// (see `generate_long_each` for a stream of clips in bounded memory).
pub fn generate_long(
    model: &RiffusionModel,
    plan: &MusicPlan,
    options: &LongOptions,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<LongMusic> {
    let mut clip_images: Vec<Vec<RgbImage>> = Vec::new();
    let clips = generate_long_each(model, plan, options, progress, cancel, &mut |_, images| {
        clip_images.resize_with(images.len(), Vec::new);
        for (c, image) in images.into_iter().enumerate() {
            clip_images[c].push(image);
        }
        ControlFlow::Continue(())
    })?;
    let columns = total_columns(plan);
    let spectrograms = clip_images
        .iter()
        .map(|images| stitch(images, &clips, options.overlap, columns))
        .collect();
    Ok(LongMusic {
        clips,
        clip_images,
        spectrograms,
    })
}

/// Generates every clip of the plan in order, all candidates of a clip in one batch, handing
/// each clip's images (one per candidate) to `each_clip` as soon as they are made: memory
/// holds one clip, however long the plan. Returns the clips' plan. `each_clip` breaking off
/// (it keeps its own reason) stops generation with `RiffusionError::Cancelled`.
pub fn generate_long_each(
    model: &RiffusionModel,
    plan: &MusicPlan,
    options: &LongOptions,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
    each_clip: &mut dyn FnMut(&ClipPlan, Vec<RgbImage>) -> ControlFlow<()>,
) -> Result<Vec<ClipPlan>> {
    let factor = model.downscale();
    if !options.overlap.is_multiple_of(factor) {
        return Err(RiffusionError::Request(format!(
            "the overlap must be a multiple of {factor} columns"
        )));
    }
    latent_size(model, options.clip_width, options.height)?;
    let clips = plan_clips(plan, options)?;
    let generate_options = GenerateOptions {
        negative_prompt: options.negative_prompt.clone(),
        steps: options.steps,
        width: options.clip_width,
        height: options.height,
        guidance_scale: options.guidance_scale,
        scheduler: options.scheduler,
        init: None,
    };
    let mut previous: Option<Tensor> = None;
    let total = clips.len() as f64;
    for (k, clip) in clips.iter().enumerate() {
        let keep = match &previous {
            Some(latents) if options.overlap > 0 => {
                let lw = latents.dim(3)?;
                let lo = options.overlap / factor;
                Some(latents.narrow(3, lw - lo, lo)?)
            }
            _ => None,
        };
        let mut clip_progress = |f: f64| progress.report((k as f64 + f) / total);
        let out = generate(
            model,
            &clip.candidates,
            &generate_options,
            keep.as_ref(),
            &mut clip_progress,
            cancel,
        )?;
        if each_clip(clip, out.images).is_break() {
            return Err(RiffusionError::Cancelled);
        }
        previous = Some(out.latents);
    }
    progress.report(1.0);
    Ok(clips)
}

/// Lays clips into one image `columns` wide, cross-fading linearly over each overlap.
pub fn stitch(images: &[RgbImage], clips: &[ClipPlan], overlap: usize, columns: usize) -> RgbImage {
    let height = images.first().map_or(0, |i| i.height());
    let mut stitcher = ColumnStitcher::new(height, overlap);
    let mut out = Columns::new(height);
    for (image, clip) in images.iter().zip(clips) {
        out.append(&stitcher.push(clip.start_column, image));
    }
    out.append(&stitcher.finish());
    out.truncate(columns);
    out.to_image()
}

/// Columns of a spectrogram, each `height` RGB pixels, stored column after column so they
/// can be appended and taken from the front cheaply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    height: u32,
    data: Vec<u8>,
}

impl Columns {
    pub fn new(height: u32) -> Self {
        Self {
            height,
            data: Vec::new(),
        }
    }

    fn column_len(&self) -> usize {
        self.height as usize * 3
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.column_len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn append(&mut self, other: &Columns) {
        self.data.extend_from_slice(&other.data);
    }

    /// Appends an image's columns (of the same height).
    pub fn append_image(&mut self, image: &RgbImage) {
        debug_assert_eq!(image.height(), self.height);
        self.data
            .reserve(image.width() as usize * self.column_len());
        for x in 0..image.width() {
            for y in 0..image.height() {
                self.data.extend_from_slice(&image.get_pixel(x, y).0);
            }
        }
    }

    /// Keeps the first `columns`.
    pub fn truncate(&mut self, columns: usize) {
        self.data.truncate(columns * self.column_len());
    }

    /// Removes and returns the first `columns`.
    pub fn take_front(&mut self, columns: usize) -> Columns {
        let split = (columns * self.column_len()).min(self.data.len());
        let rest = self.data.split_off(split);
        Columns {
            height: self.height,
            data: std::mem::replace(&mut self.data, rest),
        }
    }

    /// Columns `range` as their own strip.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Columns {
        let n = self.column_len();
        Columns {
            height: self.height,
            data: self.data[range.start * n..range.end * n].to_vec(),
        }
    }

    fn pixel(&self, x: usize, y: u32) -> [u8; 3] {
        let at = x * self.column_len() + y as usize * 3;
        [self.data[at], self.data[at + 1], self.data[at + 2]]
    }

    fn set_pixel(&mut self, x: usize, y: u32, rgb: [u8; 3]) {
        let at = x * self.column_len() + y as usize * 3;
        self.data[at..at + 3].copy_from_slice(&rgb);
    }

    pub fn to_image(&self) -> RgbImage {
        RgbImage::from_fn(self.len() as u32, self.height, |x, y| {
            image::Rgb(self.pixel(x as usize, y))
        })
    }
}

/// `stitch` for clips that arrive one at a time: each push hands back the columns no later
/// clip can change (those before the new clip's start), so memory holds about one clip.
#[derive(Debug)]
pub struct ColumnStitcher {
    overlap: usize,
    /// Columns from `pending_start` on, not handed back yet.
    pending: Columns,
    pending_start: usize,
    clips: usize,
}

impl ColumnStitcher {
    pub fn new(height: u32, overlap: usize) -> Self {
        Self {
            overlap,
            pending: Columns::new(height),
            pending_start: 0,
            clips: 0,
        }
    }

    /// Lays the next clip (clips come in order of `start_column`) over the pending columns,
    /// cross-fading the overlap, and returns the columns before `start_column`.
    pub fn push(&mut self, start_column: usize, image: &RgbImage) -> Columns {
        let ready = self
            .pending
            .take_front(start_column.saturating_sub(self.pending_start));
        self.pending_start += ready.len();
        let existing = self.pending.len();
        let width = image.width() as usize;
        if width > existing {
            let extra = Columns {
                height: self.pending.height,
                data: vec![0; (width - existing) * self.pending.column_len()],
            };
            self.pending.append(&extra);
        }
        for x in 0..width {
            let weight = if self.clips > 0 && x < self.overlap && x < existing {
                (x as f32 + 0.5) / self.overlap as f32
            } else {
                1.0
            };
            for y in 0..image.height() {
                let new = image.get_pixel(x as u32, y).0;
                let old = self.pending.pixel(x, y);
                let mixed: [u8; 3] = std::array::from_fn(|i| {
                    (old[i] as f32 * (1.0 - weight) + new[i] as f32 * weight).round() as u8
                });
                self.pending.set_pixel(x, y, mixed);
            }
        }
        self.clips += 1;
        ready
    }

    /// Every column still pending.
    pub fn finish(self) -> Columns {
        self.pending
    }
}

//! Stable Audio 3 as the music engine: the candidates run as one batch (one seed each), one
//! window per section. Each window after the first continues the previous one's latents
//! (outpainting), with the new section's prompts, so the music flows across the boundary and
//! changes at the cut; sections longer than a window continue the same way.

use std::time::Instant;

use bgm_models::plan::{template, MusicPlan};
use bgm_models::stable_audio::{
    Latents, MusicRequest, StableAudio, StableAudioError, DEFAULT_STEPS, MAX_SAMPLES,
};
use bgm_models::task::{CancelToken, Progress};
use bgm_models::weights::locate_named;

use super::joins::{JoinedMusic, Placement};
use super::windows::{plan_windows, Window, WindowLimits};
use super::{model_label, DiffusionTiming, EngineRequest, MusicEngine, MusicEngineKind};
use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::stages::{PipelineConfig, MIX_RATE};

/// The music each window continues from: 10 s.
const CONTEXT_SECONDS: f64 = 10.0;
/// The fade at each join, ending on it: 1,024 samples (23 ms), inside the frames both windows
/// decode alike.
const JOIN_FADE: usize = 1024;
/// T5Gemma's attention logit cap stays off, as in the reference's locked transformers (see
/// `bgm_models::stable_audio::t5gemma`).
const TEXT_SOFTCAP: bool = false;

pub struct StableAudioEngine;

impl MusicEngine for StableAudioEngine {
    fn generate(
        &self,
        config: &PipelineConfig,
        request: &EngineRequest,
        progress: &mut dyn Progress,
        cancel: &CancelToken,
    ) -> Result<DiffusionTiming> {
        let name = MusicEngineKind::StableAudio.model_name();
        let folder = locate_named(name, &config.weights)?;
        let model = StableAudio::from_folder(&folder.root, TEXT_SOFTCAP, &config.device)?;
        let spf = model.samples_per_frame();
        let plan = request.plan;
        let total = music_samples(plan);
        let windows = plan_windows(
            &section_ends(plan, total),
            &WindowLimits {
                samples_per_frame: spf,
                context: (CONTEXT_SECONDS * f64::from(MIX_RATE)) as usize,
                max_length: MAX_SAMPLES,
            },
        );
        let steps = config.steps.map_or(DEFAULT_STEPS, |s| s as usize);
        let paths: Vec<_> = request
            .candidates
            .iter()
            .map(|&n| {
                let dir = request.files.candidate_dir(n);
                std::fs::create_dir_all(&dir).map_err(|e| PipelineError::file(&dir, e))?;
                Ok(request.files.music(n))
            })
            .collect::<Result<_>>()?;
        let mut music = JoinedMusic::create(&paths, JOIN_FADE)?;

        // Progress in proportion to the samples each window makes.
        let work: usize = windows.iter().map(|w| w.length(spf)).sum();
        let mut done = 0;
        let started = Instant::now();
        let mut previous: Option<Latents> = None;
        for (k, window) in windows.iter().enumerate() {
            let prompts = window_prompts(plan, window, request.candidates)?;
            let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
            let seeds = window_seeds(plan, window, request.candidates)?;
            let known = match (window.known, &previous) {
                (Some((first, count)), Some(latents)) => Some(
                    latents
                        .narrow(2, first, count)
                        .map_err(StableAudioError::from)?,
                ),
                _ => None,
            };
            let length = window.length(spf);
            let share = length as f64 / work as f64;
            let base = done as f64 / work as f64;
            let generated = model.generate(
                &MusicRequest {
                    prompts: &prompts,
                    seeds: &seeds,
                    seconds: length as f64 / f64::from(MIX_RATE),
                    steps,
                    continuation: known.as_ref(),
                },
                &mut |f: f64| progress.report(base + share * f),
                cancel,
            )?;
            let next = windows.get(k + 1);
            music.place(
                &generated.interleaved_stereo()?,
                Placement {
                    start: window.start,
                    join: window.join,
                    until: next.map_or(total, |w| w.join),
                    last: next.is_none(),
                },
            )?;
            previous = Some(generated.latents);
            done += length;
        }
        let seconds = started.elapsed().as_secs_f64();
        music.finish()?;
        Ok(DiffusionTiming {
            device: config.device.kind.to_string(),
            batch: request.candidates.len(),
            steps: steps * windows.len(),
            seconds,
            engine: MusicEngineKind::StableAudio,
            model: model_label(name, config),
        })
    }
}

/// The music's length in samples: the plan's duration.
fn music_samples(plan: &MusicPlan) -> usize {
    ((plan.duration * f64::from(MIX_RATE)).round() as usize).max(1)
}

/// Where each section ends, in samples; the last at the music's end.
fn section_ends(plan: &MusicPlan, total: usize) -> Vec<usize> {
    let last = plan.sections.len().saturating_sub(1);
    plan.sections
        .iter()
        .enumerate()
        .map(|(i, s)| match i == last {
            true => total,
            false => ((s.end * f64::from(MIX_RATE)).round() as usize).min(total),
        })
        .collect()
}

/// Each candidate's prompt for the window: the plan's (as the user may have edited it) with
/// the tempo the emotion's palette has, in the BPM Stable Audio's captions name.
fn window_prompts(plan: &MusicPlan, window: &Window, candidates: &[usize]) -> Result<Vec<String>> {
    let section = &plan.sections[window.section];
    let bpm = template(section.emotion).bpm;
    candidates
        .iter()
        .map(|&n| {
            let candidate = section
                .candidates
                .get(n)
                .ok_or_else(|| missing(window, n))?;
            Ok(format!("{}, {} BPM", candidate.prompt, bpm[n % bpm.len()]))
        })
        .collect()
}

/// Each candidate's seed for the window: its section seed, mixed with the part for sections
/// split over several windows.
fn window_seeds(plan: &MusicPlan, window: &Window, candidates: &[usize]) -> Result<Vec<u64>> {
    let section = &plan.sections[window.section];
    candidates
        .iter()
        .map(|&n| {
            let seed = section
                .candidates
                .get(n)
                .ok_or_else(|| missing(window, n))?
                .seed;
            Ok(bgm_models::seed::splitmix64(
                u64::from(seed) << 32 | window.part as u64,
            ))
        })
        .collect()
}

fn missing(window: &Window, candidate: usize) -> PipelineError {
    PipelineError::MusicFormat(format!(
        "the plan's section {} has no candidate {candidate}",
        window.section + 1
    ))
}

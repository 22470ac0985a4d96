//! Riffusion as the music engine: it plays the plan, all candidates of each clip in one batch,
//! and each candidate's spectrogram becomes 44.1 kHz stereo music.

use std::ops::ControlFlow;
use std::time::Instant;

use bgm_models::riffusion::{
    generate_long_each, total_columns, LongOptions, RiffusionModel, SchedulerKind,
};
use bgm_models::spectrogram::{SpectrogramConverter, SpectrogramParams};
use bgm_models::task::{CancelToken, Progress};

use super::{model_label, DiffusionTiming, EngineRequest, MusicEngine, MusicEngineKind};
use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::files::CLIPS;
use crate::pipeline::music_writer::MusicWriter;
use crate::pipeline::stages::PipelineConfig;

pub struct RiffusionEngine;

impl MusicEngine for RiffusionEngine {
    fn generate(
        &self,
        config: &PipelineConfig,
        request: &EngineRequest,
        progress: &mut dyn Progress,
        cancel: &CancelToken,
    ) -> Result<DiffusionTiming> {
        generate_candidates(config, request, progress, cancel)
    }
}

fn generate_candidates(
    config: &PipelineConfig,
    request: &EngineRequest,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<DiffusionTiming> {
    let (full_plan, files) = (request.plan, request.files);
    let indices = request.candidates;
    // The same plan with just the asked candidates in every section: one row each per batch.
    let mut plan = full_plan.clone();
    for section in plan.sections.iter_mut() {
        section.candidates = indices
            .iter()
            .filter_map(|&n| section.candidates.get(n).cloned())
            .collect();
    }
    let mut options = LongOptions::from_plan(&plan, SchedulerKind::default());
    if let Some(steps) = config.steps {
        options.steps = steps as usize;
    }
    let converter = SpectrogramConverter::new(SpectrogramParams::default())?;
    let mut writers = Vec::with_capacity(indices.len());
    for &n in indices {
        let dir = files.candidate_dir(n);
        std::fs::create_dir_all(dir.join(CLIPS)).map_err(|e| PipelineError::file(&dir, e))?;
        let seed = full_plan
            .sections
            .first()
            .and_then(|s| s.candidates.get(n))
            .map_or(0, |c| u64::from(c.seed));
        let height = options.height as u32;
        writers.push(MusicWriter::new(
            &converter,
            seed,
            height,
            options.overlap,
            &dir,
        )?);
    }
    let model = RiffusionModel::load_default(&config.weights, &config.device)?;
    let mut diffusion = |f: f64| progress.report(f * 0.95);
    let started = Instant::now();
    let mut clip_index = 0;
    // What stopped the clips from our side (a file that could not be written).
    let mut failure: Option<PipelineError> = None;
    // Each clip's images are saved and stitched into their candidate's music as they come, so
    // memory holds one clip and one Griffin-Lim stretch per candidate, however long the video.
    let generated = generate_long_each(
        &model,
        &plan,
        &options,
        &mut diffusion,
        cancel,
        &mut |clip, images| {
            let saved = indices
                .iter()
                .zip(writers.iter_mut())
                .zip(&images)
                .try_for_each(|((&n, writer), image)| {
                    let path = files.clip_image(n, clip_index);
                    image
                        .save(&path)
                        .map_err(|e| PipelineError::file(&path, e))?;
                    writer.push_clip(clip.start_column, image)
                });
            clip_index += 1;
            match saved {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        },
    );
    let clips = match (generated, failure) {
        (Ok(clips), _) => clips,
        (Err(_), Some(failure)) => return Err(failure),
        (Err(_), None) if cancel.is_cancelled() => return Err(PipelineError::Cancelled),
        (Err(e), None) => return Err(e.into()),
    };
    let timing = DiffusionTiming {
        device: config.device.kind.to_string(),
        batch: indices.len() * 2,
        steps: options.steps * clips.len(),
        seconds: started.elapsed().as_secs_f64(),
        engine: MusicEngineKind::Riffusion,
        model: model_label(bgm_models::riffusion::MODEL_NAME, config),
    };
    // The model (and its GPU memory) goes before the last audio work.
    drop(model);
    let columns = total_columns(&plan);
    let total = writers.len();
    for (k, (&n, writer)) in indices.iter().zip(writers).enumerate() {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        writer.finish(columns, &files.music(n))?;
        progress.report(0.95 + 0.05 * (k + 1) as f64 / total as f64);
    }
    Ok(timing)
}

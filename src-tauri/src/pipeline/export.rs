//! Exporting a job: the input video with the chosen candidate's mix as its sound, and what made
//! the music (plan, seeds, model revisions) recorded in the file's metadata.

use std::path::Path;

use bgm_models::task::{CancelToken, Progress};
use bgm_models::weights::find_model;
use serde::Serialize;

use super::error::{PipelineError, Result};
use super::files::JobFiles;
use super::generate::MusicEngineKind;
use super::mix::{DuckMode, OriginalAudio};
use super::stages::PipelineConfig;
use crate::jobs::{JobId, JobStore};
use crate::media::{mux, MuxOptions, MuxReport};

/// The container tag holding [`Provenance`] as JSON (a `comment` in MP4/MOV, a tag in Matroska).
pub const PROVENANCE_TAG: &str = "comment";

/// What the exported music was made from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Provenance {
    generator: String,
    /// The music engine, and its model as loaded (`name@commit`).
    engine: MusicEngineKind,
    music_model: String,
    candidate: usize,
    /// Per section: start, end, emotion, prompt and this candidate's seed.
    sections: Vec<SectionProvenance>,
    steps: u32,
    guidance_scale: f32,
    negative_prompt: String,
    /// `name@revision` of each model.
    models: Vec<String>,
    /// How the music was laid under the video's own sound.
    mix: MixProvenance,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MixProvenance {
    original_audio: OriginalAudio,
    duck_mode: DuckMode,
    duck_depth_db: f32,
    music_level_db: f32,
}

#[derive(Serialize)]
struct SectionProvenance {
    start: f64,
    end: f64,
    emotion: String,
    prompt: String,
    seed: u32,
}

/// Which candidate of which job goes where.
pub struct ExportRequest<'a> {
    pub job: JobId,
    pub candidate: usize,
    pub dest: &'a Path,
    /// Replace `dest` if it exists (an input is never replaced).
    pub overwrite: bool,
}

pub fn export_candidate(
    store: &JobStore,
    request: &ExportRequest,
    config: &PipelineConfig,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<MuxReport> {
    let (id, candidate) = (request.job, request.candidate);
    let job = store.load(id)?;
    let files = JobFiles::new(&store.dir(id));
    let mix = files.mix(candidate);
    if candidate >= bgm_models::plan::CANDIDATES || !mix.exists() {
        return Err(PipelineError::file(
            &mix,
            format!(
                "candidate {candidate} has no mix yet: candidates are 0-3, made by `bgm-studio run {id}`"
            ),
        ));
    }
    let plan = files.load_plan()?;
    // Jobs from before the engine was recorded were all Riffusion's.
    let timing = files.load_diffusion_timing().ok();
    let engine = timing
        .as_ref()
        .map_or(MusicEngineKind::Riffusion, |t| t.engine);
    let steps = match engine {
        MusicEngineKind::Riffusion => config.steps.unwrap_or(plan.steps),
        MusicEngineKind::StableAudio => config
            .steps
            .unwrap_or(bgm_models::stable_audio::DEFAULT_STEPS as u32),
    };
    let provenance = Provenance {
        generator: format!("BGM Studio {}", env!("CARGO_PKG_VERSION")),
        engine,
        music_model: timing
            .map(|t| t.model)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| engine.model_name().to_string()),
        candidate,
        sections: plan
            .sections
            .iter()
            .filter_map(|s| {
                let c = s.candidates.get(candidate)?;
                Some(SectionProvenance {
                    start: s.start,
                    end: s.end,
                    emotion: format!("{:?}", s.emotion).to_lowercase(),
                    prompt: c.prompt.clone(),
                    seed: c.seed,
                })
            })
            .collect(),
        steps,
        guidance_scale: plan.guidance_scale,
        negative_prompt: plan.negative_prompt.clone(),
        models: [
            config.whisper_model.as_str(),
            "emotion",
            engine.model_name(),
        ]
        .into_iter()
        .chain(
            (config.mix.original_audio == OriginalAudio::Speech)
                .then_some(bgm_models::separation::MODEL_NAME),
        )
        .map(|name| match find_model(name) {
            Ok(entry) => format!("{}@{}", entry.repo, entry.revision),
            Err(_) => name.to_string(),
        })
        .collect(),
        mix: MixProvenance {
            original_audio: config.mix.original_audio,
            duck_mode: config.mix.duck_mode,
            duck_depth_db: config.mix.duck_depth_db,
            music_level_db: config.mix.music_level_db,
        },
    };
    let options = MuxOptions {
        overwrite: request.overwrite,
        metadata: vec![(
            PROVENANCE_TAG.to_string(),
            serde_json::to_string(&provenance).unwrap_or_default(),
        )],
        ..Default::default()
    };
    Ok(mux(
        &job.input,
        &mix,
        request.dest,
        &options,
        progress,
        cancel,
    )?)
}

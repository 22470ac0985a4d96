//! The generate stage: the plan's sections become four candidates of music, 44.1 kHz stereo,
//! through one of the music engines. The stage talks to the [`MusicEngine`] trait only; each
//! engine turns the plan into its own prompts and requests.

mod engine_kind;
mod joins;
mod riffusion;
mod stable_audio;
mod windows;

use bgm_models::plan::{MusicPlan, CANDIDATES};
use bgm_models::task::{CancelToken, Progress};

use super::error::Result;
use super::files::JobFiles;
use super::stages::PipelineConfig;

pub use engine_kind::{EngineChoice, MusicEngineKind};

/// What one engine is asked for: music for some candidates of the plan.
pub struct EngineRequest<'a> {
    pub plan: &'a MusicPlan,
    /// The candidates to make, in order; their `music.wav` files are replaced, the others kept.
    pub candidates: &'a [usize],
    pub files: &'a JobFiles,
}

/// A music engine: given the plan, it writes each asked candidate's `music.wav` (44.1 kHz
/// stereo, the plan's length) and says how long its denoising took.
pub trait MusicEngine {
    fn generate(
        &self,
        config: &PipelineConfig,
        request: &EngineRequest,
        progress: &mut dyn Progress,
        cancel: &CancelToken,
    ) -> Result<DiffusionTiming>;
}

/// The engine of a kind.
fn engine(kind: MusicEngineKind) -> &'static dyn MusicEngine {
    match kind {
        MusicEngineKind::Riffusion => &riffusion::RiffusionEngine,
        MusicEngineKind::StableAudio => &stable_audio::StableAudioEngine,
    }
}

/// The denoising time of one generation: what a step costs on this machine, and which engine
/// and model made the music (the export names them).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiffusionTiming {
    /// "CPU", "CUDA" or "Metal".
    pub device: String,
    /// Rows per model call: candidates (× 2 for Riffusion's classifier-free guidance).
    pub batch: usize,
    /// Model calls: steps per clip (or window) × clips.
    pub steps: usize,
    /// Wall time of all the steps (model loading excluded).
    pub seconds: f64,
    /// Jobs generated before there was a choice were made by Riffusion.
    #[serde(default)]
    pub engine: MusicEngineKind,
    /// The catalogue model and the revision it was loaded at ("" when not recorded).
    #[serde(default)]
    pub model: String,
}

impl DiffusionTiming {
    /// Seconds per step of all four candidates together; `None` for a single-candidate
    /// regeneration, whose smaller batch says little about a full run.
    pub fn seconds_per_step(&self) -> Option<f64> {
        let full_batch = CANDIDATES * self.engine.rows_per_candidate();
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
    let plan = files.load_plan()?;
    let candidates: Vec<usize> = match only {
        Some(n) => vec![n],
        None => (0..CANDIDATES).collect(),
    };
    let timing = generate_music(config, &plan, &candidates, files, progress, cancel)?;
    files.save_diffusion_timing(&timing)
}

/// The music of `candidates` for `plan`, written into `files` as the generate stage writes
/// it, by the configured engine (the one-shot `generate --plan` runs this).
pub fn generate_music(
    config: &PipelineConfig,
    plan: &MusicPlan,
    candidates: &[usize],
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<DiffusionTiming> {
    let request = EngineRequest {
        plan,
        candidates,
        files,
    };
    engine(config.engine).generate(config, &request, progress, cancel)
}

/// The catalogue model and where it was loaded from, for the job's record: the Hub commit of
/// its cached snapshot, or "local folder".
fn model_label(name: &str, config: &PipelineConfig) -> String {
    use bgm_models::weights::{locate_named, ModelSource};
    match locate_named(name, &config.weights) {
        Ok(found) => match found.source {
            ModelSource::HubCache => match found.root.file_name() {
                Some(commit) => format!("{name}@{}", commit.to_string_lossy()),
                None => name.to_string(),
            },
            ModelSource::UrlCache => format!("{name}@{}", found.entry.revision),
            ModelSource::LocalFolder => format!("{name} (local folder)"),
        },
        Err(_) => name.to_string(),
    }
}

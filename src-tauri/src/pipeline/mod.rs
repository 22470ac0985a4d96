//! The job pipeline: the staged runner and what each stage does, mixing each candidate's music
//! with the video's own audio, and loudness matching.

pub mod disk_space;
mod error;
mod export;
mod files;
mod fingerprint;
mod generate;
mod limiter;
pub mod loudness;
pub mod mix;
mod mix_stage;
mod music_level;
mod music_writer;
mod preview;
mod reseed;
mod runner;
mod separate;
mod spectral_duck;
mod speech_input;
mod stages;

pub use error::PipelineError;
pub use export::{export_candidate, ExportRequest, PROVENANCE_TAG};
pub use files::JobFiles;
pub use generate::{generate_music, DiffusionTiming, EngineChoice, MusicEngineKind};
pub use mix_stage::MixReport;
pub use music_writer::write_music;
pub use reseed::reseed_candidate;
pub use runner::{stage_models, Pipeline, StageProgress};
pub use separate::separate_file;
pub use stages::{PipelineConfig, MIX_CHANNELS, MIX_RATE};

//! What each stage does, given the job's folder. Each reads its inputs from the files of the
//! stages before it, writes its outputs atomically, and loads any model only for its own run.

use std::path::Path;

use bgm_models::device::ComputeDevice;
use bgm_models::emotion::{
    analyse_transcript, EmotionClassifier, TimelineOptions, TranscriptSegment,
};
use bgm_models::plan::{MusicPlan, PlanOptions};
use bgm_models::stt::{TranscribeOptions, Whisper};
use bgm_models::task::{CancelToken, Progress};
use bgm_models::weights::WeightsConfig;

use super::error::{PipelineError, Result};
use super::files::JobFiles;
use super::loudness::LoudnessTarget;
use super::mix::MixSettings;
use super::speech_input::SpeechFile;
use crate::jobs::JobManifest;
use crate::media::{decode_audio_to_wav, detect_cuts, CutOptions, MediaError, WavSink};

/// Whisper's input format.
pub const SPEECH_RATE: u32 = 16_000;
/// The mix format.
pub const MIX_RATE: u32 = 44_100;
pub const MIX_CHANNELS: u16 = 2;

/// Everything the stages need besides the job itself.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    pub weights: WeightsConfig,
    pub device: ComputeDevice,
    /// Catalogue name of the Whisper model.
    pub whisper_model: String,
    pub timeline: TimelineOptions,
    pub cuts: CutOptions,
    /// A section boundary moves onto a shot cut this close to it.
    pub snap_to_cuts_seconds: f64,
    pub plan: PlanOptions,
    /// Diffusion steps, overriding the plan's (`--steps`).
    pub steps: Option<u32>,
    /// The engine that makes the music.
    pub engine: super::generate::MusicEngineKind,
    pub mix: MixSettings,
    pub loudness: LoudnessTarget,
}

impl PipelineConfig {
    pub fn new(weights: WeightsConfig, device: ComputeDevice) -> Self {
        Self {
            weights,
            device,
            whisper_model: bgm_models::stt::DEFAULT_MODEL.into(),
            timeline: TimelineOptions::default(),
            cuts: CutOptions::default(),
            snap_to_cuts_seconds: 2.0,
            plan: PlanOptions::default(),
            steps: None,
            engine: super::generate::MusicEngineKind::default(),
            mix: MixSettings::default(),
            loudness: LoudnessTarget::default(),
        }
    }
}

/// Creates `path`'s folder, so a stage can write it.
pub(super) fn prepare(path: &Path) -> Result<&Path> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| PipelineError::file(parent, e))?;
    }
    Ok(path)
}

/// Decode: the video's sound as Whisper's 16 kHz mono and as the 44.1 kHz stereo of the mix.
/// A video without sound gets silent speech audio and no original.
pub fn decode(
    job: &JobManifest,
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let duration = job.media.duration_seconds.max(0.0);
    let (speech_path, original_path) = (files.speech_audio(), files.original_audio());
    prepare(&speech_path)?;
    let mut half = |f: f64| progress.report(f / 2.0);
    match decode_audio_to_wav(&job.input, &speech_path, SPEECH_RATE, 1, &mut half, cancel) {
        Ok(()) => {
            let mut rest = |f: f64| progress.report(0.5 + f / 2.0);
            let (rate, channels) = (MIX_RATE, MIX_CHANNELS);
            decode_audio_to_wav(
                &job.input,
                &original_path,
                rate,
                channels,
                &mut rest,
                cancel,
            )?;
        }
        Err(MediaError::NoAudio { .. }) => {
            write_silence(&speech_path, duration)?;
            if files.original_audio().exists() {
                std::fs::remove_file(files.original_audio())
                    .map_err(|e| PipelineError::file(&files.original_audio(), e))?;
            }
        }
        Err(e) => return Err(e.into()),
    }
    progress.report(1.0);
    Ok(())
}

/// Whisper's input for a video without sound: silence as long as the video, a block at a time.
fn write_silence(path: &Path, seconds: f64) -> Result<()> {
    let mut sink = WavSink::create(path, SPEECH_RATE, 1)?;
    let mut left = (seconds * f64::from(SPEECH_RATE)) as usize;
    let block = vec![0f32; SPEECH_RATE as usize];
    while left > 0 {
        let n = left.min(block.len());
        sink.write(&block[..n])?;
        left -= n;
    }
    Ok(sink.finish()?)
}

/// Transcribe: Whisper over the speech audio, with an English translation of other languages.
pub fn transcribe(
    config: &PipelineConfig,
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let mut speech = SpeechFile::open(&files.speech_audio())?;
    let whisper = Whisper::load_named(&config.whisper_model, &config.weights, &config.device)?;
    let transcript = whisper.transcribe_for_emotions(
        &mut speech,
        &TranscribeOptions::default(),
        true,
        progress,
        cancel,
    )?;
    files.save_transcript(&transcript)
}

/// Emotions: the classifier over the (English) segments, and the timeline of the whole video.
pub fn emotions(
    job: &JobManifest,
    config: &PipelineConfig,
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let transcript = files.load_transcript()?;
    let segments: Vec<TranscriptSegment> = transcript
        .for_emotions()
        .iter()
        .map(TranscriptSegment::from)
        .collect();
    let classifier = EmotionClassifier::load_default(&config.weights, &config.device)?;
    let duration = job.media.duration_seconds.max(transcript.duration);
    let report = analyse_transcript(
        &classifier,
        &segments,
        duration,
        &config.timeline,
        progress,
        cancel,
    )?;
    files.save_timeline(&report)
}

/// Plan: prompts, seeds and settings per section and candidate. A plan the user edited is kept
/// as long as the timeline it came from is unchanged (the runner only calls this when not).
pub fn plan(config: &PipelineConfig, files: &JobFiles) -> Result<()> {
    let report = files.load_timeline()?;
    // The steps setting is applied by generate, so the plan (and its edits) does not
    // depend on it.
    let mut plan = MusicPlan::from_timeline(&report.timeline, &config.plan)?;
    let cuts: Vec<f64> = files.load_cuts()?.iter().map(|c| c.time_seconds).collect();
    plan.snap_to_cuts(&cuts, config.snap_to_cuts_seconds);
    files.save_plan(&plan)
}

/// Cuts: where the video's picture changes at once (none for a file without video).
pub fn cuts(
    job: &JobManifest,
    config: &PipelineConfig,
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let cuts = if job.media.has_video() {
        detect_cuts(&job.input, &config.cuts, progress, cancel)?
    } else {
        Vec::new()
    };
    files.save_cuts(&cuts)
}

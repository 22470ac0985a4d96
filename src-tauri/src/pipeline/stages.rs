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
use serde::{Deserialize, Serialize};

use super::error::{PipelineError, Result};
use super::files::JobFiles;
use super::loudness::{normalize_matched, Loudness, LoudnessTarget};
use super::mix::{apply_fades, fit_length, mix, MixSettings, SpeechSpan};
use crate::jobs::JobManifest;
use crate::media::{decode_audio, detect_cuts, write_wav, CutOptions, MediaError, PcmAudio};

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

pub(super) fn read_wav(path: &Path) -> Result<PcmAudio> {
    Ok(crate::media::read_wav(path)?)
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
    let mut half = |f: f64| progress.report(f / 2.0);
    let speech = match decode_audio(&job.input, SPEECH_RATE, 1, &mut half, cancel) {
        Ok(pcm) => Some(pcm),
        Err(MediaError::NoAudio { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let silent = || PcmAudio {
        samples: vec![0.0; (duration * f64::from(SPEECH_RATE)) as usize],
        sample_rate: SPEECH_RATE,
        channels: 1,
    };
    write_wav(
        prepare(&files.speech_audio())?,
        speech.as_ref().unwrap_or(&silent()),
    )?;
    if speech.is_some() {
        let mut rest = |f: f64| progress.report(0.5 + f / 2.0);
        let original = decode_audio(&job.input, MIX_RATE, MIX_CHANNELS, &mut rest, cancel)?;
        write_wav(prepare(&files.original_audio())?, &original)?;
    } else if files.original_audio().exists() {
        std::fs::remove_file(files.original_audio())
            .map_err(|e| PipelineError::file(&files.original_audio(), e))?;
    }
    progress.report(1.0);
    Ok(())
}

/// Transcribe: Whisper over the speech audio, with an English translation of other languages.
pub fn transcribe(
    config: &PipelineConfig,
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let speech = read_wav(&files.speech_audio())?;
    let whisper = Whisper::load_named(&config.whisper_model, &config.weights, &config.device)?;
    let transcript = whisper.transcribe_for_emotions(
        &speech.samples,
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

/// Each candidate's loudness after mixing, as stored in `candidates/loudness.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MixReport {
    pub target: LoudnessTarget,
    pub candidates: Vec<Loudness>,
}

/// Mix: each candidate's music fitted to the video, faded, ducked under speech, under the
/// video's own sound, then all four brought to the same loudness.
pub fn mix_candidates(
    job: &JobManifest,
    config: &PipelineConfig,
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<MixReport> {
    let frames = (job.media.duration_seconds.max(0.0) * f64::from(MIX_RATE)).round() as usize;
    let original = if files.original_audio().exists() {
        let mut pcm = read_wav(&files.original_audio())?;
        fit_length(&mut pcm, frames);
        Some(pcm)
    } else {
        None
    };
    let transcript = files.load_transcript()?;
    let speech: Vec<SpeechSpan> = transcript
        .segments
        .iter()
        .map(|s| SpeechSpan {
            start: s.start,
            end: s.end,
        })
        .collect();
    let music_paths = files.each_candidate(JobFiles::music);
    let mut mixes = Vec::with_capacity(music_paths.len());
    for (n, path) in music_paths.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        let mut music = read_wav(path)?;
        if music.sample_rate != MIX_RATE || music.channels != MIX_CHANNELS {
            return Err(PipelineError::file(
                path,
                format!("music must be {MIX_RATE} Hz stereo"),
            ));
        }
        fit_length(&mut music, frames);
        apply_fades(
            &mut music,
            config.mix.fade_in_seconds,
            config.mix.fade_out_seconds,
        );
        mixes.push(mix(&music, original.as_ref(), &speech, &config.mix)?);
        progress.report((n + 1) as f64 / (music_paths.len() + 1) as f64);
    }
    let loudness = normalize_matched(&mut mixes, &config.loudness)?;
    for (n, pcm) in mixes.iter().enumerate() {
        write_wav(prepare(&files.mix(n))?, pcm)?;
        super::preview::write_waveform(&files.preview(n), pcm)
            .map_err(|e| PipelineError::file(&files.preview(n), e))?;
    }
    let report = MixReport {
        target: config.loudness,
        candidates: loudness,
    };
    files.save_loudness(&report)?;
    progress.report(1.0);
    Ok(report)
}

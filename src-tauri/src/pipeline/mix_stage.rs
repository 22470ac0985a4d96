//! The mix stage: each candidate's music laid under the video's own sound and brought to the
//! target loudness, streamed from file to file a block at a time, so an hour of video takes
//! no more memory than a minute.

use std::path::Path;

use bgm_models::task::{CancelToken, Progress};
use serde::{Deserialize, Serialize};

use super::error::{PipelineError, Result};
use super::files::JobFiles;
use super::loudness::{level, Loudness, LoudnessTarget, Meter};
use super::mix::{MixRenderer, MixSettings, OriginalAudio, SpeechSpan};
use super::music_level::music_gain_db;
use super::preview::Waveform;
use super::stages::{prepare, PipelineConfig, MIX_CHANNELS, MIX_RATE};
use crate::jobs::JobManifest;
use crate::media::{FrameSource, WavFrames, WavSink};

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
    let count = music_paths.len().max(1) as f64;
    let mut candidates = Vec::with_capacity(music_paths.len());
    for (n, path) in music_paths.iter().enumerate() {
        let mut part = |f: f64| progress.report((n as f64 + f) / count);
        let job = Candidate {
            music: path,
            frames,
            speech: &speech,
        };
        candidates.push(mix_candidate(&job, n, config, files, &mut part, cancel)?);
    }
    let report = MixReport {
        target: config.loudness,
        candidates,
    };
    files.save_loudness(&report)?;
    progress.report(1.0);
    Ok(report)
}

/// What one candidate's mix is made of.
struct Candidate<'a> {
    music: &'a Path,
    /// The video's length in mix frames.
    frames: usize,
    speech: &'a [SpeechSpan],
}

/// Mixes candidate `n` into an unlevelled file beside its mix (measuring it on the way), then
/// levels that into the mix and its waveform picture.
fn mix_candidate(
    candidate: &Candidate,
    n: usize,
    config: &PipelineConfig,
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<Loudness> {
    let mut music = WavFrames::open(candidate.music)?;
    if music.sample_rate() != MIX_RATE || music.channels() != MIX_CHANNELS {
        return Err(PipelineError::file(
            candidate.music,
            format!("music must be {MIX_RATE} Hz stereo"),
        ));
    }
    // What of the video's own sound goes under the music: all of it, its speech stem, or
    // nothing (a video without sound has neither).
    let kept = match config.mix.original_audio {
        OriginalAudio::Replace => None,
        OriginalAudio::Speech => Some(files.speech_stem()),
        OriginalAudio::Duck | OriginalAudio::Keep => Some(files.original_audio()),
    };
    let mut original = match kept {
        Some(path) if files.original_audio().exists() => Some(WavFrames::open(&path)?),
        _ => None,
    };
    let mix_path = files.mix(n);
    let dir = prepare(&mix_path)?.parent().unwrap_or(Path::new("."));
    // Removed when dropped, whatever happens.
    let unlevelled = tempfile::Builder::new()
        .prefix(".mix-unlevelled")
        .suffix(".wav")
        .tempfile_in(dir)
        .map_err(|e| PipelineError::file(dir, e))?;
    let settings = MixSettings {
        music_level_db: config.mix.music_level_db + music_gain_db(&mut music, candidate.frames)?,
        ..config.mix.clone()
    };
    let mut renderer = MixRenderer::new(
        &mut music,
        original.as_mut().map(|o| o as &mut dyn FrameSource),
        candidate.speech,
        &settings,
        candidate.frames,
    )?;
    let mut sink = WavSink::create(unlevelled.path(), MIX_RATE, MIX_CHANNELS)?;
    let mut meter = Meter::new(MIX_CHANNELS, MIX_RATE)?;
    let mut done = 0usize;
    while let Some(block) = renderer.next_block()? {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        sink.write(&block)?;
        meter.add(&block)?;
        done += block.len() / usize::from(MIX_CHANNELS);
        progress.report(0.5 * done as f64 / candidate.frames.max(1) as f64);
    }
    sink.finish()?;
    let before = meter.loudness()?;

    let mut unlevelled_audio = WavFrames::open(unlevelled.path())?;
    let mut out = WavSink::create(&mix_path, MIX_RATE, MIX_CHANNELS)?;
    let mut waveform = Waveform::new(candidate.frames, MIX_CHANNELS);
    let loudness = level(
        &mut unlevelled_audio,
        &config.loudness,
        Some(before),
        cancel,
        &mut |block| {
            out.write(block)?;
            waveform.add(block);
            Ok(())
        },
    )?;
    out.finish()?;
    waveform
        .write(&files.preview(n))
        .map_err(|e| PipelineError::file(&files.preview(n), e))?;
    progress.report(1.0);
    Ok(loudness)
}

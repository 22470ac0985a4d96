//! Separate: the video's own sound split by Demucs into a speech stem (its vocals) and a
//! background stem (everything else), read from the original WAV and written to the two stem
//! WAVs a segment at a time, so an hour of sound needs no more memory than a few segments.

use std::path::Path;

use bgm_models::separation::{
    load_default, separate_stream, HtDemucs, MixStatistics, SeparationError, SPEECH_SOURCE,
};
use bgm_models::task::{CancelToken, Progress};

use super::error::{PipelineError, Result};
use super::files::JobFiles;
use super::stages::{prepare, PipelineConfig};
use crate::media::{FrameSource, WavFrames, WavSink};

/// Frames read at a time when measuring the input.
const MEASURE_BLOCK: usize = 1 << 16;

/// The stage: stems of the original sound, or none for a video without sound (its mixes
/// have no original to keep).
pub fn separate(
    config: &PipelineConfig,
    files: &JobFiles,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let original = files.original_audio();
    if !original.exists() {
        for stem in [files.speech_stem(), files.background_stem()] {
            if stem.exists() {
                std::fs::remove_file(&stem).map_err(|e| PipelineError::file(&stem, e))?;
            }
        }
        progress.report(1.0);
        return Ok(());
    }
    let model = load_default(&config.weights, &config.device)?;
    separate_file(
        &model,
        &original,
        &files.speech_stem(),
        &files.background_stem(),
        progress,
        cancel,
    )
}

/// Separates the WAV at `input` (the model's rate and channels) into `speech` and
/// `background` WAVs of the same format. Neither appears unless both are complete.
pub fn separate_file(
    model: &HtDemucs,
    input: &Path,
    speech: &Path,
    background: &Path,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let config = model.config();
    let mut source = WavFrames::open(input)?;
    let (rate, channels) = (source.sample_rate(), source.channels());
    if rate as usize != config.samplerate || usize::from(channels) != config.audio_channels {
        return Err(PipelineError::file(
            input,
            format!(
                "is {rate} Hz with {channels} channels; the separation model takes {} Hz with {}",
                config.samplerate, config.audio_channels
            ),
        ));
    }
    let frames = source.frames();
    if frames == 0 {
        return Err(PipelineError::file(input, "has no samples to separate"));
    }
    let speech_index = config.source_index(SPEECH_SOURCE).ok_or_else(|| {
        SeparationError::Input(format!(
            "the model has no \"{SPEECH_SOURCE}\" source (it has {})",
            config.sources.join(", ")
        ))
    })?;
    let stats = measure(&mut source, cancel)?;

    let mut speech_sink = WavSink::create(prepare(speech)?, rate, channels)?;
    let mut background_sink = WavSink::create(prepare(background)?, rate, channels)?;
    let planes = usize::from(channels);
    let sources = config.sources.len();
    let mut read = |start: isize, len: usize| -> bgm_models::separation::Result<Vec<f32>> {
        let interleaved = source
            .read(start as i64, len)
            .map_err(|e| SeparationError::Input(e.to_string()))?;
        Ok(planar(&interleaved, planes))
    };
    let mut sink_error = None;
    let mut write = |block: &[f32], n: usize| -> bgm_models::separation::Result<()> {
        let mut speech_block = vec![0f32; n * planes];
        let mut background_block = vec![0f32; n * planes];
        for s in 0..sources {
            let target = if s == speech_index {
                &mut speech_block
            } else {
                &mut background_block
            };
            for c in 0..planes {
                let plane = &block[(s * planes + c) * n..][..n];
                for (i, v) in plane.iter().enumerate() {
                    target[i * planes + c] += v;
                }
            }
        }
        let written = speech_sink
            .write(&speech_block)
            .and_then(|()| background_sink.write(&background_block));
        written.map_err(|e| {
            let message = e.to_string();
            sink_error = Some(e);
            SeparationError::Input(message)
        })
    };
    let mut report = |done: usize, total: usize| {
        progress.report(done as f64 / total.max(1) as f64);
        !cancel.is_cancelled()
    };
    let separated = separate_stream(model, frames, stats, &mut read, &mut write, &mut report);
    if let Some(e) = sink_error {
        return Err(e.into());
    }
    separated?;
    speech_sink.finish()?;
    background_sink.finish()?;
    Ok(())
}

/// The mono mix's mean and deviation, which the model's input is standardised by.
fn measure(source: &mut WavFrames, cancel: &CancelToken) -> Result<MixStatistics> {
    let channels = usize::from(source.channels());
    let mut stats = MixStatistics::default();
    let mut start = 0;
    while start < source.frames() {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        let count = MEASURE_BLOCK.min(source.frames() - start);
        let block = source.read(start as i64, count)?;
        stats.add(&planar(&block, channels), channels);
        start += count;
    }
    Ok(stats)
}

/// Interleaved frames → one plane per channel.
fn planar(interleaved: &[f32], channels: usize) -> Vec<f32> {
    let frames = interleaved.len() / channels;
    let mut out = vec![0f32; interleaved.len()];
    for (i, frame) in interleaved.chunks_exact(channels).enumerate() {
        for (c, v) in frame.iter().enumerate() {
            out[c * frames + i] = *v;
        }
    }
    out
}

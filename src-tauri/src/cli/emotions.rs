//! `emotions` and `plan`: from a transcript to the emotion timeline and the music plan.

use std::path::Path;

use anyhow::Context;
use bgm_models::device::ComputeDevice;
use bgm_models::emotion::{
    analyse_transcript, EmotionClassifier, EmotionReport, TimelineOptions, TranscriptSegment,
};
use bgm_models::plan::{MusicPlan, PlanOptions};
use bgm_models::task::CancelToken;
use bgm_models::weights::WeightsConfig;
use serde::Deserialize;

use super::transcribe::{transcribe_file, TranscribeRequest};
use super::{print_json, progress};
use crate::jobs::write_atomic;
use bgm_models::stt::Task;

/// A transcript file: `{"segments": [...], "duration": …}` as the transcribe stage writes it,
/// or a bare list of `{start, end, text}` segments.
#[derive(Deserialize)]
#[serde(untagged)]
enum TranscriptFile {
    Full {
        segments: Vec<TranscriptSegment>,
        /// The English translation of non-English speech, which the classifier reads.
        #[serde(default)]
        english: Option<Vec<TranscriptSegment>>,
        #[serde(default)]
        duration: Option<f64>,
    },
    Segments(Vec<TranscriptSegment>),
}

/// The segments and the video's length: `--duration`, else the file's, else the last segment's end.
fn read_transcript(
    path: &Path,
    duration: Option<f64>,
) -> anyhow::Result<(Vec<TranscriptSegment>, f64)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading \"{}\"", path.display()))?;
    let file: TranscriptFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "\"{}\" is not a transcript: expected {{\"segments\": [{{\"start\", \"end\", \"text\"}}, …]}}",
            path.display()
        )
    })?;
    let (segments, from_file) = match file {
        TranscriptFile::Full {
            segments,
            english,
            duration,
        } => (english.unwrap_or(segments), duration),
        TranscriptFile::Segments(segments) => (segments, None),
    };
    let last_end = segments.iter().map(|s| s.end).fold(0.0, f64::max);
    let duration = duration.or(from_file).unwrap_or(last_end);
    anyhow::ensure!(
        duration > 0.0 && duration >= last_end,
        "the video length ({duration} s) must be positive and cover the last segment ({last_end} s); pass --duration"
    );
    Ok((segments, duration))
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// A media file's speech as English segments (translated when spoken in another language).
fn transcribe_media(
    file: &Path,
    duration: Option<f64>,
    weights: &WeightsConfig,
    device: &ComputeDevice,
) -> anyhow::Result<(Vec<TranscriptSegment>, f64)> {
    let request = TranscribeRequest {
        model: bgm_models::stt::DEFAULT_MODEL,
        language: None,
        task: Task::Transcribe,
        beam_size: None,
        english: true,
    };
    let transcript = transcribe_file(file, &request, weights, device)?;
    let segments = transcript
        .for_emotions()
        .iter()
        .map(TranscriptSegment::from)
        .collect();
    Ok((segments, duration.unwrap_or(transcript.duration)))
}

pub(super) fn analyse(
    transcript: &Path,
    duration: Option<f64>,
    weights: &WeightsConfig,
    device: &ComputeDevice,
) -> anyhow::Result<EmotionReport> {
    let (segments, duration) = if is_json(transcript) {
        read_transcript(transcript, duration)?
    } else {
        transcribe_media(transcript, duration, weights, device)?
    };
    let classifier = EmotionClassifier::load_default(weights, device)?;
    let bar = progress::bar("classifying");
    let report = analyse_transcript(
        &classifier,
        &segments,
        duration,
        &TimelineOptions::default(),
        &mut progress::follow(&bar),
        &CancelToken::new(),
    )?;
    bar.finish_and_clear();
    Ok(report)
}

pub(super) fn print_report(report: &EmotionReport, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(report);
    }
    println!("segments:");
    for s in &report.segments {
        println!(
            "  {:>7.2}–{:<7.2} {:<8} {:>4.0}%  {}",
            s.start,
            s.end,
            format!("{:?}", s.emotion).to_lowercase(),
            s.confidence * 100.0,
            s.text.trim()
        );
    }
    println!("timeline:");
    for section in &report.timeline.sections {
        let emotion = format!("{:?}", section.effective_emotion()).to_lowercase();
        println!(
            "  {:>7.2}–{:<7.2} {emotion:<8} {:>4.0}%",
            section.start,
            section.end,
            section.confidence * 100.0
        );
    }
    Ok(())
}

pub(super) fn write_plan(report: &EmotionReport, seed: u32, out: &Path) -> anyhow::Result<()> {
    let options = PlanOptions {
        seed,
        ..Default::default()
    };
    let plan = MusicPlan::from_timeline(&report.timeline, &options)?;
    write_atomic(out, plan.to_json()?.as_bytes())
        .with_context(|| format!("writing \"{}\"", out.display()))?;
    println!(
        "wrote {} ({} section(s), 4 candidates)",
        out.display(),
        plan.sections.len()
    );
    Ok(())
}

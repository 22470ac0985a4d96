//! Everything the job view shows, read from the job's folder: stages, transcript, emotion
//! sections with their prompts, and the candidates. Missing files mean "not made yet".

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bgm_models::emotion::{Emotion, EmotionReport};
use bgm_models::plan::{MusicPlan, CANDIDATES};
use bgm_models::stt::SpeechTranscript;
use serde::Serialize;

use super::jobs::JobView;
use crate::jobs::{JobManifest, StageName, StageState};
use crate::pipeline::{JobFiles, MixReport, PipelineError};

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct JobDetails {
    pub job: JobView,
    pub stages: Vec<StageView>,
    /// The detected (or given) language of the speech.
    pub language: Option<String>,
    pub transcript: Vec<TranscriptLine>,
    pub sections: Vec<SectionView>,
    /// The video's shot cuts, seconds (once found).
    pub cuts: Vec<f64>,
    pub candidates: Vec<CandidateView>,
    /// Where the window's `<video>` loads the input from (the loopback server).
    pub video_url: Option<String>,
    /// A run, regeneration or export of this job is in progress.
    pub busy: bool,
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StageView {
    pub name: StageName,
    pub state: StageState,
    pub seconds: Option<f64>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptLine {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// The English translation the emotions were read from, for speech in another language.
    pub english: Option<String>,
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SectionView {
    pub start: f64,
    pub end: f64,
    /// The emotion the music follows (the user's choice when there is one).
    pub emotion: Emotion,
    /// What the classifier found, and how sure it was (0..1).
    pub detected: Emotion,
    pub confidence: f32,
    pub description: String,
    /// One prompt per candidate.
    pub prompts: Vec<String>,
    /// The section starts on a shot cut (its boundary was moved there).
    pub snapped: bool,
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CandidateView {
    pub index: u32,
    pub palette: String,
    pub ready: bool,
    /// The mix's waveform picture as a data URL, once mixed.
    pub preview: Option<String>,
    pub loudness_lufs: Option<f64>,
}

/// Reads the job's folder into the view. A damaged file is reported as a missing part (and
/// logged) rather than failing the whole view, so the job stays reachable.
pub fn read_job_details(manifest: JobManifest, dir: &Path, busy: bool) -> JobDetails {
    let files = JobFiles::new(dir);
    let stages = StageName::ALL
        .iter()
        .map(|&name| {
            let record = manifest.stage(name);
            StageView {
                name,
                state: record.state,
                seconds: record.seconds,
                error: record.error,
            }
        })
        .collect();
    let transcript = optional(files.transcript(), || files.load_transcript());
    let report = optional(files.timeline(), || files.load_timeline());
    let plan = optional(files.plan(), || files.load_plan());
    let mixes = optional(files.loudness(), || files.load_loudness());
    let cuts = optional(files.cuts(), || files.load_cuts()).unwrap_or_default();
    JobDetails {
        cuts: cuts.iter().map(|c| c.time_seconds).collect(),
        language: transcript.as_ref().map(|t| t.language.clone()),
        transcript: transcript
            .as_ref()
            .map(transcript_lines)
            .unwrap_or_default(),
        sections: sections(report.as_ref(), plan.as_ref()),
        candidates: candidates(&files, plan.as_ref(), mixes.as_ref()),
        stages,
        job: manifest.into(),
        video_url: None,
        busy,
    }
}

/// A stage's file once it exists; a damaged one is logged and left out.
fn optional<T>(path: PathBuf, load: impl FnOnce() -> Result<T, PipelineError>) -> Option<T> {
    if !path.exists() {
        return None;
    }
    load().map_err(|e| tracing::warn!("{e}")).ok()
}

fn transcript_lines(transcript: &SpeechTranscript) -> Vec<TranscriptLine> {
    let english = transcript.english.as_deref().unwrap_or_default();
    transcript
        .segments
        .iter()
        .map(|s| TranscriptLine {
            start: s.start,
            end: s.end,
            text: s.text.trim().to_string(),
            // The translation is segmented on its own: the line it overlaps most.
            english: english
                .iter()
                .max_by(|a, b| overlap(a, s).total_cmp(&overlap(b, s)))
                .filter(|e| overlap(e, s) > 0.0)
                .map(|e| e.text.trim().to_string()),
        })
        .collect()
}

fn overlap(a: &bgm_models::stt::Segment, b: &bgm_models::stt::Segment) -> f64 {
    (a.end.min(b.end) - a.start.max(b.start)).max(0.0)
}

/// The plan's sections when there is a plan (they carry the prompts and the user's emotion),
/// with the classifier's verdict from the timeline beside them.
fn sections(report: Option<&EmotionReport>, plan: Option<&MusicPlan>) -> Vec<SectionView> {
    let timeline = report
        .map(|r| r.timeline.sections.as_slice())
        .unwrap_or_default();
    match plan {
        Some(plan) => plan
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let detected = timeline.get(i);
                SectionView {
                    start: s.start,
                    end: s.end,
                    emotion: s.emotion,
                    detected: detected.map_or(s.emotion, |d| d.emotion),
                    confidence: detected.map_or(0.0, |d| d.confidence),
                    description: s.description.clone(),
                    prompts: s.candidates.iter().map(|c| c.prompt.clone()).collect(),
                    snapped: i
                        .checked_sub(1)
                        .and_then(|b| plan.transitions.get(b))
                        .is_some_and(|t| t.snapped),
                }
            })
            .collect(),
        None => timeline
            .iter()
            .map(|s| SectionView {
                start: s.start,
                end: s.end,
                emotion: s.effective_emotion(),
                detected: s.emotion,
                confidence: s.confidence,
                description: String::new(),
                prompts: Vec::new(),
                snapped: false,
            })
            .collect(),
    }
}

fn candidates(
    files: &JobFiles,
    plan: Option<&MusicPlan>,
    mixes: Option<&MixReport>,
) -> Vec<CandidateView> {
    (0..CANDIDATES)
        .map(|n| {
            let mix = files.mix(n);
            let ready = mix.exists();
            CandidateView {
                index: n as u32,
                palette: plan
                    .and_then(|p| p.candidates.get(n))
                    .map(|c| c.palette.clone())
                    .unwrap_or_else(|| bgm_models::plan::PALETTES[n].to_string()),
                ready,
                preview: ready.then(|| png_data_url(&files.preview(n))).flatten(),
                loudness_lufs: mixes
                    .filter(|_| ready)
                    .and_then(|m| m.candidates.get(n))
                    .map(|l| l.integrated_lufs),
            }
        })
        .collect()
}

fn png_data_url(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(format!("data:image/png;base64,{}", STANDARD.encode(bytes)))
}

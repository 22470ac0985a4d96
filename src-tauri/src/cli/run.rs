//! `run`: the whole pipeline on a video (or resuming a job), writing the four mixes.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bgm_models::task::CancelToken;
use indicatif::ProgressBar;
use serde::Serialize;

use super::{print_json, progress};
use crate::jobs::{JobId, JobManifest, StageName};
use crate::pipeline::{JobFiles, MixReport, PipelineError, StageProgress};
use crate::studio::Studio;

/// What `run` reports.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunReport {
    job: JobId,
    stages: Vec<StageTiming>,
    mixes: Vec<PathBuf>,
    loudness: MixReport,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StageTiming {
    stage: StageName,
    seconds: Option<f64>,
}

pub(super) struct RunRequest<'a> {
    /// A video, or the id of a job to resume.
    pub target: &'a str,
    /// Download missing models first instead of stopping with what to download.
    pub download: bool,
    pub out: Option<PathBuf>,
    pub json: bool,
}

pub(super) fn run(request: &RunRequest, studio: &Studio) -> anyhow::Result<()> {
    execute(request, None, studio)
}

/// New music for one candidate (or one section of it) of the job `request.target`.
pub(super) fn regenerate(
    request: &RunRequest,
    candidate: usize,
    section: Option<usize>,
    studio: &Studio,
) -> anyhow::Result<()> {
    request.target.parse::<JobId>()?;
    execute(request, Some((candidate, section)), studio)
}

fn execute(
    request: &RunRequest,
    regenerate: Option<(usize, Option<usize>)>,
    studio: &Studio,
) -> anyhow::Result<()> {
    let store = studio.store();
    let job = match request.target.parse::<JobId>() {
        Ok(id) => store.load(id)?,
        Err(_) => studio.open_video(Path::new(request.target))?,
    };
    if !request.json {
        eprintln!("job {}", job.id);
    }
    let missing = studio.missing_models(job.id, regenerate.is_some())?;
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|m| m.name.as_str()).collect();
        if !request.download {
            anyhow::bail!(
                "{}; download them with `bgm-studio models download {}`, or run again with --download",
                PipelineError::ModelsMissing(missing.clone()),
                names.join(" ")
            );
        }
        for name in names {
            let folder = super::models::download(name, studio.weights())?;
            // stdout is for the report (JSON with --json).
            eprintln!("{name}: ready in {}", folder.display());
        }
    }
    let bar = progress::bar("decode");
    let cancel = CancelToken::new();
    let done = match regenerate {
        Some((candidate, section)) => studio.regenerate(
            job.id,
            candidate,
            section,
            &mut follow_stages(&bar),
            &cancel,
        )?,
        None => studio.run(job.id, &mut follow_stages(&bar), &cancel)?,
    };
    bar.finish_and_clear();
    let files = JobFiles::new(&store.dir(done.id));
    let mixes = copy_mixes(&files, request.out.as_deref())?;
    let loudness: MixReport = read_report(&files)?;
    let report = RunReport {
        job: done.id,
        stages: timings(&done),
        mixes,
        loudness,
    };
    if request.json {
        return print_json(&report);
    }
    for t in &report.stages {
        let seconds = t.seconds.map_or("-".into(), |s| format!("{s:.2} s"));
        println!("{:<11} {seconds}", format!("{:?}", t.stage).to_lowercase());
    }
    for (path, l) in report.mixes.iter().zip(&report.loudness.candidates) {
        println!(
            "{}  {:.1} LUFS, true peak {:.1} dBTP",
            path.display(),
            l.integrated_lufs,
            l.true_peak_dbtp
        );
    }
    Ok(())
}

/// Moves the bar with each stage's progress, naming the stage.
fn follow_stages(bar: &ProgressBar) -> impl FnMut(&StageProgress) + Send + '_ {
    move |p: &StageProgress| {
        bar.set_message(format!("{:?}", p.stage).to_lowercase());
        bar.set_position((p.fraction * 1000.0) as u64);
    }
}

fn timings(job: &JobManifest) -> Vec<StageTiming> {
    StageName::ALL
        .iter()
        .map(|&stage| StageTiming {
            stage,
            seconds: job.stage(stage).seconds,
        })
        .collect()
}

fn read_report(files: &JobFiles) -> anyhow::Result<MixReport> {
    Ok(files.load_loudness()?)
}

/// The mixes, copied to `out` as `candidate-N.wav` when asked, else where the job keeps them.
fn copy_mixes(files: &JobFiles, out: Option<&Path>) -> anyhow::Result<Vec<PathBuf>> {
    let sources = files.each_candidate(JobFiles::mix);
    let Some(out) = out else {
        return Ok(sources);
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating \"{}\"", out.display()))?;
    sources
        .iter()
        .enumerate()
        .map(|(n, source)| {
            let dest = out.join(format!("candidate-{n}.wav"));
            std::fs::copy(source, &dest)
                .with_context(|| format!("writing \"{}\"", dest.display()))?;
            Ok(dest)
        })
        .collect()
}

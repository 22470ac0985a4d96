//! `generate` with Stable Audio: from a prompt, one pass of up to 120 s for every candidate
//! (seed + i each); from a plan, the generate stage's own engine on a scratch job folder, so
//! the music is what a job with that plan gets.

use std::path::PathBuf;

use anyhow::Context;
use bgm_models::stable_audio::{MusicRequest, StableAudio, DEFAULT_STEPS, MAX_SAMPLES};
use bgm_models::task::{CancelToken, Progress};
use bgm_models::weights::locate_named;
use serde::Serialize;

use super::generate::{read_plan, GenerateArgs};
use super::{print_json, progress};
use crate::media::WavSink;
use crate::pipeline::{generate_music, JobFiles, MusicEngineKind, PipelineConfig, MIX_RATE};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    engine: &'static str,
    steps: usize,
    candidates: Vec<PathBuf>,
}

pub(super) fn run(args: &GenerateArgs, config: &PipelineConfig) -> anyhow::Result<()> {
    let riffusion_only = [
        (args.init.is_some(), "--init"),
        (args.guidance.is_some(), "--guidance"),
        (args.negative.is_some(), "--negative"),
    ];
    if let Some((_, flag)) = riffusion_only.iter().find(|(given, _)| *given) {
        anyhow::bail!("{flag} is Riffusion's; Stable Audio takes none (use --engine riffusion)");
    }
    let steps = args.steps.unwrap_or(DEFAULT_STEPS);
    let bar = progress::bar("generating");
    let cancel = CancelToken::new();
    let candidates = match &args.plan {
        Some(path) => from_plan(args, path, config, &mut progress::follow(&bar), &cancel)?,
        None => from_prompt(args, steps, config, &mut progress::follow(&bar), &cancel)?,
    };
    bar.finish_and_clear();
    let report = Report {
        engine: MusicEngineKind::StableAudio.as_str(),
        steps,
        candidates,
    };
    if args.json {
        return print_json(&report);
    }
    for (index, path) in report.candidates.iter().enumerate() {
        println!("candidate {index}: {}", path.display());
    }
    Ok(())
}

/// The plan's music through the pipeline's engine; the files move to candidate-N/music.wav.
fn from_plan(
    args: &GenerateArgs,
    path: &std::path::Path,
    config: &PipelineConfig,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> anyhow::Result<Vec<PathBuf>> {
    let plan = read_plan(path)?;
    let count = args.candidates.min(plan.sections[0].candidates.len());
    let candidates: Vec<usize> = (0..count).collect();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating \"{}\"", args.out.display()))?;
    let scratch = tempfile::tempdir_in(&args.out)
        .with_context(|| format!("a scratch folder in \"{}\"", args.out.display()))?;
    let files = JobFiles::new(scratch.path());
    let mut config = config.clone();
    config.steps = args.steps.map(|s| s as u32);
    generate_music(&config, &plan, &candidates, &files, progress, cancel)?;
    candidates
        .iter()
        .map(|&n| {
            let dest = candidate_file(args, n)?;
            std::fs::rename(files.music(n), &dest)
                .with_context(|| format!("writing \"{}\"", dest.display()))?;
            Ok(dest)
        })
        .collect()
}

/// One pass of `--seconds` for every candidate, the same prompt, seeds seed, seed + 1, ….
fn from_prompt(
    args: &GenerateArgs,
    steps: usize,
    config: &PipelineConfig,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> anyhow::Result<Vec<PathBuf>> {
    let longest = MAX_SAMPLES as f64 / f64::from(MIX_RATE);
    anyhow::ensure!(
        args.seconds > 0.0 && args.seconds <= longest,
        "--seconds must be more than 0 and at most {longest:.1} (one pass), not {}",
        args.seconds
    );
    let folder = locate_named(MusicEngineKind::StableAudio.model_name(), &config.weights)?;
    let model = StableAudio::from_folder(&folder.root, false, &config.device)?;
    let prompt = args.prompt.clone().unwrap_or_default();
    let prompts = vec![prompt.as_str(); args.candidates];
    let seeds: Vec<u64> = (0..args.candidates as u64).map(|i| args.seed + i).collect();
    let music = model.generate(
        &MusicRequest {
            prompts: &prompts,
            seeds: &seeds,
            seconds: args.seconds,
            steps,
            continuation: None,
        },
        progress,
        cancel,
    )?;
    music
        .interleaved_stereo()?
        .iter()
        .enumerate()
        .map(|(n, samples)| {
            let dest = candidate_file(args, n)?;
            let mut sink = WavSink::create(&dest, MIX_RATE, 2)?;
            sink.write(samples)?;
            sink.finish()?;
            Ok(dest)
        })
        .collect()
}

/// `OUT/candidate-N/music.wav`, its folder made.
fn candidate_file(args: &GenerateArgs, n: usize) -> anyhow::Result<PathBuf> {
    let folder = args.out.join(format!("candidate-{n}"));
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("creating \"{}\"", folder.display()))?;
    Ok(folder.join("music.wav"))
}

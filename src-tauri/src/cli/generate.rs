//! `generate`: music from a prompt or a plan. With Riffusion: spectrogram clips and their
//! audio, from a prompt (one clip per candidate, all candidates in one batch) or from a music
//! plan (every candidate's music for the whole plan, as seamless clip sequences). Stable Audio
//! is in `generate_stable_audio`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bgm_models::device::ComputeDevice;
use bgm_models::plan::MusicPlan;
use bgm_models::riffusion::{
    generate, generate_long, CandidateRequest, GenerateOptions, InitImages, LongOptions,
    RiffusionModel, SchedulerKind, DEFAULT_HEIGHT,
};
use bgm_models::spectrogram::{SpectrogramConverter, SpectrogramParams};
use bgm_models::task::CancelToken;
use bgm_models::weights::WeightsConfig;
use image::RgbImage;
use serde::Serialize;

use super::{print_json, progress};
use crate::pipeline::{write_music, MusicEngineKind};
use crate::studio::Studio;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// What the music should be ("acoustic folk violin jam"); one clip per candidate.
    #[arg(long, required_unless_present = "plan", conflicts_with = "plan")]
    pub prompt: Option<String>,
    /// A music plan (plan.json): every candidate's music for the whole plan.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// What the music should not be (default: empty, or the plan's).
    #[arg(long)]
    pub negative: Option<String>,
    /// Seed of the first candidate; candidate i uses seed + i.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Denoising steps (default: 25 for dpm++2m, 50 for ddim, or the plan's).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Image width in pixels, a multiple of 8; 512 is 5.12 s of audio.
    #[arg(long, default_value_t = 512)]
    pub width: usize,
    /// Start from this spectrogram image (image-to-image).
    #[arg(long, conflicts_with = "plan")]
    pub init: Option<PathBuf>,
    /// How far from the init image to go: 0 keeps it, 1 ignores it.
    #[arg(long, default_value_t = 0.75, requires = "init")]
    pub strength: f64,
    /// Candidates, generated as one batch.
    #[arg(long, default_value_t = 4)]
    pub candidates: usize,
    /// Classifier-free guidance scale (default 7, or the plan's).
    #[arg(long)]
    pub guidance: Option<f64>,
    /// ddim or dpm++2m.
    #[arg(long, default_value = "dpm++2m", value_parser = parse_scheduler)]
    pub scheduler: SchedulerKind,
    /// Output folder: candidate-N/music.wav (and Riffusion's candidate-N/clip-K.png).
    #[arg(long)]
    pub out: PathBuf,
    /// The music engine (default: the setting). `--width`, `--init`, `--guidance`,
    /// `--negative` and `--scheduler` are Riffusion's.
    #[arg(long, value_enum)]
    pub engine: Option<super::EngineArg>,
    /// Stable Audio: seconds of music from a prompt (up to 120).
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    #[arg(long)]
    pub json: bool,
}

fn parse_scheduler(value: &str) -> Result<SchedulerKind, String> {
    value
        .parse()
        .map_err(|e: bgm_models::riffusion::RiffusionError| e.to_string())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CandidateOutput {
    index: usize,
    clips: Vec<PathBuf>,
    spectrogram: Option<PathBuf>,
    audio: PathBuf,
    seconds: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    scheduler: String,
    steps: usize,
    clips_per_candidate: usize,
    candidates: Vec<CandidateOutput>,
}

pub(super) fn run(args: GenerateArgs, studio: &Studio) -> anyhow::Result<()> {
    anyhow::ensure!(args.candidates >= 1, "--candidates must be at least 1");
    let config = studio.pipeline_config()?;
    match config.engine {
        MusicEngineKind::StableAudio => super::generate_stable_audio::run(&args, &config),
        MusicEngineKind::Riffusion => run_riffusion(args, &config.weights, &config.device),
    }
}

fn run_riffusion(
    args: GenerateArgs,
    weights: &WeightsConfig,
    device: &ComputeDevice,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.width > 0 && args.width.is_multiple_of(8),
        "--width must be a positive multiple of 8, not {}",
        args.width
    );
    let plan = match &args.plan {
        Some(path) => Some(read_plan(path)?),
        None => None,
    };
    let init = match &args.init {
        Some(path) => Some(
            image::open(path)
                .with_context(|| format!("reading the init image \"{}\"", path.display()))?
                .to_rgb8(),
        ),
        None => None,
    };
    let model = RiffusionModel::load_default(weights, device)?;
    let bar = progress::bar("generating");
    let cancel = CancelToken::new();
    let steps = args
        .steps
        .or(plan.as_ref().map(|p| p.steps as usize))
        .unwrap_or(args.scheduler.default_steps());
    // (clip images, seamless spectrogram when there are several clips) per candidate.
    let music: Vec<(Vec<RgbImage>, Option<RgbImage>)> = match &plan {
        Some(plan) => {
            anyhow::ensure!(
                plan.sections.iter().all(|s| s.candidates.len()
                    >= args.candidates.min(plan.sections[0].candidates.len())),
                "the plan's sections must list the same candidates"
            );
            let mut options = LongOptions::from_plan(plan, args.scheduler);
            options.clip_width = args.width;
            options.steps = steps;
            if let Some(g) = args.guidance {
                options.guidance_scale = g;
            }
            if let Some(n) = &args.negative {
                options.negative_prompt = n.clone();
            }
            let mut plan = plan.clone();
            for section in &mut plan.sections {
                section.candidates.truncate(args.candidates);
            }
            let long = generate_long(
                &model,
                &plan,
                &options,
                &mut progress::follow(&bar),
                &cancel,
            )?;
            long.clip_images
                .into_iter()
                .zip(long.spectrograms)
                .map(|(clips, whole)| (clips, Some(whole)))
                .collect()
        }
        None => {
            let prompt = args.prompt.clone().unwrap_or_default();
            let candidates: Vec<CandidateRequest> = (0..args.candidates)
                .map(|i| CandidateRequest::new(prompt.clone(), args.seed + i as u64))
                .collect();
            let options = GenerateOptions {
                negative_prompt: args.negative.clone().unwrap_or_default(),
                steps,
                width: args.width,
                height: DEFAULT_HEIGHT,
                guidance_scale: args.guidance.unwrap_or(7.0),
                scheduler: args.scheduler,
                init: init.map(|image| InitImages {
                    images: vec![image],
                    strength: args.strength,
                }),
            };
            let out = generate(
                &model,
                &candidates,
                &options,
                None,
                &mut progress::follow(&bar),
                &cancel,
            )?;
            out.images
                .into_iter()
                .map(|image| (vec![image], None))
                .collect()
        }
    };
    bar.finish_and_clear();
    // The stage is over: free the model (and its GPU memory) before the audio work.
    drop(model);

    let converter = SpectrogramConverter::new(SpectrogramParams::default())?;
    let mut report = Report {
        scheduler: args.scheduler.to_string(),
        steps,
        clips_per_candidate: music.first().map_or(0, |(clips, _)| clips.len()),
        candidates: Vec::new(),
    };
    for (index, (clips, whole)) in music.into_iter().enumerate() {
        let folder = args.out.join(format!("candidate-{index}"));
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating \"{}\"", folder.display()))?;
        let mut clip_paths = Vec::new();
        for (k, clip) in clips.iter().enumerate() {
            let path = folder.join(format!("clip-{k:03}.png"));
            save_png(clip, &path)?;
            clip_paths.push(path);
        }
        let spectrogram = match &whole {
            Some(image) => {
                let path = folder.join("spectrogram.png");
                save_png(image, &path)?;
                Some(path)
            }
            None => None,
        };
        let source = whole.as_ref().unwrap_or(&clips[0]);
        let audio_path = folder.join("music.wav");
        let seconds = write_music(&converter, source, args.seed, &folder, &audio_path)?;
        report.candidates.push(CandidateOutput {
            index,
            clips: clip_paths,
            spectrogram,
            audio: audio_path,
            seconds,
        });
    }
    if args.json {
        return print_json(&report);
    }
    for c in &report.candidates {
        println!(
            "candidate {}: {} clip(s), {} ({:.2} s)",
            c.index,
            c.clips.len(),
            c.audio.display(),
            c.seconds
        );
    }
    Ok(())
}

pub(super) fn read_plan(path: &Path) -> anyhow::Result<MusicPlan> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading \"{}\"", path.display()))?;
    MusicPlan::from_json(&text).with_context(|| format!("\"{}\"", path.display()))
}

fn save_png(image: &RgbImage, path: &Path) -> anyhow::Result<()> {
    image
        .save(path)
        .with_context(|| format!("writing \"{}\"", path.display()))
}

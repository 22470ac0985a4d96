//! Headless subcommands of the same binary. Without a subcommand the window opens.

mod emotions;
mod generate;
mod generate_stable_audio;
mod jobs;
mod media;
mod models;
mod progress;
mod run;
mod separate;
mod spectrogram;
mod transcribe;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bgm_models::device::{ComputeDevice, DevicePreference};
use bgm_models::stt::Task;
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::paths::AppPaths;
use crate::pipeline::mix::OriginalAudio;
use crate::pipeline::EngineChoice;
use crate::studio::{Overrides, Studio};

#[derive(Debug, Parser)]
#[command(
    name = "bgm-studio",
    version,
    about = "Give a video its own background music, generated locally."
)]
pub struct Cli {
    /// Compute device for the model stages (default: the setting, else auto).
    #[arg(long, global = true, value_parser = parse_device)]
    pub device: Option<DevicePreference>,

    /// Folder of local models laid out as <dir>/<org>/<repo>/, or <dir>/<name>/ for models
    /// published at their own URL such as htdemucs (overrides BGM_MODELS_DIR).
    #[arg(long, global = true)]
    pub models_dir: Option<PathBuf>,

    /// Never use the network: models come from local folders and the cache only.
    #[arg(long, global = true)]
    pub offline: bool,

    /// Open this video in the window, as if it were dropped on it (without a command). The
    /// desktop entry runs `--open %f`, which is a bare `--open` when started without a file.
    #[arg(long, value_name = "VIDEO", num_args = 0..=1)]
    pub open: Option<Option<PathBuf>>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The shot cuts of a video: where the picture changes at once.
    Cuts {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Show a media file's container, duration and streams.
    Probe {
        file: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write a video with new sound, the video stream copied untouched: `export JOB --candidate N`
    /// (a job's chosen mix, with the plan and seeds in the file's metadata) or
    /// `export VIDEO --audio A`.
    Export {
        /// A job id (with --candidate), or a video file (with --audio).
        source: String,
        #[arg(long, conflicts_with = "audio", required_unless_present = "audio")]
        candidate: Option<usize>,
        #[arg(long)]
        audio: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Replace OUT if it exists (an input is never replaced).
        #[arg(long)]
        overwrite: bool,
        /// What of the video's own sound to keep (with --candidate; default: the setting). The
        /// job is re-mixed first when its mixes were made another way.
        #[arg(long, value_enum, requires = "candidate")]
        original: Option<OriginalArg>,
        #[arg(long)]
        json: bool,
    },
    /// Convert between spectrogram images (Riffusion's convention) and audio.
    #[command(subcommand)]
    Spectrogram(spectrogram::SpectrogramCommand),
    /// Transcribe the speech of a media file with Whisper: timestamped segments.
    Transcribe {
        file: PathBuf,
        /// Catalogue model name (see `models list`; default: the setting, else whisper-base).
        #[arg(long)]
        model: Option<String>,
        /// Spoken language as an ISO code (`en`, `de`, …); detected when omitted.
        #[arg(long)]
        language: Option<String>,
        /// `transcribe` keeps the spoken language; `translate` writes English.
        #[arg(long, default_value = "transcribe", value_parser = parse_task)]
        task: Task,
        /// Beam search with this many beams (default: greedy).
        #[arg(long)]
        beam_size: Option<usize>,
        /// For non-English speech, add an English translation (a second pass).
        #[arg(long)]
        english: bool,
        #[arg(long)]
        json: bool,
    },
    /// Run the whole pipeline on a video (or resume a job by its id): transcription, emotions,
    /// plan, four music candidates, and their mixes.
    Run {
        /// A video file, or the id of a job to resume.
        target: String,
        /// Diffusion steps per clip, for this run (default: the setting, else the plan's).
        #[arg(long)]
        steps: Option<u32>,
        /// Copy the four mixes here as candidate-N.wav.
        #[arg(long)]
        out: Option<PathBuf>,
        /// What of the video's own sound to keep under the music (default: the setting).
        #[arg(long, value_enum)]
        original: Option<OriginalArg>,
        /// The music engine (default: the setting; `auto` is stable-audio when its weights are
        /// ready, else riffusion).
        #[arg(long, value_enum)]
        engine: Option<EngineArg>,
        /// Download the models the job needs first, if any are missing.
        #[arg(long)]
        download: bool,
        #[arg(long)]
        json: bool,
    },
    /// Split a media file's sound into speech and background with Demucs (htdemucs):
    /// OUT/speech.wav and OUT/background.wav, 44.1 kHz stereo.
    Separate {
        media: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Download the separation model first if it is missing.
        #[arg(long)]
        download: bool,
        #[arg(long)]
        json: bool,
    },
    /// New music for one candidate of a job (or one section of it); the others stay as they are.
    Regenerate {
        job: String,
        #[arg(long)]
        candidate: usize,
        /// Only this section (0-based, as in plan.json).
        #[arg(long)]
        section: Option<usize>,
        /// Diffusion steps per clip, for this run (default: the setting, else the plan's).
        #[arg(long)]
        steps: Option<u32>,
        /// Download Riffusion first if it is missing.
        #[arg(long)]
        download: bool,
        #[arg(long)]
        json: bool,
    },
    /// Classify the emotion of each transcript segment and build the emotion timeline.
    Emotions {
        /// A transcript JSON file ({"segments": [{"start", "end", "text"}, …]}) or a media file,
        /// which is transcribed first.
        transcript: PathBuf,
        /// The video's length in seconds (default: the transcript's, else its last segment's end).
        #[arg(long)]
        duration: Option<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Write the music plan (prompts, seeds, strengths per section and candidate) for a transcript.
    Plan {
        transcript: PathBuf,
        #[arg(long)]
        duration: Option<f64>,
        /// Base seed of the four candidates.
        #[arg(long, default_value_t = 0)]
        seed: u32,
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate music from a prompt or a plan: audio (WAV) per candidate, and with Riffusion
    /// its spectrogram clips (PNG).
    Generate(generate::GenerateArgs),
    /// List, show and delete jobs.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// List, download and locate the models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Show the compute device the model stages would use.
    Device {
        #[arg(long)]
        json: bool,
    },
    /// Write the TypeScript bindings of the window's commands.
    #[command(hide = true)]
    Bindings { out: PathBuf },
}

/// The original-sound modes as the command line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OriginalArg {
    /// Keep all of it; the music ducks under speech.
    #[value(alias = "duck")]
    Keep,
    /// Keep all of it; the music at one level throughout.
    KeepLevel,
    /// Keep only the speech (separated by Demucs); the music replaces the background and
    /// ducks under the speech.
    Speech,
    /// The music alone.
    Replace,
}

/// The music engine, as `--engine` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// Stable Audio when its weights are ready, else Riffusion.
    Auto,
    Riffusion,
    StableAudio,
}

impl From<EngineArg> for EngineChoice {
    fn from(arg: EngineArg) -> Self {
        match arg {
            EngineArg::Auto => EngineChoice::Auto,
            EngineArg::Riffusion => EngineChoice::Riffusion,
            EngineArg::StableAudio => EngineChoice::StableAudio,
        }
    }
}

impl From<OriginalArg> for OriginalAudio {
    fn from(arg: OriginalArg) -> Self {
        match arg {
            OriginalArg::Keep => OriginalAudio::Duck,
            OriginalArg::KeepLevel => OriginalAudio::Keep,
            OriginalArg::Speech => OriginalAudio::Speech,
            OriginalArg::Replace => OriginalAudio::Replace,
        }
    }
}

fn parse_task(value: &str) -> Result<Task, String> {
    value.parse()
}

fn parse_device(value: &str) -> Result<DevicePreference, String> {
    value
        .parse()
        .map_err(|e: bgm_models::device::DeviceError| e.to_string())
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    bgm_models::heap::reuse_large_allocations();
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        // Relative to where the app was started, as a person typing it means.
        let open = cli
            .open
            .flatten()
            .map(|p| std::path::absolute(&p).unwrap_or(p));
        return match crate::app::run(open) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => report(err),
        };
    };
    crate::logging::init_stderr();
    // The same settings as the window's, with this invocation's flags over them.
    let weights = models::weights_config(cli.models_dir, cli.offline);
    let studio = Studio::new(AppPaths::from_env(), weights).with_overrides(Overrides {
        device: cli.device,
        ..Overrides::default()
    });
    match run_command(command, studio) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(err),
    }
}

fn report(err: anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::FAILURE
}

fn run_command(command: Command, studio: Studio) -> anyhow::Result<()> {
    let weights = studio.weights();
    let with_steps = |steps: Option<u32>| Overrides {
        steps,
        ..Overrides::default()
    };
    match command {
        Command::Probe { file, json } => media::probe(&file, json),
        Command::Cuts { file, json } => media::cuts(&file, json),
        Command::Export {
            source,
            candidate,
            audio,
            out,
            overwrite,
            original,
            json,
        } => match (candidate, audio) {
            (Some(candidate), _) => {
                let studio = studio.with_overrides(Overrides {
                    original_audio: original.map(OriginalAudio::from),
                    ..Overrides::default()
                });
                media::export_job(&source, candidate, &out, overwrite, &studio, json)
            }
            (None, Some(audio)) => media::export(Path::new(&source), &audio, &out, overwrite, json),
            (None, None) => anyhow::bail!("export needs --candidate N (for a job) or --audio FILE"),
        },
        Command::Spectrogram(command) => spectrogram::run(command),
        Command::Models(command) => {
            let mut studio = studio;
            models::run(command, &mut studio)
        }
        Command::Jobs(command) => jobs::run(command, &studio),
        Command::Transcribe {
            file,
            model,
            language,
            task,
            beam_size,
            english,
            json,
        } => {
            let model = model.unwrap_or_else(|| studio.settings().whisper_model.clone());
            let request = transcribe::TranscribeRequest {
                model: &model,
                language,
                task,
                beam_size,
                english,
            };
            let transcript =
                transcribe::transcribe_file(&file, &request, weights, &studio.open_device()?)?;
            transcribe::print_transcript(&transcript, json)
        }
        Command::Run {
            target,
            steps,
            out,
            original,
            engine,
            download,
            json,
        } => {
            let request = run::RunRequest {
                target: &target,
                download,
                out,
                json,
            };
            let overrides = Overrides {
                original_audio: original.map(OriginalAudio::from),
                engine: engine.map(EngineChoice::from),
                ..with_steps(steps)
            };
            run::run(&request, &studio.with_overrides(overrides))
        }
        Command::Separate {
            media,
            out,
            download,
            json,
        } => separate::separate(&media, &out, download, &studio, json),
        Command::Regenerate {
            job,
            candidate,
            section,
            steps,
            download,
            json,
        } => {
            let request = run::RunRequest {
                target: &job,
                download,
                out: None,
                json,
            };
            let studio = studio.with_overrides(with_steps(steps));
            run::regenerate(&request, candidate, section, &studio)
        }
        Command::Emotions {
            transcript,
            duration,
            json,
        } => {
            let report = emotions::analyse(&transcript, duration, weights, &studio.open_device()?)?;
            emotions::print_report(&report, json)
        }
        Command::Plan {
            transcript,
            duration,
            seed,
            out,
        } => {
            let report = emotions::analyse(&transcript, duration, weights, &studio.open_device()?)?;
            emotions::write_plan(&report, seed, &out)
        }
        Command::Generate(args) => {
            let studio = studio.with_overrides(Overrides {
                engine: args.engine.map(EngineChoice::from),
                ..Overrides::default()
            });
            generate::run(args, &studio)
        }
        Command::Device { json } => show_device(&studio, json),
        Command::Bindings { out } => crate::app::export_bindings(&out)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("writing {}", out.display())),
    }
}

fn show_device(studio: &Studio, json: bool) -> anyhow::Result<()> {
    let preference = studio.device_preference()?;
    let device = ComputeDevice::open(preference)?;
    let memory = device.memory();
    if json {
        print_json(&serde_json::json!({
            "preference": preference,
            "device": device.kind,
            "dtype": format!("{:?}", device.dtype).to_lowercase(),
            "note": device.note,
            "memory": memory,
        }))
    } else {
        println!("{}, preference: {preference}", device.describe());
        if let Some(memory) = memory {
            const GIB: f64 = (1u64 << 30) as f64;
            println!(
                "GPU memory: {:.1} GiB free of {:.1} GiB",
                memory.free as f64 / GIB,
                memory.total as f64 / GIB
            );
        }
        Ok(())
    }
}

pub(crate) fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The desktop entry's `Exec=bgm-studio --open %f` becomes a bare `--open` when the app is
    /// started from the menu: that opens the window, not a usage error.
    #[test]
    fn open_takes_a_video_or_nothing() {
        let bare = Cli::try_parse_from(["bgm-studio", "--open"]).unwrap();
        assert!(bare.command.is_none());
        assert_eq!(bare.open, Some(None));
        let with_file = Cli::try_parse_from(["bgm-studio", "--open", "trip.mp4"]).unwrap();
        assert_eq!(with_file.open, Some(Some(PathBuf::from("trip.mp4"))));
        let command = Cli::try_parse_from(["bgm-studio", "probe", "trip.mp4"]).unwrap();
        assert!(command.open.is_none() && command.command.is_some());
    }
}

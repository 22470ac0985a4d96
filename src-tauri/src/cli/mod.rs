//! Headless subcommands of the same binary. Without a subcommand the window opens.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bgm_models::device::{ComputeDevice, DevicePreference};
use bgm_models::task::CancelToken;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::media;
use crate::settings::{device_preference, Settings};

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

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a media file's container, duration and streams.
    Probe {
        file: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write VIDEO with AUDIO as its sound track: video copied untouched, audio encoded.
    Export {
        video: PathBuf,
        #[arg(long)]
        audio: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Replace OUT if it exists (an input is never replaced).
        #[arg(long)]
        overwrite: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show the compute device the model stages would use.
    Device {
        #[arg(long)]
        json: bool,
    },
    /// Write the TypeScript bindings of the window's commands.
    #[command(hide = true)]
    Bindings { out: PathBuf },
}

fn parse_device(value: &str) -> Result<DevicePreference, String> {
    value
        .parse()
        .map_err(|e: bgm_models::device::DeviceError| e.to_string())
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        return match crate::app::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => report(err),
        };
    };
    crate::logging::init_stderr();
    match run_command(command, cli.device) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(err),
    }
}

fn report(err: anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::FAILURE
}

fn run_command(command: Command, device: Option<DevicePreference>) -> anyhow::Result<()> {
    match command {
        Command::Probe { file, json } => {
            let info = media::probe(&file)?;
            if json {
                print_json(&info)
            } else {
                print_media_info(&info);
                Ok(())
            }
        }
        Command::Export {
            video,
            audio,
            out,
            overwrite,
            json,
        } => {
            let bar = progress_bar("exporting");
            let options = media::MuxOptions {
                overwrite,
                ..Default::default()
            };
            let mut on_progress = |f: f64| bar.set_position((f * 1000.0) as u64);
            let report = media::mux(
                &video,
                &audio,
                &out,
                &options,
                &mut on_progress,
                &CancelToken::new(),
            )?;
            bar.finish_and_clear();
            if json {
                print_json(&ExportSummary::from(&report))
            } else {
                println!(
                    "wrote {} ({:.2} s, {} {} Hz, {} channel(s), {} stream(s) copied)",
                    report.dest.display(),
                    report.video_duration_seconds,
                    report.audio_codec,
                    report.audio_sample_rate,
                    report.audio_channels,
                    report.copied_streams
                );
                Ok(())
            }
        }
        Command::Device { json } => {
            let settings = Settings::load_from(&Settings::path());
            let preference = device_preference(device, &settings)?;
            let device = ComputeDevice::open(preference)?;
            if json {
                print_json(&serde_json::json!({
                    "preference": preference,
                    "device": device.kind,
                    "dtype": format!("{:?}", device.dtype).to_lowercase(),
                }))
            } else {
                println!(
                    "{} ({:?}), preference: {preference}",
                    device.kind, device.dtype
                );
                Ok(())
            }
        }
        Command::Bindings { out } => crate::app::export_bindings(&out)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("writing {}", out.display())),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportSummary {
    dest: String,
    video_duration_seconds: f64,
    audio_codec: String,
    audio_sample_rate: u32,
    audio_channels: u16,
    copied_streams: usize,
}

impl From<&media::MuxReport> for ExportSummary {
    fn from(r: &media::MuxReport) -> Self {
        Self {
            dest: r.dest.display().to_string(),
            video_duration_seconds: r.video_duration_seconds,
            audio_codec: r.audio_codec.clone(),
            audio_sample_rate: r.audio_sample_rate,
            audio_channels: r.audio_channels,
            copied_streams: r.copied_streams,
        }
    }
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A bar on a terminal; nothing when output is piped or logged.
fn progress_bar(label: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent}% eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(label);
    bar
}

fn print_media_info(info: &media::MediaInfo) {
    println!("{}", info.path);
    println!(
        "  container: {} ({}), {:.3} s, {} bytes",
        info.container_long_name, info.container, info.duration_seconds, info.size_bytes
    );
    for v in &info.video_streams {
        println!(
            "  video #{}: {} {}x{} {:.3} fps, rotation {}°",
            v.index, v.codec, v.width, v.height, v.fps, v.rotation_degrees
        );
    }
    for a in &info.audio_streams {
        println!(
            "  audio #{}: {} {} Hz, {} channel(s)",
            a.index, a.codec, a.sample_rate, a.channels
        );
    }
    if info.audio_streams.is_empty() {
        println!("  no audio track");
    }
}

//! `spectrogram to-audio` and `spectrogram to-image`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bgm_models::spectrogram::{
    read_png, ImageToAudioOptions, PhaseInit, SpectrogramConverter, SpectrogramParams,
};
use bgm_models::task::CancelToken;
use clap::Subcommand;

use super::progress;
use crate::media::{self, PcmAudio};

#[derive(Debug, Subcommand)]
pub enum SpectrogramCommand {
    /// Turn a spectrogram image (512 rows, Riffusion's convention) into a WAV file.
    ToAudio {
        image: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Seed of Griffin-Lim's random starting phases (the same seed gives the same audio).
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Turn a stretch of any media file's audio into a spectrogram image.
    ToImage {
        audio: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Where the stretch starts, in seconds.
        #[arg(long, default_value_t = 0.0)]
        start: f64,
        /// How long it is, in seconds (5.12 s make a 512-column image).
        #[arg(long, default_value_t = 5.12)]
        duration: f64,
        /// Make a stereo image (left in green, right in blue) instead of mono.
        #[arg(long)]
        stereo: bool,
    },
}

pub(super) fn run(command: SpectrogramCommand) -> anyhow::Result<()> {
    match command {
        SpectrogramCommand::ToAudio { image, out, seed } => to_audio(&image, &out, seed),
        SpectrogramCommand::ToImage {
            audio,
            out,
            start,
            duration,
            stereo,
        } => to_image(&audio, &out, start, duration, stereo),
    }
}

fn to_audio(image_path: &Path, out: &Path, seed: u64) -> anyhow::Result<()> {
    let in_image = || format!("\"{}\"", image_path.display());
    let (image, metadata) = read_png(image_path).with_context(in_image)?;
    // An image we made says how it was made; any other image is read with Riffusion's defaults.
    let params = match metadata {
        Some(meta) => SpectrogramParams {
            max_value: meta.max_value,
            ..meta.params
        },
        None => SpectrogramParams::default(),
    };
    let converter = SpectrogramConverter::new(params).with_context(in_image)?;
    let options = ImageToAudioOptions {
        phase_init: PhaseInit::Random { seed },
    };
    let mut audio = converter
        .image_to_audio(&image, &options)
        .with_context(in_image)?;
    // Griffin-Lim's level is kept; only audio that would clip is scaled down.
    audio.fit_full_scale();
    let pcm = PcmAudio::from_channels(&audio.channels, audio.sample_rate);
    media::write_wav(out, &pcm)?;
    println!(
        "wrote {} ({:.2} s, {} channel(s), {} Hz)",
        out.display(),
        pcm.duration_seconds(),
        pcm.channels,
        pcm.sample_rate
    );
    Ok(())
}

fn to_image(
    audio_path: &Path,
    out: &Path,
    start: f64,
    duration: f64,
    stereo: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        start >= 0.0 && duration > 0.0,
        "--start must be at least 0 and --duration above 0"
    );
    let params = if stereo {
        SpectrogramParams::stereo()
    } else {
        SpectrogramParams::default()
    };
    let channels = if stereo { 2 } else { 1 };
    let bar = progress::bar("decoding");
    let pcm = media::decode_audio(
        audio_path,
        params.sample_rate,
        channels,
        &mut progress::follow(&bar),
        &CancelToken::new(),
    )?;
    bar.finish_and_clear();

    let rate = f64::from(params.sample_rate);
    let first = ((start * rate) as usize).min(pcm.frames());
    let last = (((start + duration) * rate) as usize).min(pcm.frames());
    anyhow::ensure!(
        last > first,
        "\"{}\" has only {:.2} s of audio; nothing starts at {start} s",
        audio_path.display(),
        pcm.duration_seconds()
    );
    let per_channel: Vec<Vec<f32>> = (0..usize::from(channels))
        .map(|c| pcm.channel(c)[first..last].to_vec())
        .collect();
    let converter = SpectrogramConverter::new(params)?;
    let image = converter
        .audio_to_image(&per_channel)
        .with_context(|| format!("\"{}\"", audio_path.display()))?;
    image
        .write_png(out)
        .with_context(|| format!("writing \"{}\"", out.display()))?;
    println!(
        "wrote {} ({}x{}, max value {:.3e})",
        out.display(),
        image.image.width(),
        image.image.height(),
        image.max_value
    );
    Ok(())
}

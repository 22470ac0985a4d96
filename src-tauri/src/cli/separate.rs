//! `separate`: a media file's sound split by Demucs into `speech.wav` and `background.wav`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bgm_models::separation::{load_default, MODEL_NAME};
use bgm_models::task::CancelToken;
use serde::Serialize;

use super::{print_json, progress};
use crate::media::{decode_audio_to_wav, MediaError};
use crate::pipeline::{separate_file, MIX_CHANNELS, MIX_RATE};
use crate::studio::Studio;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SeparateReport {
    speech: PathBuf,
    background: PathBuf,
    seconds: f64,
}

pub(super) fn separate(
    media: &Path,
    out: &Path,
    download: bool,
    studio: &Studio,
    json: bool,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating \"{}\"", out.display()))?;
    // The media's sound at the model's format, removed whatever happens.
    let decoded = tempfile::Builder::new()
        .prefix(".separate-input")
        .suffix(".wav")
        .tempfile_in(out)
        .with_context(|| format!("writing in \"{}\"", out.display()))?;
    let cancel = CancelToken::new();
    let bar = progress::bar("reading the sound");
    match decode_audio_to_wav(
        media,
        decoded.path(),
        MIX_RATE,
        MIX_CHANNELS,
        &mut progress::follow(&bar),
        &cancel,
    ) {
        Ok(()) => {}
        Err(MediaError::NoAudio { .. }) => {
            anyhow::bail!(
                "\"{}\" has no audio track: there is nothing to separate",
                media.display()
            )
        }
        Err(e) => return Err(e.into()),
    }
    bar.finish_and_clear();

    if download {
        super::models::download(MODEL_NAME, studio.weights())?;
    }
    let device = studio.open_device()?;
    let model = load_default(studio.weights(), &device)?;
    let (speech, background) = (out.join("speech.wav"), out.join("background.wav"));
    let bar = progress::bar("separating");
    let started = std::time::Instant::now();
    separate_file(
        &model,
        decoded.path(),
        &speech,
        &background,
        &mut progress::follow(&bar),
        &cancel,
    )?;
    bar.finish_and_clear();
    let report = SeparateReport {
        speech,
        background,
        seconds: started.elapsed().as_secs_f64(),
    };
    if json {
        return print_json(&report);
    }
    println!("wrote {}", report.speech.display());
    println!("wrote {}", report.background.display());
    println!(
        "separated in {:.1} s on {}",
        report.seconds,
        device.describe()
    );
    Ok(())
}

//! Helpers shared by the media tests.
#![allow(dead_code)]

pub mod sound;

use std::path::{Path, PathBuf};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/media")
        .join(name)
}

/// The raw bytes of every packet of the first video stream, in file order.
pub fn video_packets(path: &Path) -> Vec<Vec<u8>> {
    ffmpeg_next::init().unwrap();
    let mut input = ffmpeg_next::format::input(path).unwrap();
    let index = input
        .streams()
        .best(ffmpeg_next::media::Type::Video)
        .unwrap()
        .index();
    input
        .packets()
        .filter(|(stream, _)| stream.index() == index)
        .map(|(_, packet)| packet.data().unwrap_or_default().to_vec())
        .collect()
}

/// The length of one coded audio frame of the file's first audio stream, in seconds: the
/// granularity at which an encoder can end a track.
pub fn audio_frame_seconds(info: &bgm_studio::media::MediaInfo) -> f64 {
    let audio = &info.audio_streams[0];
    match audio.codec.as_str() {
        "opus" => 0.020,
        "aac" => 1024.0 / f64::from(audio.sample_rate),
        "vorbis" | "mp3" => 1152.0 / f64::from(audio.sample_rate),
        _ => 1.0 / f64::from(audio.sample_rate),
    }
}

/// Runs the ffmpeg command line quietly, overwriting outputs.
pub fn run_ffmpeg(args: &[&str]) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("the ffmpeg command line is installed");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

/// A longer test video made with the ffmpeg command line, for export and kill tests.
pub fn make_long_video(dir: &Path, seconds: u32, size: &str) -> PathBuf {
    let out = dir.join(format!("long_{seconds}s.mp4"));
    let picture = format!("testsrc2=size={size}:rate=25:duration={seconds}");
    let sound = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    run_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &picture,
        "-f",
        "lavfi",
        "-i",
        &sound,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "35",
        "-c:a",
        "aac",
        "-ac",
        "2",
        out.to_str().unwrap(),
    ]);
    out
}

/// A WAV of a stereo tone, for export tests.
pub fn make_audio(dir: &Path, seconds: u32) -> PathBuf {
    let out = dir.join(format!("music_{seconds}s.wav"));
    let sound = format!("sine=frequency=220:sample_rate=44100:duration={seconds}");
    run_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &sound,
        "-ac",
        "2",
        "-c:a",
        "pcm_s16le",
        out.to_str().unwrap(),
    ]);
    out
}

/// Copies the files the catalogue lists for model `name` from `source` into `models` in the
/// layout the app looks for (`<models>/<org>/<repo>/`).
pub fn install_model(models: &Path, name: &str, source: &Path) {
    let entry = bgm_models::weights::find_model(name).unwrap();
    let root = bgm_models::weights::local_folder(models, &entry);
    for file in &entry.files {
        let target = root.join(&file.path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(source.join(&file.path), &target)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", file.path, target.display()));
    }
}

/// [`install_model`] from a tiny random model under models/tests/fixtures.
pub fn install_tiny_model(models: &Path, name: &str, fixture_dir: &str) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures")
        .join(fixture_dir);
    install_model(models, name, &source);
}

/// The tiny random models of every stage, as the default models of each.
pub fn install_tiny_models(models: &Path) {
    install_tiny_model(models, "whisper-base", "whisper/tiny");
    install_tiny_model(models, "emotion", "emotion");
    install_tiny_model(models, "riffusion", "riffusion/tiny-bin");
    install_tiny_model(models, "htdemucs", "separation/tiny");
}

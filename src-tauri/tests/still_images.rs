//! Still pictures and clips under a second are not videos to give music to: refused when a job
//! is opened, named in probe's verdict, and refused at export, which then writes nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bgm_studio::jobs::{JobError, JobStore};
use bgm_studio::media::{mux, probe, MediaError, MuxOptions};
use common::{fixture, run_ffmpeg};

/// A PNG picture saved as `picture.mp4`, a one-frame H.264 MP4 made of a picture, and a 0.4 s
/// H.264 clip.
fn not_videos(dir: &Path) -> [(PathBuf, &'static str); 3] {
    let png = dir.join("picture.png");
    run_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=64x64",
        "-frames:v",
        "1",
        png.to_str().unwrap(),
    ]);
    let renamed = dir.join("picture.mp4");
    std::fs::rename(&png, &renamed).unwrap();
    let one_frame = dir.join("one_frame.mp4");
    run_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=blue:s=64x64",
        "-frames:v",
        "1",
        "-c:v",
        "png",
        one_frame.to_str().unwrap(),
    ]);
    let short = dir.join("short.mp4");
    run_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x64:rate=25:duration=0.4",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        short.to_str().unwrap(),
    ]);
    [
        (renamed, "is a still image"),
        (one_frame, "is a still image"),
        (short, "needs a video of at least 1 s"),
    ]
}

#[test]
fn pictures_and_tiny_clips_are_refused_at_open_probe_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let store = JobStore::in_data_dir(&dir.path().join("data"));
    for (file, reason) in not_videos(dir.path()) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();

        let info = probe(&file).unwrap();
        let problem = info.problem.clone().unwrap_or_default();
        assert!(
            problem.contains(reason) && problem.contains(&name),
            "{name}: {problem:?}"
        );

        let err = store.create(&file).unwrap_err();
        assert!(
            matches!(
                err,
                JobError::Media(MediaError::StillImage { .. } | MediaError::TooShort { .. })
            ),
            "{name}: {err}"
        );
        assert!(store.list().unwrap().is_empty(), "{name} left a job");

        let dest = dir.path().join(format!("export-{name}"));
        let err = mux(
            &file,
            &fixture("music.wav"),
            &dest,
            &MuxOptions::default(),
            &mut |_| {},
            &Default::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(reason), "{name}: {err}");
        assert!(!dest.exists(), "{name}: an export was written");

        let cli = Command::new(env!("CARGO_BIN_EXE_bgm-studio"))
            .arg("export")
            .arg(&file)
            .arg("--audio")
            .arg(fixture("music.wav"))
            .arg("--out")
            .arg(&dest)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&cli.stderr);
        assert!(
            !cli.status.success() && stderr.contains(reason),
            "{name}: {stderr}"
        );
        assert!(!dest.exists());

        let probed = Command::new(env!("CARGO_BIN_EXE_bgm-studio"))
            .arg("probe")
            .arg(&file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&probed.stdout);
        assert!(
            stdout.contains("not usable:") && stdout.contains(reason),
            "{name}: {stdout}"
        );
    }
    // A real video has no problem.
    assert_eq!(probe(&fixture("h264_aac.mp4")).unwrap().problem, None);
}

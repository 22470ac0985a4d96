//! The headless command line: output, exit codes, and what a killed export leaves.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, make_audio, make_long_video};

fn bgm() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bgm-studio"));
    cmd.env(
        "BGM_DATA_DIR",
        std::env::temp_dir().join("bgm-cli-test-data"),
    );
    cmd
}

#[test]
fn probe_prints_json() {
    let out = bgm()
        .args(["probe", "--json"])
        .arg(fixture("clip.mkv"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["audioStreams"][0]["codec"], "opus");
    assert_eq!(json["videoStreams"][0]["width"], 160);
}

#[test]
fn bad_input_is_an_error_message_not_a_panic() {
    for name in [
        "truncated.mp4",
        "empty.mp4",
        "not_a_video.mp4",
        "missing.mp4",
    ] {
        let out = bgm().arg("probe").arg(fixture(name)).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(name),
            "{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "{stderr}"
        );
    }
}

#[test]
fn unknown_device_is_rejected_with_the_choices() {
    let out = bgm().args(["--device", "tpu", "device"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cpu"));
    let out = bgm()
        .args(["--device", "cpu", "device", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["device"], "cpu");
}

#[test]
fn export_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("scored.mkv");
    let out = bgm()
        .arg("export")
        .arg(fixture("h264_aac.mp4"))
        .arg("--audio")
        .arg(fixture("music.wav"))
        .arg("--out")
        .arg(&dest)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["audioCodec"], "libopus");
    assert!(dest.exists());
}

#[test]
fn a_killed_export_leaves_nothing_at_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let video = make_long_video(dir.path(), 90, "320x180");
    let audio = make_audio(dir.path(), 90);
    let dest = dir.path().join("killed.mp4");
    let mut child = bgm()
        .arg("export")
        .arg(&video)
        .arg("--audio")
        .arg(&audio)
        .arg("--out")
        .arg(&dest)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as it has started writing.
    let started = Instant::now();
    let partial_seen = loop {
        let partial = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".partial"));
        if partial || started.elapsed() > Duration::from_secs(30) {
            break partial;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(partial_seen, "the export never started writing");
    assert!(
        !dest.exists(),
        "a killed export left a file at the destination"
    );
}

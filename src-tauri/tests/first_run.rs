//! A first run on a machine without models, from the command line: `run` stops before any
//! stage with the list of what is missing and both ways to get it; `run --download` fetches
//! the tiny models from a fake Hugging Face hub over real HTTP (the app's own downloader,
//! through `HF_ENDPOINT`) and then runs to the end.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::fixture;

/// `tools/fake-hub.mjs` serving the catalogue's whisper-base, emotion and riffusion as the
/// repo's tiny fixtures; killed when dropped.
struct FakeHub {
    child: Child,
    url: String,
}

impl FakeHub {
    fn start() -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/fake-hub.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("this test needs Node.js (`node`) for the fake hub; install it (tools/install-deps.sh does)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("the fake hub printed no URL: {line:?}"))
            .to_string();
        Self { child, url }
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_first_run_names_the_missing_models_and_downloads_them_when_asked() {
    let hub = FakeHub::start();
    let root = tempfile::tempdir().unwrap();
    let bgm = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bgm-studio"))
            .env("BGM_DATA_DIR", root.path().join("data"))
            .env("BGM_MODELS_DIR", root.path().join("no-models"))
            .env("HF_HOME", root.path().join("hf"))
            .env("HF_ENDPOINT", &hub.url)
            .env_remove("HF_HUB_OFFLINE")
            .args(["--device", "cpu"])
            .args(args)
            .output()
            .unwrap()
    };
    let video = fixture("speech.mp4");
    let video = video.to_str().unwrap();

    let refused = bgm(&["run", "--steps", "2", video]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "ran without models: {stderr}");
    for expected in [
        "3 models",
        "not downloaded yet: whisper-base, emotion, riffusion",
        "`bgm-studio models download whisper-base emotion riffusion`",
        "--download",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in: {stderr}"
        );
    }

    // Offline, the download cannot happen: a clear message at once, not a hang.
    let started = std::time::Instant::now();
    let offline = bgm(&["--offline", "run", "--download", video]);
    let stderr = String::from_utf8_lossy(&offline.stderr);
    assert!(!offline.status.success(), "{stderr}");
    assert!(stderr.contains("Offline mode is on"), "{stderr}");
    assert!(
        started.elapsed().as_secs() < 10,
        "offline took {:?}",
        started.elapsed()
    );

    let done = bgm(&["run", "--steps", "2", "--download", "--json", video]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(report["mixes"].as_array().unwrap().len(), 4);
    let listed = bgm(&["models", "list", "--json"]);
    let models: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    for name in ["whisper-base", "emotion", "riffusion"] {
        let model = models
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap();
        assert_eq!(model["state"], "ready", "{name}: {model}");
    }
}

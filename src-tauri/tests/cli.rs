//! The headless command line: output, exit codes, and what a killed export leaves.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, install_model, install_tiny_model, make_audio, make_long_video};

/// Runs a command that must succeed; on failure the assertion shows its stderr.
trait Succeeds {
    fn succeeds(&mut self) -> std::process::Output;
}

impl Succeeds for Command {
    fn succeeds(&mut self) -> std::process::Output {
        let out = self.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

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
        .succeeds();
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
        .succeeds();
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

/// A full disk, simulated with a file size limit (RLIMIT_FSIZE through `ulimit -f`, with
/// SIGXFSZ ignored so the write fails instead of killing the process): a clear error naming
/// the destination, and nothing left there or beside it.
#[cfg(unix)]
#[test]
fn a_full_disk_during_export_is_a_clear_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let video = make_long_video(dir.path(), 10, "320x180");
    let audio = make_audio(dir.path(), 10);
    let dest = dir.path().join("full.mp4");
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 128; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_bgm-studio"))
        .arg("export")
        .arg(&video)
        .arg("--audio")
        .arg(&audio)
        .arg("--out")
        .arg(&dest)
        .env("BGM_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an export over the limit succeeded");
    assert!(
        stderr.contains("full.mp4") && stderr.contains("File too large"),
        "{stderr}"
    );
    assert!(
        !dest.exists(),
        "a failed export left a file at the destination"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("full.mp4"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn spectrogram_round_trip_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("tone.png");
    let wav = dir.path().join("tone.wav");
    bgm()
        .args(["spectrogram", "to-image"])
        .arg(fixture("h264_aac.mp4"))
        .args(["--start", "0.5", "--duration", "1.0", "--out"])
        .arg(&png)
        .succeeds();
    let (image, meta) = bgm_models::spectrogram::read_png(&png).unwrap();
    assert_eq!(image.height(), 512);
    // One second at a 10 ms hop: 100 frames plus the centred STFT's last one.
    assert_eq!(image.width(), 101);
    assert!(meta.expect("parameters are stored in the PNG").max_value > 0.0);

    bgm()
        .args(["spectrogram", "to-audio"])
        .arg(&png)
        .args(["--seed", "7", "--out"])
        .arg(&wav)
        .succeeds();
    let info = bgm_studio::media::probe(&wav).unwrap();
    assert_eq!(info.audio_streams[0].sample_rate, 44_100);
    assert!(
        (info.duration_seconds - 1.0).abs() < 0.01,
        "{}",
        info.duration_seconds
    );

    // A file that is not an image is an error naming it.
    let out = bgm()
        .args(["spectrogram", "to-audio"])
        .arg(fixture("not_a_video.mp4"))
        .arg("--out")
        .arg(dir.path().join("x.wav"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("not_a_video.mp4"),
        "{stderr}"
    );
}

#[test]
fn models_list_shows_the_catalogue() {
    let hf_home = tempfile::tempdir().unwrap();
    let out = bgm()
        .env("HF_HOME", hf_home.path())
        .env_remove("BGM_MODELS_DIR")
        .args(["models", "list", "--json"])
        .succeeds();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for expected in [
        "whisper-base",
        "whisper-large-v3-turbo",
        "emotion",
        "riffusion",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] == "missing"));

    // A missing model says how to get it; offline mode never reaches for the network.
    let out = bgm()
        .env("HF_HOME", hf_home.path())
        .args(["--offline", "models", "download", "whisper-tiny"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("Offline mode"),
        "{stderr}"
    );
    assert!(
        stderr.contains("whisper-tiny") && stderr.contains("BGM_MODELS_DIR"),
        "{stderr}"
    );
}

#[test]
fn models_commands_show_the_url_hosted_htdemucs() {
    const URL: &str =
        "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/955717e8-8726e21a.th";
    const SHA256: &str = "8726e21a993978c7ba086d3872e7608d7d5bfca646ca4aca459ffda844faa8b4";
    let hf_home = tempfile::tempdir().unwrap();
    let cache = hf_home
        .path()
        .join("bgm-urls")
        .join("htdemucs")
        .join(SHA256);
    let bgm_here = || {
        let mut cmd = bgm();
        cmd.env("HF_HOME", hf_home.path())
            .env_remove("BGM_MODELS_DIR")
            .env_remove("BGM_URL_MIRROR");
        cmd
    };

    let out = bgm_here().args(["models", "list", "--json"]).succeeds();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let htdemucs = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "htdemucs")
        .expect("htdemucs listed");
    assert_eq!(htdemucs["repo"], URL);
    assert_eq!(htdemucs["revision"], SHA256);
    assert_eq!(htdemucs["state"], "missing");
    assert_eq!(htdemucs["expected_bytes"], 84_141_911);
    assert_eq!(htdemucs["path"], cache.display().to_string());

    let out = bgm_here().args(["models", "list"]).succeeds();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("htdemucs "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("missing") && line.contains("84.1 MB") && line.contains("bgm-urls"),
        "{line}"
    );

    // Offline: says where a local copy goes, without the network.
    let out = bgm_here()
        .args(["--offline", "models", "download", "htdemucs"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Offline mode")
            && stderr.contains("BGM_MODELS_DIR")
            && stderr.contains("htdemucs/<files>"),
        "{stderr}"
    );

    // BGM_URL_MIRROR sends the download to the mirror, under Meta's path.
    let out = bgm_here()
        .env("BGM_URL_MIRROR", "http://127.0.0.1:9")
        .args(["models", "download", "htdemucs"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("http://127.0.0.1:9/demucs/hybrid_transformer/955717e8-8726e21a.th"),
        "{stderr}"
    );
    assert!(!cache.join("htdemucs.th").exists());

    // A copy in <models-dir>/htdemucs/ is what `models path` and `models download` give.
    let models = tempfile::tempdir().unwrap();
    install_tiny_model(models.path(), "htdemucs", "separation/tiny");
    let folder = models.path().join("htdemucs");
    let out = bgm_here()
        .arg("--models-dir")
        .arg(models.path())
        .args(["--offline", "models", "path", "htdemucs"])
        .succeeds();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        folder.display().to_string()
    );
    let out = bgm_here()
        .arg("--models-dir")
        .arg(models.path())
        .args(["--offline", "models", "download", "htdemucs"])
        .succeeds();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("htdemucs: ready in {}", folder.display())
    );
}

/// A models folder holding the tiny random emotion classifier in the real repo's layout.
fn tiny_emotion_models() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    install_tiny_model(dir.path(), "emotion", "emotion");
    dir
}

#[test]
fn emotions_and_plan_from_a_transcript() {
    let models = tiny_emotion_models();
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("transcript.json");
    std::fs::write(
        &transcript,
        r#"{"segments": [
            {"start": 1.0, "end": 6.0, "text": "What a wonderful morning!"},
            {"start": 20.0, "end": 28.0, "text": "I miss the old house so much."}
        ]}"#,
    )
    .unwrap();
    let out = bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args(["emotions", "--duration", "40", "--json"])
        .arg(&transcript)
        .succeeds();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["segments"].as_array().unwrap().len(), 2);
    let scores = report["segments"][0]["scores"].as_object().unwrap();
    assert_eq!(scores.len(), 7);
    let total: f64 = scores.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4, "softmax scores sum to {total}");
    let sections = report["timeline"]["sections"].as_array().unwrap();
    assert_eq!(sections[0]["start"], 0.0);
    assert_eq!(sections[sections.len() - 1]["end"], 40.0);

    let plan = dir.path().join("plan.json");
    bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args(["plan", "--duration", "40", "--out"])
        .arg(&plan)
        .arg(&transcript)
        .succeeds();
    let plan =
        bgm_models::plan::MusicPlan::from_json(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(plan.sections[0].candidates.len(), 4);

    // Without the model the error says how to get it.
    let empty = tempfile::tempdir().unwrap();
    let out = bgm()
        .env("HF_HOME", empty.path())
        .arg("--models-dir")
        .arg(empty.path())
        .args(["--offline", "emotions"])
        .arg(&transcript)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("models download emotion"),
        "{stderr}"
    );
}

/// A models folder with the tiny random Whisper (as `openai/whisper-base`, the default model)
/// and the tiny emotion classifier.
fn tiny_speech_models() -> tempfile::TempDir {
    let dir = tiny_emotion_models();
    install_tiny_model(dir.path(), "whisper-base", "whisper/tiny");
    dir
}

#[test]
fn transcribe_reads_a_video_and_prints_segments() {
    let models = tiny_speech_models();
    let out = bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args(["--offline", "transcribe", "--language", "en", "--json"])
        .arg(fixture("speech.mp4"))
        .succeeds();
    let transcript: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(transcript["language"], "en");
    let duration = transcript["duration"].as_f64().unwrap();
    assert!((duration - 12.0).abs() < 0.05, "{duration}");
    for s in transcript["segments"].as_array().unwrap() {
        let (start, end) = (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap());
        assert!(0.0 <= start && start < end && end <= duration, "{s}");
    }

    // Human-readable output: one `[mm:ss.mmm --> mm:ss.mmm] text` line per segment.
    let out = bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args(["--offline", "transcribe", "--language", "en"])
        .arg(fixture("speech.mp4"))
        .succeeds();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("language: en, 12.00 s"), "{text}");

    // A file without audio, and an unknown task, are clear errors.
    let out = bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args(["--offline", "transcribe"])
        .arg(fixture("no_audio.mp4"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no_audio.mp4"),
        "{stderr}"
    );
    let out = bgm()
        .args(["transcribe", "--task", "summarise"])
        .arg(fixture("speech.mp4"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("transcribe or translate"));
}

#[test]
fn emotions_of_a_video_transcribe_it_first() {
    let models = tiny_speech_models();
    let out = bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args(["--offline", "emotions", "--json"])
        .arg(fixture("speech.mp4"))
        .succeeds();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sections = report["timeline"]["sections"].as_array().unwrap();
    assert_eq!(sections[0]["start"], 0.0);
    let end = sections[sections.len() - 1]["end"].as_f64().unwrap();
    assert!(
        (end - 12.0).abs() < 0.05,
        "the timeline covers the video: {end}"
    );
}

/// Real whisper-base on the speech video (converted by `make whisper-base`).
#[test]
#[ignore = "needs real whisper-base: `make whisper-base`, then BGM_WHISPER_BASE_DIR=target/whisper-base (make test runs it)"]
fn transcribe_real_speech_with_whisper_base() {
    let base = std::env::var_os("BGM_WHISPER_BASE_DIR").expect(
        "BGM_WHISPER_BASE_DIR is not set: run `make whisper-base` and point it at target/whisper-base",
    );
    let models = tempfile::tempdir().unwrap();
    install_model(models.path(), "whisper-base", std::path::Path::new(&base));
    let out = bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args(["--offline", "transcribe"])
        .arg(fixture("speech.mp4"))
        .succeeds();
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    println!("{text}");
    assert!(text.contains("language: en"), "{text}");
    assert!(
        text.contains("happy to see you today") && text.contains("miss you so much"),
        "{text}"
    );
}

/// The tiny random Riffusion model (models/tests/fixtures/riffusion) as a local models folder
/// in the real repo's layout (.bin weights).
fn tiny_riffusion_models_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    install_tiny_model(dir.path(), "riffusion", "riffusion/tiny-bin");
    dir
}

/// Non-silent 10 ms windows of a WAV (any channel count), and its length in seconds.
fn wav_windows(path: &std::path::Path) -> (Vec<f64>, f64) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    let samples: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().map(|s| s.unwrap() as f64).collect(),
        hound::SampleFormat::Int => reader.samples::<i32>().map(|s| s.unwrap() as f64).collect(),
    };
    let frames = samples.len() / spec.channels as usize;
    let window = (spec.sample_rate / 100) as usize * spec.channels as usize;
    let rms = samples
        .chunks(window)
        .map(|c| (c.iter().map(|x| x * x).sum::<f64>() / c.len() as f64).sqrt())
        .collect();
    (rms, frames as f64 / spec.sample_rate as f64)
}

#[test]
fn generate_writes_four_candidates_for_a_prompt_and_for_a_two_section_plan() {
    let models = tiny_riffusion_models_dir();
    let out_dir = tempfile::tempdir().unwrap();
    let out = bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args([
            "--offline",
            "--device",
            "cpu",
            "generate",
            "--prompt",
            "jazzy piano",
            "--seed",
            "7",
        ])
        .args(["--steps", "3", "--width", "256", "--json", "--out"])
        .arg(out_dir.path())
        .succeeds();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = report["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 4);
    let images: Vec<Vec<u8>> = candidates
        .iter()
        .map(|c| std::fs::read(c["clips"][0].as_str().unwrap()).unwrap())
        .collect();
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(
                images[i], images[j],
                "candidates {i} and {j} are the same image"
            );
        }
    }
    let first = image::open(candidates[0]["clips"][0].as_str().unwrap()).unwrap();
    assert_eq!((first.width(), first.height()), (256, 512));
    assert!(out_dir.path().join("candidate-3/music.wav").is_file());

    // A 20 s plan with two sections.
    let segments = [
        bgm_models::emotion::ClassifiedSegment {
            start: 0.0,
            end: 9.0,
            text: String::new(),
            emotion: bgm_models::emotion::Emotion::Joy,
            confidence: 1.0,
            scores: bgm_models::emotion::EmotionScores::one_hot(bgm_models::emotion::Emotion::Joy),
        },
        bgm_models::emotion::ClassifiedSegment {
            start: 11.0,
            end: 20.0,
            text: String::new(),
            emotion: bgm_models::emotion::Emotion::Sadness,
            confidence: 1.0,
            scores: bgm_models::emotion::EmotionScores::one_hot(
                bgm_models::emotion::Emotion::Sadness,
            ),
        },
    ];
    let timeline = bgm_models::emotion::build_timeline(
        &segments,
        20.0,
        &bgm_models::emotion::TimelineOptions::default(),
    )
    .unwrap();
    let plan = bgm_models::plan::MusicPlan::from_timeline(&timeline, &Default::default()).unwrap();
    assert_eq!(plan.sections.len(), 2);
    let plan_path = out_dir.path().join("plan.json");
    std::fs::write(&plan_path, plan.to_json().unwrap()).unwrap();
    let long_dir = out_dir.path().join("long");
    let out = bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args([
            "--offline",
            "--device",
            "cpu",
            "generate",
            "--steps",
            "3",
            "--json",
            "--plan",
        ])
        .arg(&plan_path)
        .arg("--out")
        .arg(&long_dir)
        .succeeds();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["clipsPerCandidate"], 5);
    let candidates = report["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 4);
    let mut audios = Vec::new();
    for c in candidates {
        let (rms, seconds) = wav_windows(std::path::Path::new(c["audio"].as_str().unwrap()));
        assert!((seconds - 20.0).abs() < 0.02, "{seconds} s");
        let mut sorted = rms.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let gaps = rms.iter().filter(|&&r| r < median * 1e-3).count();
        assert_eq!(gaps, 0, "{gaps} silent 10 ms windows in {}", c["audio"]);
        audios.push(std::fs::read(c["audio"].as_str().unwrap()).unwrap());
    }
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(
                audios[i], audios[j],
                "candidates {i} and {j} have the same music"
            );
        }
    }
}

#[test]
fn generate_without_the_model_says_how_to_get_it() {
    let empty = tempfile::tempdir().unwrap();
    let out = bgm()
        .env("HF_HOME", empty.path())
        .arg("--models-dir")
        .arg(empty.path())
        .args([
            "--offline",
            "--device",
            "cpu",
            "generate",
            "--prompt",
            "x",
            "--out",
        ])
        .arg(empty.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("models download riffusion"),
        "{stderr}"
    );
}

//! The core both front ends share: a job made in the window (through the studio, with saved
//! non-default settings) resumes in the command line with the same settings, recomputes
//! nothing and keeps the user's plan edit; each setting reruns its own stage and those after
//! it, never one before.

mod common;

use std::path::Path;
use std::process::Command;

use bgm_models::device::ComputeDevice;
use bgm_models::task::CancelToken;
use bgm_models::weights::WeightsConfig;
use bgm_studio::jobs::{JobId, StageName};
use bgm_studio::media::probe;
use bgm_studio::paths::AppPaths;
use bgm_studio::pipeline::{mix::OriginalAudio, JobFiles, PROVENANCE_TAG};
use bgm_studio::settings::Settings;
use bgm_studio::studio::Studio;
use common::{fixture, install_tiny_model, install_tiny_models};

const EDITED_PROMPT: &str = "solo cello, edited by hand";

/// Non-default in every field a stage reads.
fn saved_settings() -> Settings {
    Settings {
        whisper_model: "whisper-tiny".into(),
        steps: Some(2),
        original_audio: OriginalAudio::Replace,
        music_level_db: -3.0,
        duck_depth_db: 6.0,
        ..Settings::default()
    }
}

fn weights(root: &Path) -> WeightsConfig {
    let models = root.join("models");
    install_tiny_models(&models);
    install_tiny_model(&models, "whisper-tiny", "whisper/tiny");
    WeightsConfig {
        models_dir: Some(models),
        ..WeightsConfig::offline_in(root)
    }
}

/// A job run to the end as the window runs it, with a prompt edited and the music redone.
fn finished_job(root: &Path) -> (Studio, JobId) {
    let paths = AppPaths::in_one_folder(root.join("data"));
    saved_settings().save_to(&paths.settings_file()).unwrap();
    let studio = Studio::new(paths, weights(root));
    let id = studio.open_video(&fixture("speech.mp4")).unwrap().id;
    let cancel = CancelToken::new();
    studio.run(id, &mut |_| {}, &cancel).unwrap();
    studio
        .edit_plan(id, |plan| plan.set_prompt(0, 1, EDITED_PROMPT))
        .unwrap();
    studio.run(id, &mut |_| {}, &cancel).unwrap();
    (studio, id)
}

fn bgm(root: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_bgm-studio"))
        .env("BGM_DATA_DIR", root.join("data"))
        .arg("--models-dir")
        .arg(root.join("models"))
        .args(["--offline", "--device", "cpu"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bgm-studio {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_window_job_resumes_in_the_cli_with_its_settings_and_edits() {
    let root = tempfile::tempdir().unwrap();
    let (studio, id) = finished_job(root.path());
    let store = studio.store();
    let before = store.load(id).unwrap();
    assert_eq!(studio.stale_stages(id).unwrap(), []);

    bgm(root.path(), &["run", "--json", &id.to_string()]);
    let after = store.load(id).unwrap();
    for stage in StageName::ALL {
        assert_eq!(
            after.stage(stage),
            before.stage(stage),
            "{stage:?} ran again"
        );
    }
    let plan = JobFiles::new(&store.dir(id)).load_plan().unwrap();
    assert_eq!(plan.sections[0].candidates[1].prompt, EDITED_PROMPT);

    // The export records the settings the music was made with, not the defaults.
    let out = root.path().join("export.mp4");
    bgm(
        root.path(),
        &[
            "export",
            &id.to_string(),
            "--candidate",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let provenance: serde_json::Value =
        serde_json::from_str(&probe(&out).unwrap().metadata[PROVENANCE_TAG]).unwrap();
    assert_eq!(provenance["steps"], 2);
    assert_eq!(provenance["sections"][0]["prompt"], EDITED_PROMPT);
    assert!(
        provenance["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().starts_with("openai/whisper-tiny@")),
        "{provenance}"
    );
}

/// What changes, how, and the stages that must run again.
type Case = (&'static str, fn(&mut Settings), &'static [StageName]);

#[test]
fn each_setting_reruns_its_stage_and_the_ones_after_it_only() {
    let root = tempfile::tempdir().unwrap();
    let (studio, id) = finished_job(root.path());
    let paths = studio.paths().clone();
    let stale_with = |change: fn(&mut Settings)| {
        let mut settings = saved_settings();
        change(&mut settings);
        settings.save_to(&paths.settings_file()).unwrap();
        Studio::new(paths.clone(), studio.weights().clone())
            .stale_stages(id)
            .unwrap()
    };
    use StageName::*;
    let cases: [Case; 7] = [
        ("nothing", |_| {}, &[]),
        (
            "device",
            |s| s.device = bgm_models::device::DevicePreference::Cpu,
            &[],
        ),
        (
            "whisper model",
            |s| s.whisper_model = "whisper-base".into(),
            &[Transcribe, Emotions, Plan, Generate, Mix],
        ),
        ("steps", |s| s.steps = Some(3), &[Generate, Mix]),
        ("music level", |s| s.music_level_db = 0.0, &[Mix]),
        (
            "duck mode",
            |s| s.duck_mode = bgm_studio::pipeline::mix::DuckMode::Gain,
            &[Mix],
        ),
        (
            "duck depth and original audio",
            |s| {
                s.duck_depth_db = 12.0;
                s.original_audio = OriginalAudio::Keep;
            },
            &[Mix],
        ),
    ];
    for (what, change, expected) in cases {
        assert_eq!(stale_with(change), expected, "changing {what}");
    }
    // The device is not an input of any stage's output: the CPU's config agrees.
    assert_eq!(
        studio.config_on(ComputeDevice::cpu()).whisper_model,
        "whisper-tiny"
    );
}

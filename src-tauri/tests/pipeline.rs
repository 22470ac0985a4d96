//! The whole pipeline on a committed video with real (espeak-ng) speech, with the tiny random
//! models of every stage: four mixes of the video's length at the target loudness, an export
//! whose video packets are the input's, resuming after a kill in the middle of `generate`,
//! cancellation, and editing the plan.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bgm_models::device::ComputeDevice;
use bgm_models::task::CancelToken;
use bgm_models::weights::WeightsConfig;
use bgm_studio::jobs::{JobId, JobStore, StageName, StageState};
use bgm_studio::media::probe;
use bgm_studio::pipeline::{
    export_candidate, reseed_candidate, ExportRequest, JobFiles, MixReport, Pipeline,
    PipelineConfig, PipelineError, PROVENANCE_TAG,
};
use common::{fixture, install_tiny_models, video_packets};

const STEPS: u32 = 2;

/// A models folder with the tiny Whisper, emotion classifier and Riffusion, in their real
/// repos' layouts.
fn tiny_models(root: &Path) -> PathBuf {
    let models = root.join("models");
    install_tiny_models(&models);
    models
}

fn config(root: &Path) -> PipelineConfig {
    let weights = WeightsConfig {
        models_dir: Some(tiny_models(root)),
        ..WeightsConfig::offline_in(root)
    };
    let mut config = PipelineConfig::new(weights, ComputeDevice::cpu());
    config.steps = Some(STEPS);
    config
}

fn wav_frames(path: &Path) -> (usize, u32, u16) {
    let reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    (reader.duration() as usize, spec.sample_rate, spec.channels)
}

#[test]
fn a_video_with_speech_gets_four_mixes_and_exports() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path());
    let store = JobStore::in_data_dir(&root.path().join("data"));
    let job = store.create(&fixture("speech.mp4")).unwrap();
    let mut events = Vec::new();
    let done = Pipeline::new(&store, &config)
        .run(
            job.id,
            StageName::Mix,
            &mut |e| events.push(e.clone()),
            &CancelToken::new(),
        )
        .unwrap();
    for stage in StageName::ALL {
        let record = done.stage(stage);
        assert!(events.iter().any(|e| e.stage == stage && e.fraction == 1.0));
        // The default mix keeps all of the original sound: no separation.
        if stage == StageName::Separate {
            assert_eq!(record.state, StageState::Skipped);
            continue;
        }
        assert_eq!(record.state, StageState::Done, "{stage:?}");
        println!("{stage:?}: {:.2} s", record.seconds.unwrap());
    }
    assert!(
        events
            .iter()
            .any(|e| e.eta_seconds.is_some_and(|s| s > 0.0)),
        "ETAs are given"
    );

    let files = JobFiles::new(&store.dir(job.id));
    let duration = job.media.duration_seconds;
    let expected_frames = (duration * 44_100.0).round() as usize;
    for n in 0..4 {
        let (frames, rate, channels) = wav_frames(&files.mix(n));
        assert_eq!((rate, channels), (44_100, 2));
        assert!(
            frames.abs_diff(expected_frames) <= 1024,
            "candidate {n}: {frames} frames for a {duration} s video"
        );
        assert!(files.preview(n).exists());
        // Every clip Riffusion made is kept as its spectrogram image, in order.
        let clips = std::fs::read_dir(files.clip_image(n, 0).parent().unwrap())
            .unwrap()
            .count();
        assert!(
            clips >= 1 && files.clip_image(n, clips - 1).exists(),
            "{clips} clips"
        );
    }
    let report: MixReport =
        serde_json::from_str(&std::fs::read_to_string(files.loudness()).unwrap()).unwrap();
    for (n, l) in report.candidates.iter().enumerate() {
        println!(
            "candidate {n}: {:.2} LUFS, {:.2} dBTP",
            l.integrated_lufs, l.true_peak_dbtp
        );
        assert!((l.integrated_lufs - -14.0).abs() <= 1.0, "{l:?}");
        assert!(l.true_peak_dbtp <= -1.0 + 0.1, "{l:?}");
    }
    // The four candidates differ.
    let first = std::fs::read(files.music(0)).unwrap();
    for n in 1..4 {
        assert_ne!(
            std::fs::read(files.music(n)).unwrap(),
            first,
            "candidate {n}"
        );
    }

    // What the window's job view reads from the finished job.
    let view = bgm_studio::commands::read_job_details(
        store.load(job.id).unwrap(),
        &store.dir(job.id),
        false,
    );
    assert!(view.stages.iter().all(|s| s.state.is_settled()));
    assert!(!view.transcript.is_empty() && !view.sections.is_empty());
    assert!(view.sections.iter().all(|s| s.prompts.len() == 4));
    for (n, c) in view.candidates.iter().enumerate() {
        assert!(c.ready, "candidate {n}");
        assert!(c
            .preview
            .as_deref()
            .is_some_and(|p| p.starts_with("data:image/png;base64,")));
        assert!(c.loudness_lufs.is_some_and(|l| (l - -14.0).abs() <= 1.0));
    }
    let timing: bgm_studio::pipeline::DiffusionTiming =
        serde_json::from_str(&std::fs::read_to_string(files.diffusion_timing()).unwrap()).unwrap();
    assert_eq!(timing.batch, 8);
    assert!(
        timing.seconds_per_step().is_some_and(|s| s > 0.0),
        "{timing:?}"
    );

    // Export: the video packets are the input's, bit for bit, and the file says what made
    // its music.
    let dest = root.path().join("export.mp4");
    let request = ExportRequest {
        job: job.id,
        candidate: 2,
        dest: &dest,
        overwrite: false,
    };
    export_candidate(
        &store,
        &request,
        &config,
        &mut bgm_models::task::no_progress(),
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(video_packets(&dest), video_packets(&fixture("speech.mp4")));
    // The exported sound, measured by FFmpeg's own EBU R128 meter, is as loud as the
    // pipeline's meter says its mix is (the AAC encoding moves it a little).
    let exported = ffmpeg_integrated_lufs(&dest);
    let reported = report.candidates[2].integrated_lufs;
    println!("export: {exported:.2} LUFS by ffmpeg's ebur128, {reported:.2} LUFS reported");
    assert!(
        (exported - reported).abs() <= 0.5 && (exported - -14.0).abs() <= 1.0,
        "exported {exported} LUFS, reported {reported} LUFS"
    );
    let info = probe(&dest).unwrap();
    assert!((info.duration_seconds - duration).abs() < 0.1);
    let provenance: serde_json::Value =
        serde_json::from_str(&info.metadata[PROVENANCE_TAG]).unwrap();
    assert_eq!(provenance["candidate"], 2);
    assert_eq!(provenance["steps"], STEPS);
    let plan =
        bgm_models::plan::MusicPlan::from_json(&std::fs::read_to_string(files.plan()).unwrap())
            .unwrap();
    assert_eq!(
        provenance["sections"][0]["seed"],
        plan.sections[0].candidates[2].seed
    );
    assert!(provenance["models"].as_array().unwrap().iter().any(|m| m
        .as_str()
        .unwrap()
        .starts_with("riffusion/riffusion-model-v1@")));
    // The original title is kept.
    assert_eq!(
        info.metadata.get("title").map(String::as_str),
        Some("BGM speech fixture")
    );
    let ffprobe = Command::new("ffprobe")
        .args(["-v", "error"])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(ffprobe.status.success() && ffprobe.stderr.is_empty());

    // Everything is up to date now: a second run redoes nothing.
    let mut again = Vec::new();
    Pipeline::new(&store, &config)
        .run(
            job.id,
            StageName::Mix,
            &mut |e| again.push(e.clone()),
            &CancelToken::new(),
        )
        .unwrap();
    assert!(
        again
            .iter()
            .all(|e| e.message == "up to date" || e.message == "not needed"),
        "{again:?}"
    );

    // Regenerating one candidate: new seeds for it, generate for it alone, mix; the other
    // candidates' music is kept and the stages before generate are not run.
    let music_before: Vec<Vec<u8>> = (0..4)
        .map(|n| std::fs::read(files.music(n)).unwrap())
        .collect();
    let mut after_regenerate = Vec::new();
    Pipeline::new(&store, &config)
        .regenerate(
            job.id,
            1,
            None,
            &mut |e| after_regenerate.push(e.clone()),
            &CancelToken::new(),
        )
        .unwrap();
    for (n, before) in music_before.iter().enumerate() {
        let changed = std::fs::read(files.music(n)).unwrap() != *before;
        assert_eq!(changed, n == 1, "candidate {n}");
    }
    for stage in StageName::ALL {
        let redone = after_regenerate
            .iter()
            .any(|e| e.stage == stage && e.message == "done");
        assert_eq!(redone, stage == StageName::Mix, "{stage:?}");
    }
    assert!(reseed_candidate(&files, 4, None).is_err());
    assert!(reseed_candidate(&files, 0, Some(99)).is_err());

    // Editing the plan by hand re-runs generate and mix only.
    let plan_path = files.plan();
    let plan = std::fs::read_to_string(&plan_path).unwrap();
    std::fs::write(&plan_path, plan.replacen("\"seed\": ", "\"seed\": 1", 1)).unwrap();
    let mut after_edit = Vec::new();
    Pipeline::new(&store, &config)
        .run(
            job.id,
            StageName::Mix,
            &mut |e| after_edit.push(e.clone()),
            &CancelToken::new(),
        )
        .unwrap();
    for stage in StageName::ALL {
        let redone = after_edit
            .iter()
            .any(|e| e.stage == stage && e.message == "done");
        assert_eq!(redone, stage >= StageName::Generate, "{stage:?}");
    }
}

#[test]
fn cancel_during_generate_leaves_a_resumable_job() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path());
    let store = JobStore::in_data_dir(&root.path().join("data"));
    let job = store.create(&fixture("speech.mp4")).unwrap();
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    let err = Pipeline::new(&store, &config)
        .run(
            job.id,
            StageName::Mix,
            &mut |e| {
                if e.stage == StageName::Generate && e.fraction > 0.0 {
                    trigger.cancel();
                }
            },
            &cancel,
        )
        .unwrap_err();
    assert!(matches!(err, PipelineError::Cancelled), "{err}");
    let manifest = store.load(job.id).unwrap();
    assert_eq!(
        manifest.stage(StageName::Generate).state,
        StageState::Cancelled
    );
    assert_eq!(manifest.stage(StageName::Plan).state, StageState::Done);
}

/// The integrated loudness of a file's sound by FFmpeg's `ebur128` filter (its summary's
/// "I: … LUFS" line).
fn ffmpeg_integrated_lufs(path: &std::path::Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-af", "ebur128", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    let summary = log.rsplit("Summary:").next().unwrap();
    summary
        .lines()
        .find_map(|line| line.trim().strip_prefix("I:"))
        .and_then(|rest| rest.trim().strip_suffix("LUFS"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no integrated loudness in ffmpeg's summary: {summary}"))
}

/// A real kill (SIGKILL) of `bgm-studio run` while it generates; meanwhile a second process is
/// refused the job. `run JOB` then takes over the dead run's lock and resumes with generate,
/// and the stages before it keep their original run.
#[test]
fn a_killed_run_resumes_where_it_stopped() {
    let root = tempfile::tempdir().unwrap();
    let models = tiny_models(root.path());
    let data = root.path().join("data");
    let bgm = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bgm-studio"));
        cmd.env("BGM_DATA_DIR", &data)
            .arg("--models-dir")
            .arg(&models)
            .args(["--offline", "--device", "cpu"])
            .args(args);
        cmd
    };
    let video = fixture("speech.mp4");
    let mut child = bgm(&["run", "--steps", "2", "--json", video.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = JobStore::in_data_dir(&data);
    let started = Instant::now();
    let id: JobId = loop {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "generate never started"
        );
        let generating = store.list().unwrap_or_default().into_iter().find(|j| {
            store
                .load(j.id)
                .is_ok_and(|m| m.stage(StageName::Generate).state == StageState::Running)
        });
        if let Some(job) = generating {
            break job.id;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "run ended before generate"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // A second process may not touch the job while the first holds it.
    for args in [vec!["run", "--json"], vec!["jobs", "rm"]] {
        let mut args: Vec<String> = args.into_iter().map(String::from).collect();
        args.push(id.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let refused = bgm(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success(),
            "{args:?} ran beside the first run"
        );
        let expected = format!("being processed by another BGM Studio (pid {})", child.id());
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = store.load(id).unwrap();
    // The dead run's lock file is left behind, naming it; the next run takes it over.
    let lock = store.dir(id).join(bgm_studio::jobs::LOCK_FILE);
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        child.id().to_string()
    );

    let out = bgm(&["run", "--steps", "2", "--json", &id.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = store.load(id).unwrap();
    for stage in [
        StageName::Decode,
        StageName::Transcribe,
        StageName::Emotions,
        StageName::Plan,
    ] {
        assert_eq!(
            before.stage(stage).started_unix,
            after.stage(stage).started_unix,
            "{stage:?} was run again"
        );
    }
    assert_eq!(after.stage(StageName::Mix).state, StageState::Done);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mixes"].as_array().unwrap().len(), 4);

    // Export the chosen candidate from the command line; a bad id or candidate is an error.
    let dest = root.path().join("chosen.mkv");
    let out = bgm(&[
        "export",
        &id.to_string(),
        "--candidate",
        "1",
        "--out",
        dest.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(video_packets(&dest), video_packets(&video));
    let out = bgm(&[
        "export",
        &id.to_string(),
        "--candidate",
        "7",
        "--out",
        "x.mp4",
    ])
    .output()
    .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("candidates are 0-3"));
    let out = bgm(&["export", "../../etc", "--candidate", "1", "--out", "x.mp4"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.starts_with("error: "),
        "{stderr}"
    );
}

//! The job store and the `jobs` commands.

mod common;

use std::process::Command;

use bgm_studio::jobs::{JobError, JobId, JobStore, StageName, StageRecord, StageState};
use common::fixture;

#[test]
fn jobs_are_created_listed_reloaded_and_deleted() {
    let data = tempfile::tempdir().unwrap();
    let store = JobStore::in_data_dir(data.path());
    assert!(store.list().unwrap().is_empty());

    let first = store.create(&fixture("h264_aac.mp4")).unwrap();
    let mut second = store.create(&fixture("clip.mkv")).unwrap();
    assert_ne!(first.id, second.id);
    assert!(store.dir(first.id).join("job.json").is_file());
    assert_eq!(first.media.video_streams[0].codec, "h264");
    assert!(first.input.is_absolute());

    second.stages.insert(
        StageName::Decode,
        StageRecord {
            state: StageState::Done,
            seconds: Some(0.5),
            ..Default::default()
        },
    );
    store.save(&second).unwrap();
    assert_eq!(store.load(second.id).unwrap(), second);

    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 2);
    let summary = listed.iter().find(|j| j.id == second.id).unwrap();
    assert_eq!(summary.done_through, Some(StageName::Decode));

    store.delete(first.id).unwrap();
    assert!(!store.dir(first.id).exists());
    assert!(matches!(store.load(first.id), Err(JobError::NotFound(_))));
    assert!(matches!(store.delete(first.id), Err(JobError::NotFound(_))));
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn bad_videos_make_no_job() {
    let data = tempfile::tempdir().unwrap();
    let store = JobStore::in_data_dir(data.path());
    let err = store.create(&fixture("not_a_video.mp4")).unwrap_err();
    assert!(err.to_string().contains("not_a_video.mp4"), "{err}");
    assert!(store.list().unwrap().is_empty());
    assert!(!store.root().exists() || std::fs::read_dir(store.root()).unwrap().next().is_none());
}

#[test]
fn a_damaged_manifest_is_reported_and_skipped_in_the_list() {
    let data = tempfile::tempdir().unwrap();
    let store = JobStore::in_data_dir(data.path());
    let good = store.create(&fixture("h264_aac.mp4")).unwrap();
    let bad = store.create(&fixture("clip.mov")).unwrap();
    std::fs::write(store.dir(bad.id).join("job.json"), b"{ truncated").unwrap();
    let err = store.load(bad.id).unwrap_err();
    assert!(matches!(err, JobError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("job.json"), "{err}");
    let listed: Vec<JobId> = store.list().unwrap().into_iter().map(|j| j.id).collect();
    assert_eq!(listed, vec![good.id]);
}

fn bgm(data: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bgm-studio"));
    cmd.env("BGM_DATA_DIR", data);
    cmd
}

#[test]
fn the_jobs_commands_reject_bad_ids_before_touching_anything() {
    let data = tempfile::tempdir().unwrap();
    let store = JobStore::in_data_dir(data.path());
    let job = store.create(&fixture("h264_aac.mp4")).unwrap();
    // A file next to the jobs folder that a path-traversing id would reach.
    let victim = data.path().join("precious.txt");
    std::fs::write(&victim, b"keep").unwrap();

    let out = bgm(data.path())
        .args(["jobs", "rm", &job.id.to_string(), "../precious.txt"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("not a job id"),
        "{stderr}"
    );
    assert!(
        victim.exists() && store.dir(job.id).exists(),
        "nothing may be deleted"
    );

    let out = bgm(data.path())
        .args(["jobs", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], job.id.to_string());

    let out = bgm(data.path())
        .args(["jobs", "show", &job.id.to_string(), "--json"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["media"]["videoStreams"][0]["codec"], "h264");

    let out = bgm(data.path())
        .args(["jobs", "rm", &job.id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!store.dir(job.id).exists());
}

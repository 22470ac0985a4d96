//! Shot cuts on a synthetic video with hard cuts at known times (colour changes and a moving
//! test pattern, made with ffmpeg): each is found within one frame, nothing else is, and a plan
//! whose section boundaries fall near them snaps onto the cuts found.

mod common;

use std::process::Command;

use bgm_models::emotion::{Emotion, Section, Timeline};
use bgm_models::plan::{MusicPlan, PlanOptions};
use bgm_models::task::CancelToken;
use bgm_studio::media::{detect_cuts, CutOptions};
use common::run_ffmpeg;

const FPS: f64 = 25.0;

#[test]
fn hard_cuts_are_found_within_one_frame_and_the_plan_snaps_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("cuts.mp4");
    // Shots: red 2 s, a moving pattern 1.5 s, blue 2.5 s, the pattern again 2 s.
    let shots = [
        "color=c=red:s=160x90:r=25:d=2",
        "testsrc2=s=160x90:r=25:d=1.5",
        "color=c=blue:s=160x90:r=25:d=2.5",
        "testsrc2=s=160x90:r=25:d=2",
    ];
    let mut args: Vec<String> = Vec::new();
    for shot in shots {
        args.extend(["-f".into(), "lavfi".into(), "-i".into(), shot.into()]);
    }
    args.extend([
        "-filter_complex".into(),
        "[0:v][1:v][2:v][3:v]concat=n=4:v=1:a=0,format=yuv420p[v]".into(),
        "-map".into(),
        "[v]".into(),
        "-c:v".into(),
        "libx264".into(),
        video.to_str().unwrap().into(),
    ]);
    run_ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let cuts = detect_cuts(
        &video,
        &CutOptions::default(),
        &mut |_| {},
        &CancelToken::new(),
    )
    .unwrap();
    let found: Vec<f64> = cuts.iter().map(|c| c.time_seconds).collect();
    let expected = [2.0, 3.5, 6.0];
    assert_eq!(found.len(), expected.len(), "cuts at {found:?}");
    for (got, want) in found.iter().zip(expected) {
        let error = (got - want).abs();
        println!(
            "cut at {got:.3} s, expected {want} s: {:.0} ms off",
            error * 1000.0
        );
        assert!(
            error <= 1.0 / FPS + 1e-6,
            "cut at {got} s, expected {want} s"
        );
    }

    // Speech put the boundaries at 2.6 s and 5.2 s: the plan moves them to the cuts at 2.0 s
    // and about 6.0 s (each the nearest within 2 s).
    let section = |start: f64, end: f64, emotion| Section {
        start,
        end,
        emotion,
        confidence: 0.8,
        segments: vec![],
        user_emotion: None,
    };
    let timeline = Timeline {
        duration: 8.0,
        options: Default::default(),
        sections: vec![
            section(0.0, 2.6, Emotion::Joy),
            section(2.6, 5.2, Emotion::Sadness),
            section(5.2, 8.0, Emotion::Neutral),
        ],
    };
    let mut plan = MusicPlan::from_timeline(&timeline, &PlanOptions::default()).unwrap();
    plan.snap_to_cuts(&found, 2.0);
    let boundaries: Vec<f64> = plan.transitions.iter().map(|t| t.at).collect();
    assert_eq!(boundaries, [found[0], found[2]]);
    assert!(plan.transitions.iter().all(|t| t.snapped));
    assert_eq!(plan.sections[1].start, found[0]);
    assert_eq!(plan.sections[2].start, found[2]);

    let out = Command::new(env!("CARGO_BIN_EXE_bgm-studio"))
        .args(["cuts", "--json"])
        .arg(&video)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3, "{json}");
    assert!(json[1]["timeSeconds"].as_f64().unwrap() > 3.4);
}

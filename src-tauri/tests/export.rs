//! `mux`: stream copy, audio fitted to the video, atomic writes, refusals.

mod common;

use std::path::Path;

use bgm_models::task::CancelToken;
use bgm_studio::media::{decode_audio, mux, probe, MediaError, MuxOptions};
use common::{audio_frame_seconds, fixture, video_packets};

fn export(
    video: &Path,
    audio: &Path,
    dest: &Path,
) -> Result<bgm_studio::media::MuxReport, MediaError> {
    mux(
        video,
        audio,
        dest,
        &MuxOptions::default(),
        &mut |_| {},
        &CancelToken::new(),
    )
}

/// The checks every export must pass: identical video packets, audio as long as the video.
fn assert_faithful_export(video: &Path, dest: &Path, expected_audio_codec: &str) {
    let input_packets = video_packets(video);
    let output_packets = video_packets(dest);
    assert_eq!(
        input_packets.len(),
        output_packets.len(),
        "{}",
        dest.display()
    );
    assert!(
        input_packets == output_packets,
        "video packets changed in {}",
        dest.display()
    );

    let out = probe(dest).unwrap();
    assert_eq!(out.audio_streams.len(), 1);
    assert_eq!(out.audio_streams[0].codec, expected_audio_codec);
    let video_duration = out.video_streams[0]
        .duration_seconds
        .unwrap_or(out.duration_seconds);
    let source = probe(video).unwrap();
    let source_duration = source.video_streams[0].duration_seconds.unwrap();
    // Matroska keeps times in milliseconds, so durations there round by a few ms; a dropped or
    // added frame would change it by a whole frame.
    let half_frame = 0.5 / source.video_streams[0].fps;
    assert!(
        (video_duration - source_duration).abs() < half_frame,
        "video length changed in {}: {source_duration} -> {video_duration}",
        dest.display()
    );
    let pcm = decode_audio(dest, 48_000, 1, &mut |_| {}, &CancelToken::new()).unwrap();
    let frame = audio_frame_seconds(&out);
    assert!(
        (pcm.duration_seconds() - video_duration).abs() <= frame,
        "{}: audio {:.4} s vs video {video_duration:.4} s (one frame = {frame:.4} s)",
        dest.display(),
        pcm.duration_seconds()
    );
}

#[test]
fn exports_to_every_container() {
    let dir = tempfile::tempdir().unwrap();
    let music = fixture("music.wav");
    let cases = [
        ("h264_aac.mp4", "out.mp4", "aac"),
        ("h264_aac.mp4", "out.mkv", "opus"),
        ("clip.mov", "out.mov", "aac"),
        ("clip.mov", "out.m4v", "aac"),
        ("vp9_opus.webm", "out.webm", "opus"),
        ("clip.mkv", "out2.mkv", "opus"),
        ("no_audio.mp4", "silent-now-scored.mp4", "aac"),
    ];
    for (video, dest, codec) in cases {
        let dest = dir.path().join(dest);
        let report = export(&fixture(video), &music, &dest).unwrap();
        assert_eq!(report.dest, dest.canonicalize().unwrap());
        assert_faithful_export(&fixture(video), &dest, codec);
    }
}

#[test]
fn short_music_is_padded_to_the_video_length() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("padded.mp4");
    // 1.5 s of audio under a 2 s video.
    export(&fixture("h264_aac.mp4"), &fixture("audio_only.m4a"), &dest).unwrap();
    assert_faithful_export(&fixture("h264_aac.mp4"), &dest, "aac");
}

#[test]
fn keeps_metadata_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("kept.mp4");
    export(&fixture("h264_aac.mp4"), &fixture("music.wav"), &dest).unwrap();
    let info = probe(&dest).unwrap();
    assert_eq!(
        info.metadata.get("title").map(String::as_str),
        Some("BGM fixture")
    );

    let dest = dir.path().join("phone.mp4");
    export(&fixture("rotated.mp4"), &fixture("music.wav"), &dest).unwrap();
    assert_eq!(probe(&dest).unwrap().video_streams[0].rotation_degrees, 90);
    assert_faithful_export(&fixture("rotated.mp4"), &dest, "aac");
}

#[test]
fn reports_progress_up_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    mux(
        &fixture("h264_aac.mp4"),
        &fixture("music.wav"),
        &dir.path().join("p.mp4"),
        &MuxOptions::default(),
        &mut |f| seen.push(f),
        &CancelToken::new(),
    )
    .unwrap();
    assert!(seen.len() > 3);
    assert_eq!(seen.last().copied(), Some(1.0));
}

#[test]
fn never_writes_over_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("mine.mp4");
    std::fs::copy(fixture("h264_aac.mp4"), &video).unwrap();
    let before = std::fs::read(&video).unwrap();
    let options = MuxOptions {
        overwrite: true,
        ..Default::default()
    };
    let err = mux(
        &video,
        &fixture("music.wav"),
        &video,
        &options,
        &mut |_| {},
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(
        matches!(err, MediaError::DestinationIsInput { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("mine.mp4"));
    assert_eq!(std::fs::read(&video).unwrap(), before);
}

#[test]
fn refuses_unwritable_or_unsuitable_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let video = fixture("h264_aac.mp4");
    let music = fixture("music.wav");

    let err = export(&video, &music, &dir.path().join("no/such/folder/out.mp4")).unwrap_err();
    assert!(err.to_string().contains("out.mp4"), "{err}");

    let err = export(&video, &music, &dir.path().join("out.avi")).unwrap_err();
    assert!(
        err.to_string().contains("out.avi") && err.to_string().contains(".mkv"),
        "{err}"
    );

    // H.264 cannot go into WebM without re-encoding, which export never does.
    let err = export(&video, &music, &dir.path().join("out.webm")).unwrap_err();
    assert!(err.to_string().contains("h264"), "{err}");
    assert!(!dir.path().join("out.webm").exists());

    let existing = dir.path().join("existing.mp4");
    std::fs::write(&existing, b"keep me").unwrap();
    assert!(export(&video, &music, &existing).is_err());
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");

    let err = export(
        &fixture("audio_only.m4a"),
        &music,
        &dir.path().join("x.mp4"),
    )
    .unwrap_err();
    assert!(matches!(err, MediaError::NoVideo { .. }), "{err:?}");
    let err = export(&video, &fixture("no_audio.mp4"), &dir.path().join("y.mp4")).unwrap_err();
    assert!(matches!(err, MediaError::NoAudio { .. }), "{err:?}");
    let err = export(&fixture("truncated.mp4"), &music, &dir.path().join("z.mp4")).unwrap_err();
    assert!(
        err.is_bad_input() && err.to_string().contains("truncated.mp4"),
        "{err}"
    );
}

/// A destination that cannot be written, even by root (CI runs as root, which ignores folder
/// permissions): a file where a folder is expected, and a folder of /proc.
#[cfg(unix)]
#[test]
fn an_unwritable_destination_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("notes.txt");
    std::fs::write(&not_a_folder, b"a file, not a folder").unwrap();
    for dest in [
        not_a_folder.join("out.mp4"),
        std::path::PathBuf::from("/proc/self/out.mp4"),
    ] {
        let err = export(&fixture("h264_aac.mp4"), &fixture("music.wav"), &dest).unwrap_err();
        assert!(
            err.to_string().contains("out.mp4"),
            "{}: {err}",
            dest.display()
        );
        assert!(!err.to_string().contains("partial"), "{err}");
        assert!(!dest.exists());
    }
    let err = export(
        &fixture("h264_aac.mp4"),
        &fixture("music.wav"),
        &not_a_folder.join("out.mp4"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("is a file, not a folder"), "{err}");
}

#[test]
fn a_cancelled_export_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("cancelled.mp4");
    let cancel = CancelToken::new();
    let token = cancel.clone();
    let err = mux(
        &fixture("h264_aac.mp4"),
        &fixture("music.wav"),
        &dest,
        &MuxOptions::default(),
        &mut move |f| {
            if f > 0.3 {
                token.cancel()
            }
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, MediaError::Cancelled), "{err:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

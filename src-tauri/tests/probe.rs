//! `probe` on every fixture, including the bad ones.

mod common;

use bgm_studio::media::{probe, MediaError};
use common::fixture;

#[test]
fn probes_mp4_with_h264_and_aac() {
    let info = probe(&fixture("h264_aac.mp4")).unwrap();
    assert!(info.container.contains("mp4"), "{}", info.container);
    assert!(
        (info.duration_seconds - 2.0).abs() < 0.05,
        "{}",
        info.duration_seconds
    );
    assert_eq!(
        info.size_bytes,
        std::fs::metadata(fixture("h264_aac.mp4")).unwrap().len()
    );
    let video = &info.video_streams[0];
    assert_eq!(
        (video.codec.as_str(), video.width, video.height),
        ("h264", 160, 90)
    );
    assert!((video.fps - 15.0).abs() < 1e-6);
    assert_eq!(video.rotation_degrees, 0);
    let audio = &info.audio_streams[0];
    assert_eq!(
        (audio.codec.as_str(), audio.sample_rate, audio.channels),
        ("aac", 44100, 2)
    );
    assert_eq!(
        info.metadata.get("title").map(String::as_str),
        Some("BGM fixture")
    );
}

#[test]
fn probes_mov_mkv_and_webm() {
    let mov = probe(&fixture("clip.mov")).unwrap();
    assert_eq!(mov.audio_streams[0].channels, 1);
    assert_eq!(mov.video_streams[0].codec, "h264");

    let mkv = probe(&fixture("clip.mkv")).unwrap();
    assert_eq!(mkv.container, "matroska,webm");
    assert_eq!(mkv.audio_streams[0].codec, "opus");
    assert_eq!(mkv.audio_streams[0].sample_rate, 48000);
    // Matroska stores stream durations as tags; they are read.
    assert!((mkv.video_streams[0].duration_seconds.unwrap() - 2.0).abs() < 0.1);

    let webm = probe(&fixture("vp9_opus.webm")).unwrap();
    assert_eq!(webm.video_streams[0].codec, "vp9");
    assert_eq!(webm.audio_streams[0].codec, "opus");
    assert!((webm.duration_seconds - 2.0).abs() < 0.1);
}

#[test]
fn probes_files_without_audio_or_video() {
    let silent = probe(&fixture("no_audio.mp4")).unwrap();
    assert!(silent.has_video() && !silent.has_audio());
    let audio = probe(&fixture("audio_only.m4a")).unwrap();
    assert!(!audio.has_video() && audio.has_audio());
    assert!((audio.duration_seconds - 1.5).abs() < 0.05);
}

#[test]
fn reads_the_rotation_of_a_phone_video() {
    let info = probe(&fixture("rotated.mp4")).unwrap();
    let video = &info.video_streams[0];
    assert_eq!(video.rotation_degrees, 90);
    assert_eq!((video.width, video.height), (160, 90));
    assert_eq!(video.display_size(), (90, 160));
}

fn assert_names_file(err: &MediaError, name: &str) {
    let message = err.to_string();
    assert!(message.contains(name), "\"{message}\" should name {name}");
}

#[test]
fn bad_inputs_are_typed_errors_that_name_the_file() {
    let err = probe(&fixture("truncated.mp4")).unwrap_err();
    assert!(matches!(err, MediaError::Damaged { .. }), "{err:?}");
    assert_names_file(&err, "truncated.mp4");
    assert!(err.to_string().contains("MP4"), "{err}");

    let err = probe(&fixture("empty.mp4")).unwrap_err();
    assert!(matches!(err, MediaError::EmptyFile { .. }), "{err:?}");
    assert_names_file(&err, "empty.mp4");

    let err = probe(&fixture("not_a_video.mp4")).unwrap_err();
    assert!(matches!(err, MediaError::NotMedia { .. }), "{err:?}");
    assert_names_file(&err, "not_a_video.mp4");

    let err = probe(&fixture("missing.mp4")).unwrap_err();
    assert!(matches!(err, MediaError::NotFound { .. }), "{err:?}");
    assert_names_file(&err, "missing.mp4");

    let err = probe(&fixture("")).unwrap_err();
    assert!(matches!(err, MediaError::NotAFile { .. }), "{err:?}");
    for err in [
        probe(&fixture("truncated.mp4")).unwrap_err(),
        probe(&fixture("empty.mp4")).unwrap_err(),
        probe(&fixture("not_a_video.mp4")).unwrap_err(),
    ] {
        assert!(err.is_bad_input());
    }
}

/// A file whose container names other files (an HLS playlist, an FFmpeg concat list) is
/// refused before anything it names is opened: a crafted one could otherwise pull any file
/// the user can read into an export. The files it names here are real media, so opening them
/// would succeed.
#[test]
fn playlists_and_lists_that_name_other_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("inside.mp4");
    std::fs::copy(fixture("h264_aac.mp4"), &media).unwrap();
    let playlist = dir.path().join("crafted.m3u8");
    std::fs::write(
        &playlist,
        format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{}\n#EXT-X-ENDLIST\n",
            media.display()
        ),
    )
    .unwrap();
    let list = dir.path().join("crafted.ffconcat");
    std::fs::write(&list, "ffconcat version 1.0\nfile inside.mp4\n").unwrap();
    for (path, kind) in [(&playlist, "HLS playlist"), (&list, "concat list")] {
        let err = probe(path).unwrap_err();
        assert!(
            matches!(err, MediaError::ReachesOtherFiles { .. }),
            "{}: {err:?}",
            path.display()
        );
        assert_names_file(&err, path.file_name().unwrap().to_str().unwrap());
        assert!(err.to_string().contains(kind), "{err}");
        assert!(err.is_bad_input());
    }
    // A numbered picture name (which FFmpeg's image demuxer would read as a sequence of
    // siblings) is a still picture, refused as one.
    let picture = dir.path().join("frame%03d.bmp");
    common::run_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=16x16",
        "-frames:v",
        "1",
        "-update",
        "1",
        picture.to_str().unwrap(),
    ]);
    let err = probe(&picture).unwrap_err();
    assert!(matches!(err, MediaError::StillImage { .. }), "{err:?}");
}

#[test]
fn unicode_and_odd_paths_work() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["vidéo d'été 🎵.mp4", "http:not-a-url.mp4", "pipe|name.mp4"];
    for name in names {
        let path = dir.path().join(name);
        std::fs::copy(fixture("h264_aac.mp4"), &path).unwrap();
        let info = probe(&path).unwrap();
        assert_eq!(info.video_streams.len(), 1, "{name}");
    }
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_work() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"clip-\xff\xfe.mp4"));
    std::fs::copy(fixture("h264_aac.mp4"), &path).unwrap();
    assert!(probe(&path).unwrap().has_audio());
}

//! `decode_audio` and `thumbnails` against the fixtures.

mod common;

use bgm_models::task::CancelToken;
use bgm_studio::media::{decode_audio, probe, thumbnails, MediaError};
use common::{audio_frame_seconds, fixture};

#[test]
fn decoded_audio_lasts_as_long_as_the_stream() {
    for name in [
        "h264_aac.mp4",
        "clip.mov",
        "clip.mkv",
        "vp9_opus.webm",
        "audio_only.m4a",
        "music.wav",
    ] {
        let path = fixture(name);
        let info = probe(&path).unwrap();
        let stream = info.audio_streams[0]
            .duration_seconds
            .unwrap_or(info.duration_seconds);
        let tolerance = audio_frame_seconds(&info);
        for (rate, channels) in [(16_000, 1), (44_100, 2)] {
            let pcm =
                decode_audio(&path, rate, channels, &mut |_| {}, &CancelToken::new()).unwrap();
            assert_eq!(pcm.samples.len() % usize::from(channels), 0);
            let error = (pcm.duration_seconds() - stream).abs();
            assert!(
                error <= tolerance,
                "{name} at {rate} Hz: decoded {:.4} s, stream {stream:.4} s",
                pcm.duration_seconds()
            );
        }
    }
}

#[test]
fn decoded_audio_is_the_signal_not_silence() {
    // The fixture is a 440 Hz sine: count zero crossings over the middle second.
    let pcm = decode_audio(
        &fixture("h264_aac.mp4"),
        16_000,
        1,
        &mut |_| {},
        &CancelToken::new(),
    )
    .unwrap();
    let middle = &pcm.samples[8_000..24_000];
    let crossings = middle
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    assert!(
        (870..=890).contains(&crossings),
        "{crossings} zero crossings"
    );
    let peak = middle.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(peak > 0.05 && peak <= 1.0, "peak {peak}");
}

#[test]
fn progress_rises_to_one_and_cancel_stops() {
    let mut seen = Vec::new();
    decode_audio(
        &fixture("clip.mkv"),
        16_000,
        1,
        &mut |f| seen.push(f),
        &CancelToken::new(),
    )
    .unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1] + 1e-9),
        "not monotonic: {seen:?}"
    );
    assert_eq!(seen.last().copied(), Some(1.0));

    let cancel = CancelToken::new();
    cancel.cancel();
    let err = decode_audio(&fixture("clip.mkv"), 16_000, 1, &mut |_| {}, &cancel).unwrap_err();
    assert!(matches!(err, MediaError::Cancelled), "{err:?}");
}

#[test]
fn decoding_bad_inputs_gives_typed_errors() {
    let cancel = CancelToken::new();
    let err = decode_audio(&fixture("no_audio.mp4"), 16_000, 1, &mut |_| {}, &cancel).unwrap_err();
    assert!(matches!(err, MediaError::NoAudio { .. }), "{err:?}");
    assert!(err.to_string().contains("no_audio.mp4"), "{err}");
    for name in ["truncated.mp4", "empty.mp4", "not_a_video.mp4"] {
        let err = decode_audio(&fixture(name), 16_000, 1, &mut |_| {}, &cancel).unwrap_err();
        assert!(
            err.is_bad_input() && err.to_string().contains(name),
            "{name}: {err}"
        );
    }
}

#[test]
fn thumbnails_are_evenly_spaced_sized_and_distinct() {
    let thumbs = thumbnails(&fixture("h264_aac.mp4"), 4, 80).unwrap();
    assert_eq!(thumbs.len(), 4);
    for (i, thumb) in thumbs.iter().enumerate() {
        assert_eq!(thumb.image.dimensions(), (80, 45));
        let expected = 2.0 * (i as f64 + 0.5) / 4.0;
        assert!(
            (thumb.time_seconds - expected).abs() < 0.1,
            "{} vs {expected}",
            thumb.time_seconds
        );
    }
    // The test pattern moves, so frames at different times differ.
    assert_ne!(thumbs[0].image.as_raw(), thumbs[3].image.as_raw());
}

#[test]
fn thumbnails_of_a_phone_video_are_upright() {
    let thumbs = thumbnails(&fixture("rotated.mp4"), 2, 45).unwrap();
    assert_eq!(thumbs[0].image.dimensions(), (45, 80));
}

#[test]
fn thumbnails_need_a_video() {
    let err = thumbnails(&fixture("audio_only.m4a"), 3, 64).unwrap_err();
    assert!(matches!(err, MediaError::NoVideo { .. }), "{err:?}");
    let err = thumbnails(&fixture("truncated.mp4"), 3, 64).unwrap_err();
    assert!(err.is_bad_input(), "{err:?}");
}

//! With no usable audio output, every call fails cleanly with `NoAudioDevice` and nothing
//! panics. A separate test binary because the ALSA configuration is per process.
//!
//! `ALSA_CONFIG_PATH` replaces the system's whole ALSA configuration, so besides our default
//! (a card that does not exist) ALSA knows no device at all, not even on a machine with
//! real sound cards or a PulseAudio/PipeWire bridge. Linux only.
#![cfg(target_os = "linux")]

mod player_audio;

use bgm_studio::player::{CandidatePlayer, PlayerError};

#[test]
fn without_an_audio_device_calls_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("asound.conf");
    std::fs::write(
        &config,
        "pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n",
    )
    .unwrap();
    // Before anything in this process touches ALSA.
    std::env::set_var("ALSA_CONFIG_PATH", &config);
    let tracks = player_audio::four_candidates(dir.path());

    let player = CandidatePlayer::new();
    let idle = player.state();
    assert!(!idle.loaded && idle.error.is_none(), "{idle:?}");

    let err = player.load(tracks.clone()).unwrap_err();
    let PlayerError::NoAudioDevice(reason) = &err else {
        panic!("expected NoAudioDevice, got {err:?}");
    };
    assert!(!reason.is_empty());
    let message = err.to_string();
    assert!(
        message.starts_with("No audio output device could be opened: ")
            && message.ends_with("; playback is unavailable, the rest of the app works"),
        "{message}"
    );

    // The UI can show the reason from the state as well.
    let state = player.state();
    assert!(!state.loaded, "{state:?}");
    assert_eq!(state.error.as_deref(), Some(message.as_str()));

    // Nothing is loaded, so there is nothing to play; trying again fails the same way.
    assert_eq!(player.play(), Err(PlayerError::NotLoaded));
    assert!(matches!(
        player.load(tracks),
        Err(PlayerError::NoAudioDevice(_))
    ));
    assert!(!player.unload().loaded);
}

//! The player against a real ALSA output that needs no sound card: see `player_audio` for how the
//! test process simulates a device that consumes audio in real time. Linux only.
#![cfg(target_os = "linux")]

mod player_audio;

use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use bgm_studio::player::{CandidatePlayer, PlayerError, PlayerState};

fn loaded_player(dir: &std::path::Path) -> CandidatePlayer {
    let player = CandidatePlayer::new();
    player.load(player_audio::four_candidates(dir)).unwrap();
    player
}

#[test]
fn player_is_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<CandidatePlayer>();
}

#[test]
fn audition_flow() {
    let _audio = player_audio::paced_null_audio();
    let dir = tempfile::tempdir().unwrap();
    let player = CandidatePlayer::new();

    let state = player
        .load(player_audio::four_candidates(dir.path()))
        .unwrap();
    assert_eq!(
        state,
        PlayerState {
            loaded: true,
            index: Some(0),
            playing: false,
            position: 0.0,
            duration: 2.0,
            error: None,
        }
    );

    // Playing advances the position at about real-time speed. The upper bound allows for the
    // ~0.25 s the simulated device buffers ahead plus a slow start; racing through the 2 s
    // track (as with ALSA's plain `null` device) or not moving at all fails.
    assert!(player.play().unwrap().playing);
    sleep(Duration::from_millis(300));
    let state = player.state();
    assert!(state.playing, "{state:?}");
    assert!(
        state.position > 0.1 && state.position < 1.0,
        "position after 300 ms: {state:?}"
    );

    // Switching candidates keeps the position and keeps playing.
    let before = player.state().position;
    let switched = player.select(2).unwrap();
    assert_eq!(switched.index, Some(2));
    assert!(switched.playing, "{switched:?}");
    assert!(
        (switched.position - before).abs() < 0.05,
        "position jumped from {before} to {}",
        switched.position
    );
    sleep(Duration::from_millis(200));
    let later = player.state();
    assert!(later.playing && later.index == Some(2), "{later:?}");
    assert!(
        later.position > switched.position + 0.05,
        "did not keep advancing after the switch: {switched:?} then {later:?}"
    );

    // Pausing stops the position dead.
    let paused = player.pause().unwrap();
    assert!(!paused.playing);
    sleep(Duration::from_millis(200));
    assert_eq!(player.state().position, paused.position);

    // Seeking is exact and keeps the pause.
    let sought = player.seek(1.5).unwrap();
    assert!(!sought.playing);
    assert!((sought.position - 1.5).abs() < 1e-6, "{sought:?}");
    assert!((player.state().position - 1.5).abs() < 1e-6);

    // Playing the last 0.5 s ends the track by itself, at its end.
    let started = Instant::now();
    player.play().unwrap();
    assert!(
        player_audio::wait_until(Duration::from_secs(5), || !player.state().playing),
        "never reached the end: {:?}",
        player.state()
    );
    let elapsed = started.elapsed();
    let end = player.state();
    assert_eq!(end.position, end.duration, "{end:?}");
    assert_eq!(end.index, Some(2));
    assert!(
        elapsed >= Duration::from_millis(250),
        "0.5 s of audio played in {elapsed:?}: the device is not consuming in real time"
    );
    assert_eq!(end.error, None);
}

#[test]
fn load_errors_name_the_file_and_keep_the_previous_set() {
    let _audio = player_audio::paced_null_audio();
    let dir = tempfile::tempdir().unwrap();
    let player = loaded_player(dir.path());
    player.select(1).unwrap();

    let missing = dir.path().join("missing-candidate.wav");
    let mut tracks = player_audio::four_candidates(dir.path());
    tracks[2] = missing.clone();
    let err = player.load(tracks).unwrap_err();
    assert_eq!(err, PlayerError::FileNotFound { path: missing });
    assert!(err.to_string().contains("missing-candidate.wav"), "{err}");

    let text = dir.path().join("notes.wav");
    std::fs::write(&text, "these are not samples\n").unwrap();
    let err = player.load(vec![text]).unwrap_err();
    assert!(matches!(err, PlayerError::NotWav { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.wav"), "{err}");

    assert_eq!(player.load(Vec::new()), Err(PlayerError::NoTracks));

    let state = player.state();
    assert!(state.loaded && state.index == Some(1), "{state:?}");
}

#[test]
fn commands_validate_their_input() {
    let _audio = player_audio::paced_null_audio();
    let dir = tempfile::tempdir().unwrap();
    let player = CandidatePlayer::new();

    assert_eq!(player.select(0), Err(PlayerError::NotLoaded));
    assert_eq!(player.play(), Err(PlayerError::NotLoaded));
    assert_eq!(player.toggle(), Err(PlayerError::NotLoaded));
    assert_eq!(player.seek(1.0), Err(PlayerError::NotLoaded));
    assert!(!player.pause().unwrap().loaded);
    assert!(!player.stop().unwrap().loaded);

    player
        .load(player_audio::four_candidates(dir.path()))
        .unwrap();
    assert_eq!(
        player.select(4),
        Err(PlayerError::IndexOutOfRange { index: 4, count: 4 })
    );
    assert!(matches!(
        player.seek(f64::NAN),
        Err(PlayerError::InvalidPosition(_))
    ));
    assert_eq!(player.seek(-3.0).unwrap().position, 0.0);
    assert_eq!(player.seek(1e12).unwrap().position, 2.0);
    assert_eq!(player.seek(f64::INFINITY).unwrap().position, 2.0);
    assert_eq!(player.seek(f64::NEG_INFINITY).unwrap().position, 0.0);
}

#[test]
fn toggle_stop_restart_and_unload() {
    let _audio = player_audio::paced_null_audio();
    let dir = tempfile::tempdir().unwrap();
    let player = loaded_player(dir.path());

    assert!(player.toggle().unwrap().playing);
    assert!(!player.toggle().unwrap().playing);

    // Play at the end starts again from the beginning.
    player.seek(2.0).unwrap();
    let restarted = player.play().unwrap();
    assert!(
        restarted.playing && restarted.position < 0.5,
        "{restarted:?}"
    );

    let stopped = player.stop().unwrap();
    assert!(!stopped.playing && stopped.position == 0.0, "{stopped:?}");

    let unloaded = player.unload();
    assert!(!unloaded.loaded && unloaded.index.is_none(), "{unloaded:?}");
    assert_eq!(player.play(), Err(PlayerError::NotLoaded));

    // Loading again reopens the device and plays.
    player
        .load(player_audio::four_candidates(dir.path()))
        .unwrap();
    player.play().unwrap();
    assert!(
        player_audio::wait_until(Duration::from_secs(3), || player.state().position > 0.1),
        "{:?}",
        player.state()
    );
}

#[test]
fn concurrent_commands_from_many_threads() {
    let _audio = player_audio::paced_null_audio();
    let dir = tempfile::tempdir().unwrap();
    let player = Arc::new(loaded_player(dir.path()));
    let deadline = Instant::now() + Duration::from_millis(500);
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let player = Arc::clone(&player);
            std::thread::spawn(move || {
                let mut i = 0usize;
                while Instant::now() < deadline {
                    i += 1;
                    let state = match (i + t) % 5 {
                        0 => player.play().unwrap(),
                        1 => player.select(i % 4).unwrap(),
                        2 => player.seek((i % 20) as f64 / 10.0).unwrap(),
                        3 => player.toggle().unwrap(),
                        _ => player.state(),
                    };
                    assert!(state.position >= 0.0 && state.position <= state.duration);
                    assert!(state.index.unwrap() < 4);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let state = player.state();
    assert!(state.loaded && state.error.is_none(), "{state:?}");
}

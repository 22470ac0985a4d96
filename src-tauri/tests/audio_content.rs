//! What an export sounds like, checked on its decoded audio: for each original-sound mode, a
//! job exported through the pipeline holds the chosen candidate's music (and not another's),
//! plus the video's own sound when it is kept and none of it when it is replaced. A video
//! without an audio track goes through the whole pipeline to an export with music. The
//! "speech only" mode, which needs separated stems, is checked in `separation.rs`.
//!
//! The check is the peak normalised cross-correlation over ±30 ms (AAC's priming is trimmed
//! on decoding, but a lag costs nothing to allow), on 8 kHz mono.

mod common;

use bgm_models::task::CancelToken;
use bgm_studio::pipeline::{mix::OriginalAudio, JobFiles};
use common::fixture;
use common::sound::{
    assert_original_sound, export, export_in_each_mode, mono, similarity, studio, RATE,
};

#[test]
fn each_original_sound_mode_exports_the_chosen_music_and_the_right_original() {
    let root = tempfile::tempdir().unwrap();
    let first = studio(root.path(), OriginalAudio::Duck);
    let id = first.open_video(&fixture("speech.mp4")).unwrap().id;
    first.run(id, &mut |_| {}, &CancelToken::new()).unwrap();
    let modes = [
        OriginalAudio::Duck,
        OriginalAudio::Keep,
        OriginalAudio::Replace,
    ];
    for measured in export_in_each_mode(root.path(), id, &modes, |mode| studio(root.path(), mode)) {
        let mode = measured.mode;
        assert!(
            measured.chosen > 0.2 && measured.chosen > 2.0 * measured.other,
            "{mode:?}: the chosen music is not in it"
        );
        assert_original_sound(&measured);
    }
}

#[test]
fn a_video_without_sound_gets_music_end_to_end() {
    let root = tempfile::tempdir().unwrap();
    let studio = studio(root.path(), OriginalAudio::Duck);
    let job = studio.open_video(&fixture("no_audio.mp4")).unwrap();
    assert!(job.media.audio_streams.is_empty());
    studio
        .run(job.id, &mut |_| {}, &CancelToken::new())
        .unwrap();
    let files = JobFiles::new(&studio.store().dir(job.id));
    let exported = export(&studio, job.id, 1, &root.path().join("silent-video.mp4"));
    let seconds = exported.len() as f64 / f64::from(RATE);
    assert!((seconds - 2.0).abs() < 0.1, "{seconds} s of audio");
    let music = similarity(&exported, &mono(&files.music(1)));
    println!("music {music:.3}");
    assert!(music > 0.5, "the music is not in the export: {music:.3}");
}

//! Export speed against the ffmpeg command line, in the same run on the same files.
//!
//! `cargo bench -p bgm-studio --bench export` makes a 60 s 1080p H.264 clip and 60 s of stereo
//! music with the ffmpeg command line, then times our `mux` and
//! `ffmpeg -i V -i A -map 0:v -map 1:a -c:v copy -c:a aac OUT`, alternating, and prints the
//! median times and their ratio (target: at most 1.1).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bgm_models::task::CancelToken;
use bgm_studio::media::{mux, MuxOptions};

const RUNS: usize = 5;

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("the ffmpeg command line is installed");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip_1080p.mp4");
    let audio = dir.path().join("music.wav");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    println!("making a 60 s 1080p test clip…");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=30:duration=60",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300:sample_rate=48000:duration=60",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "23",
        "-c:a",
        "aac",
        "-ac",
        "2",
        &path(&video),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "aevalsrc=0.3*sin(2*PI*220*t)|0.3*sin(2*PI*330*t):s=44100:d=60",
        "-c:a",
        "pcm_s16le",
        &path(&audio),
    ]);
    let size_mb = std::fs::metadata(&video).unwrap().len() as f64 / 1e6;
    println!("clip: {size_mb:.1} MB");

    let ours_out = dir.path().join("ours.mp4");
    let theirs_out = dir.path().join("ffmpeg.mp4");
    // The ffmpeg command line encodes AAC at 128 kb/s by default, we at 96 kb/s per channel:
    // time ours at both, so the ratio compares equal work and the cost of our default shows.
    let defaults = MuxOptions {
        overwrite: true,
        ..Default::default()
    };
    let same_bitrate = MuxOptions {
        overwrite: true,
        audio_bitrate: Some(128_000),
        ..Default::default()
    };
    let (mut ours, mut ours_128k, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let timed = |options: &MuxOptions| {
            let start = Instant::now();
            mux(
                &video,
                &audio,
                &ours_out,
                options,
                &mut |_| {},
                &CancelToken::new(),
            )
            .unwrap();
            start.elapsed()
        };
        ours.push(timed(&defaults));
        ours_128k.push(timed(&same_bitrate));

        let start = Instant::now();
        ffmpeg(&[
            "-i",
            &path(&video),
            "-i",
            &path(&audio),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            &path(&theirs_out),
        ]);
        theirs.push(start.elapsed());
        println!(
            "run {run}: ours {:?}, ours at 128 kb/s {:?}, ffmpeg {:?}",
            ours[run], ours_128k[run], theirs[run]
        );
    }
    let (ours, ours_128k, theirs) = (median(ours), median(ours_128k), median(theirs));
    let ratio = |t: Duration| t.as_secs_f64() / theirs.as_secs_f64();
    println!(
        "export of 60 s 1080p (medians of {RUNS}): ffmpeg -c:v copy -c:a aac {:.3} s; \
         ours at 128 kb/s {:.3} s = {:.2}x (target <= 1.1x); ours at the default 192 kb/s {:.3} s = {:.2}x",
        theirs.as_secs_f64(),
        ours_128k.as_secs_f64(),
        ratio(ours_128k),
        ours.as_secs_f64(),
        ratio(ours),
    );
}

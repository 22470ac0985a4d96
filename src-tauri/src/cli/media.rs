//! `probe` and `export`.

use std::path::Path;

use bgm_models::task::CancelToken;
use serde::Serialize;

use super::{print_json, progress};
use crate::jobs::JobId;
use crate::media::{self, MediaInfo, MuxOptions, MuxReport};
use crate::pipeline::ExportRequest;
use crate::studio::Studio;

pub(super) fn probe(file: &Path, json: bool) -> anyhow::Result<()> {
    let info = media::probe(file)?;
    if json {
        print_json(&info)
    } else {
        print_media_info(&info);
        Ok(())
    }
}

pub(super) fn cuts(file: &Path, json: bool) -> anyhow::Result<()> {
    let bar = progress::bar("finding cuts");
    let cuts = media::detect_cuts(
        file,
        &media::CutOptions::default(),
        &mut progress::follow(&bar),
        &CancelToken::new(),
    )?;
    bar.finish_and_clear();
    if json {
        return print_json(&cuts);
    }
    if cuts.is_empty() {
        println!("no cuts: one shot");
    }
    for cut in &cuts {
        println!("{:>9.3} s  (change {:.2})", cut.time_seconds, cut.score);
    }
    Ok(())
}

pub(super) fn export(
    video: &Path,
    audio: &Path,
    out: &Path,
    overwrite: bool,
    json: bool,
) -> anyhow::Result<()> {
    let bar = progress::bar("exporting");
    let options = MuxOptions {
        overwrite,
        ..Default::default()
    };
    let report = media::mux(
        video,
        audio,
        out,
        &options,
        &mut progress::follow(&bar),
        &CancelToken::new(),
    )?;
    bar.finish_and_clear();
    print_export(&report, json)
}

/// `export JOB --candidate N`: the job's video with that candidate's mix.
pub(super) fn export_job(
    job: &str,
    candidate: usize,
    out: &Path,
    overwrite: bool,
    studio: &Studio,
    json: bool,
) -> anyhow::Result<()> {
    let id: JobId = job.parse()?;
    let bar = progress::bar("exporting");
    let request = ExportRequest {
        job: id,
        candidate,
        dest: out,
        overwrite,
    };
    let report = studio.export(&request, &mut progress::follow(&bar), &CancelToken::new())?;
    bar.finish_and_clear();
    print_export(&report, json)
}

fn print_export(report: &MuxReport, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&ExportSummary::from(report));
    }
    println!(
        "wrote {} ({:.2} s, {} {} Hz, {} channel(s), {} stream(s) copied)",
        report.dest.display(),
        report.video_duration_seconds,
        report.audio_codec,
        report.audio_sample_rate,
        report.audio_channels,
        report.copied_streams
    );
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportSummary {
    dest: String,
    video_duration_seconds: f64,
    audio_codec: String,
    audio_sample_rate: u32,
    audio_channels: u16,
    copied_streams: usize,
}

impl From<&MuxReport> for ExportSummary {
    fn from(r: &MuxReport) -> Self {
        Self {
            dest: r.dest.display().to_string(),
            video_duration_seconds: r.video_duration_seconds,
            audio_codec: r.audio_codec.clone(),
            audio_sample_rate: r.audio_sample_rate,
            audio_channels: r.audio_channels,
            copied_streams: r.copied_streams,
        }
    }
}

fn print_media_info(info: &MediaInfo) {
    println!("{}", info.path);
    println!(
        "  container: {} ({}), {:.3} s, {} bytes",
        info.container_long_name, info.container, info.duration_seconds, info.size_bytes
    );
    for v in &info.video_streams {
        println!(
            "  video #{}: {} {}x{} {:.3} fps, rotation {}°",
            v.index, v.codec, v.width, v.height, v.fps, v.rotation_degrees
        );
    }
    for a in &info.audio_streams {
        println!(
            "  audio #{}: {} {} Hz, {} channel(s)",
            a.index, a.codec, a.sample_rate, a.channels
        );
    }
    if info.audio_streams.is_empty() {
        println!("  no audio track");
    }
    if let Some(problem) = &info.problem {
        println!("  not usable: {problem}");
    }
}

//! Disk space up front: what a run will write, from the stages still to run and the video's
//! length, against the free space of the disk the job lives on, so a run that cannot finish
//! says so before any stage starts instead of failing an hour in.

use std::path::Path;

use bgm_models::plan::CANDIDATES;

use super::error::{PipelineError, Result};
use super::files::JobFiles;
use super::generate::MusicEngineKind;
use super::runner::outputs;
use super::stages::{MIX_CHANNELS, MIX_RATE, SPEECH_RATE};
use crate::jobs::StageName;

/// Every WAV the pipeline writes holds 32-bit float samples.
const SAMPLE_BYTES: f64 = 4.0;
/// Riffusion's spectrogram images kept beside each candidate's music: at most about 300 kB
/// per 5.12 s clip.
const RIFFUSION_IMAGE_BYTES_PER_SECOND: f64 = 60_000.0;
/// The JSON files, the previews, and room for error.
const MARGIN_BYTES: u64 = 64 << 20;

/// Bytes per second of the mix format (44.1 kHz stereo float).
fn mix_format() -> f64 {
    f64::from(MIX_RATE) * f64::from(MIX_CHANNELS) * SAMPLE_BYTES
}

/// Bytes per second of video that `stage` writes.
fn bytes_per_second(stage: StageName, engine: MusicEngineKind) -> f64 {
    let candidates = CANDIDATES as f64;
    match stage {
        // Whisper's 16 kHz mono, and the original sound at the mix format.
        StageName::Decode => f64::from(SPEECH_RATE) * SAMPLE_BYTES + mix_format(),
        // The speech and background stems.
        StageName::Separate => 2.0 * mix_format(),
        StageName::Generate => {
            let images = match engine {
                MusicEngineKind::Riffusion => RIFFUSION_IMAGE_BYTES_PER_SECOND,
                MusicEngineKind::StableAudio => 0.0,
            };
            candidates * (mix_format() + images)
        }
        StageName::Mix => candidates * mix_format(),
        StageName::Transcribe | StageName::Emotions | StageName::Cuts | StageName::Plan => 0.0,
    }
}

/// What running `stages` on `seconds` of video writes, in bytes.
pub fn bytes_written(stages: &[StageName], seconds: f64, engine: MusicEngineKind) -> u64 {
    let per_second: f64 = stages
        .iter()
        .map(|&stage| bytes_per_second(stage, engine))
        .sum();
    (per_second * seconds.max(0.0)).ceil() as u64
}

/// The free space a run of `stages` needs: what they write, less the files of theirs already
/// there (each is replaced), plus one mix-format file's worth (a file and its replacement
/// exist together for a moment) and a margin.
pub fn space_needed(
    stages: &[StageName],
    seconds: f64,
    engine: MusicEngineKind,
    files: &JobFiles,
) -> u64 {
    let replaced: u64 = stages
        .iter()
        .flat_map(|&stage| outputs(stage, files))
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|meta| meta.len())
        .sum();
    let overlap = (mix_format() * seconds.max(0.0)).ceil() as u64;
    bytes_written(stages, seconds, engine).saturating_sub(replaced) + overlap + MARGIN_BYTES
}

/// Refuses, before anything runs, when the disk holding `dir` has less than `needed` free.
pub fn require_free_space(dir: &Path, needed: u64) -> Result<()> {
    let available = fs4::available_space(dir).map_err(|e| PipelineError::file(dir, e))?;
    enough_space(dir, needed, available)
}

fn enough_space(dir: &Path, needed: u64, available: u64) -> Result<()> {
    if available >= needed {
        return Ok(());
    }
    Err(PipelineError::DiskSpace {
        dir: dir.to_path_buf(),
        needed,
        available,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_of_video_writes_about_200_mb_and_stems_add_their_share() {
        let all: Vec<StageName> = StageName::ALL
            .into_iter()
            .filter(|&stage| stage != StageName::Separate)
            .collect();
        let minute = bytes_written(&all, 60.0, MusicEngineKind::StableAudio);
        // 16 kHz mono and nine 44.1 kHz stereo float files: 3.24 MB a second.
        assert_eq!(minute, 194_352_000);
        let with_stems = bytes_written(
            &[&all[..], &[StageName::Separate]].concat(),
            60.0,
            MusicEngineKind::StableAudio,
        );
        assert_eq!(with_stems - minute, 42_336_000);
        assert!(bytes_written(&all, 60.0, MusicEngineKind::Riffusion) > minute);
        assert_eq!(
            bytes_written(&[StageName::Plan], 3_600.0, MusicEngineKind::Riffusion),
            0
        );
    }

    #[test]
    fn too_little_space_is_an_error_with_both_figures_and_the_folder() {
        let dir = Path::new("/videos/jobs/1");
        assert!(enough_space(dir, 100, 100).is_ok());
        let err = enough_space(dir, 1_500_000_000, 200_000_000)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1.5 GB") && err.contains("200.0 MB") && err.contains("/videos/jobs/1"),
            "{err}"
        );
    }

    #[test]
    fn the_free_space_of_a_real_folder_is_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(require_free_space(dir.path(), 1).is_ok());
        assert!(require_free_space(dir.path(), u64::MAX).is_err());
    }
}

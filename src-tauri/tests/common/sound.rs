//! What the audio tests share: a studio on the tiny models with one original-sound mode, and
//! the similarity of two sounds (the peak normalised cross-correlation over ±30 ms, on 8 kHz
//! mono).

use std::path::Path;

use bgm_models::task::CancelToken;
use bgm_models::weights::WeightsConfig;
use bgm_studio::jobs::JobId;
use bgm_studio::media::decode_audio;
use bgm_studio::paths::AppPaths;
use bgm_studio::pipeline::{mix::OriginalAudio, ExportRequest, JobFiles};
use bgm_studio::settings::Settings;
use bgm_studio::studio::Studio;

use super::install_tiny_models;

/// The rate sounds are compared at.
pub const RATE: u32 = 8_000;
const MAX_LAG: usize = 240;

pub fn studio(root: &Path, original_audio: OriginalAudio) -> Studio {
    let paths = AppPaths::in_one_folder(root.join("data"));
    let settings = Settings {
        steps: Some(2),
        original_audio,
        ..Settings::default()
    };
    settings.save_to(&paths.settings_file()).unwrap();
    let models = root.join("models");
    if !models.exists() {
        install_tiny_models(&models);
    }
    Studio::new(paths, offline_weights(root))
}

pub fn offline_weights(root: &Path) -> WeightsConfig {
    WeightsConfig {
        models_dir: Some(root.join("models")),
        ..WeightsConfig::offline_in(root)
    }
}

pub fn mono(path: &Path) -> Vec<f32> {
    decode_audio(path, RATE, 1, &mut |_| {}, &CancelToken::new())
        .unwrap()
        .samples
}

/// The largest normalised correlation of `a` and `b` over lags of up to ±`MAX_LAG` samples.
pub fn similarity(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let energy = |x: &[f32]| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
    let norm = (energy(&a[..n]) * energy(&b[..n])).sqrt();
    if norm == 0.0 {
        return 0.0;
    }
    (0..=2 * MAX_LAG)
        .map(|k| {
            let lag = k as isize - MAX_LAG as isize;
            (0..n)
                .filter_map(|i| {
                    let j = i as isize + lag;
                    (0..n as isize)
                        .contains(&j)
                        .then(|| f64::from(a[i]) * f64::from(b[j as usize]))
                })
                .sum::<f64>()
                .abs()
                / norm
        })
        .fold(0.0, f64::max)
}

/// Exports candidate `candidate` of job `id` to `dest`, and returns its sound.
pub fn export(studio: &Studio, id: JobId, candidate: usize, dest: &Path) -> Vec<f32> {
    studio
        .export(
            &ExportRequest {
                job: id,
                candidate,
                dest,
                overwrite: true,
            },
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap();
    mono(dest)
}

/// How an export sounds against its sources.
pub struct ModeExport {
    pub mode: OriginalAudio,
    /// Similarity with the chosen candidate's music, another candidate's, the original sound.
    pub chosen: f64,
    pub other: f64,
    pub original: f64,
}

/// Runs job `id` with each of `modes` (the studio for a mode from `studio_for`) and exports
/// candidate 2, comparing each export with candidate 2's music, candidate 0's and the original.
pub fn export_in_each_mode(
    root: &Path,
    id: JobId,
    modes: &[OriginalAudio],
    studio_for: impl Fn(OriginalAudio) -> Studio,
) -> Vec<ModeExport> {
    let first = studio_for(modes[0]);
    let files = JobFiles::new(&first.store().dir(id));
    let chosen = mono(&files.music(2));
    let other = mono(&files.music(0));
    let original = mono(&files.original_audio());
    modes
        .iter()
        .map(|&mode| {
            let studio = studio_for(mode);
            studio.run(id, &mut |_| {}, &CancelToken::new()).unwrap();
            let exported = export(&studio, id, 2, &root.join(format!("{mode:?}.mp4")));
            let measured = ModeExport {
                mode,
                chosen: similarity(&exported, &chosen),
                other: similarity(&exported, &other),
                original: similarity(&exported, &original),
            };
            println!(
                "{mode:?}: chosen music {:.3}, candidate 0 {:.3}, original {:.3}",
                measured.chosen, measured.other, measured.original
            );
            measured
        })
        .collect()
}

/// The video's own sound is in an export kept in any mode but `Replace`, and out of it there.
/// Measured on the tiny models: duck 0.40 (spectral ducking; 0.68 with gain ducking), keep
/// 0.23 (the music, level-matched, is louder than the speech throughout), replace 0.02.
pub fn assert_original_sound(measured: &ModeExport) {
    let mode = measured.mode;
    if mode == OriginalAudio::Replace {
        assert!(
            measured.original < 0.06,
            "{mode:?}: the original sound is still in it"
        );
    } else {
        assert!(
            measured.original > 0.12,
            "{mode:?}: the original sound is missing"
        );
    }
}

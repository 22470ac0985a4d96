//! User settings that outlive a session, stored as JSON in the app's config folder.

use std::path::Path;

use bgm_models::device::DevicePreference;
use serde::{Deserialize, Serialize};

use crate::pipeline::mix::{DuckMode, MixSettings, OriginalAudio};
use crate::pipeline::{EngineChoice, PipelineConfig};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// The compute device the model stages use; `auto` picks CUDA, then Metal, then the CPU.
    pub device: DevicePreference,
    /// Catalogue name of the Whisper model.
    pub whisper_model: String,
    /// Diffusion steps per clip; `None` keeps the plan's.
    pub steps: Option<u32>,
    /// What happens to the video's own sound.
    pub original_audio: OriginalAudio,
    /// Gain of the music against the original audio, dB.
    pub music_level_db: f32,
    /// How far the music drops under speech, dB.
    pub duck_depth_db: f32,
    /// Whether ducking cuts the speech band or the whole music.
    pub duck_mode: DuckMode,
    /// The music engine; `auto` is Stable Audio when its weights are ready.
    pub engine: EngineChoice,
}

impl Default for Settings {
    fn default() -> Self {
        let mix = MixSettings::default();
        Self {
            device: DevicePreference::default(),
            whisper_model: bgm_models::stt::DEFAULT_MODEL.to_string(),
            steps: None,
            original_audio: mix.original_audio,
            music_level_db: mix.music_level_db,
            duck_depth_db: mix.duck_depth_db,
            duck_mode: mix.duck_mode,
            engine: EngineChoice::default(),
        }
    }
}

impl Settings {
    /// Reads the settings; a missing file means defaults, a damaged one is reported and ignored
    /// so a bad edit never stops the app from starting.
    pub fn load_from(path: &Path) -> Self {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!("ignoring {}: {err}", path.display());
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }

    /// Writes atomically, so a crash or a second process never leaves half a file.
    pub fn save_to(&self, path: &Path) -> std::io::Result<()> {
        crate::atomic_file::write_json_atomic(path, self)
    }
}

impl Settings {
    /// The pipeline's configuration with these settings applied.
    pub fn apply_to(&self, config: &mut PipelineConfig) {
        config.whisper_model = self.whisper_model.clone();
        config.steps = self.steps;
        config.engine = self.engine.resolve(&config.weights);
        config.mix.original_audio = self.original_audio;
        config.mix.music_level_db = self.music_level_db;
        config.mix.duck_depth_db = self.duck_depth_db;
        config.mix.duck_mode = self.duck_mode;
    }
}

/// The device to use: the command-line flag, else `BGM_DEVICE`, else the saved setting.
pub fn device_preference(
    flag: Option<DevicePreference>,
    settings: &Settings,
) -> Result<DevicePreference, bgm_models::device::DeviceError> {
    if let Some(pref) = flag {
        return Ok(pref);
    }
    Ok(bgm_models::device::preference_from_env()?.unwrap_or(settings.device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_survives_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/settings.json");
        assert_eq!(Settings::load_from(&path), Settings::default());
        let settings = Settings {
            device: DevicePreference::Cpu,
            steps: Some(20),
            duck_depth_db: 6.0,
            ..Settings::default()
        };
        settings.save_to(&path).unwrap();
        assert_eq!(Settings::load_from(&path), settings);
        std::fs::write(&path, b"{ not json").unwrap();
        assert_eq!(Settings::load_from(&path), Settings::default());
    }

    #[test]
    fn the_flag_wins_over_the_setting() {
        let settings = Settings {
            device: DevicePreference::Cpu,
            ..Settings::default()
        };
        let chosen = device_preference(Some(DevicePreference::Metal), &settings).unwrap();
        assert_eq!(chosen, DevicePreference::Metal);
    }
}

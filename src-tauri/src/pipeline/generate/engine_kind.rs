//! Which music engine makes the candidates: the user's choice (a setting, a flag) and the
//! engine it resolves to on this machine.

use bgm_models::weights::{locate_named, WeightsConfig};
use serde::{Deserialize, Serialize};

/// A music engine.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type,
)]
#[serde(rename_all = "kebab-case")]
pub enum MusicEngineKind {
    /// Riffusion (2022): mel spectrograms up to 10 kHz in 5 s clips, Griffin-Lim phase.
    #[default]
    Riffusion,
    /// Stable Audio 3 Small: full-band stereo, up to 120 s in one pass, 8 steps.
    StableAudio,
}

impl MusicEngineKind {
    pub const ALL: [Self; 2] = [Self::Riffusion, Self::StableAudio];

    /// The catalogue model the engine loads.
    pub fn model_name(self) -> &'static str {
        match self {
            Self::Riffusion => bgm_models::riffusion::MODEL_NAME,
            Self::StableAudio => bgm_models::stable_audio::MODEL_NAME,
        }
    }

    /// The name users see and type (`--engine`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Riffusion => "riffusion",
            Self::StableAudio => "stable-audio",
        }
    }

    /// Rows of one candidate in a model call: Riffusion runs classifier-free guidance (a
    /// conditioned and an unconditioned row); Stable Audio's post-trained model needs none.
    pub fn rows_per_candidate(self) -> usize {
        match self {
            Self::Riffusion => 2,
            Self::StableAudio => 1,
        }
    }
}

impl std::fmt::Display for MusicEngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The engine the user asked for; `auto` is Stable Audio when its weights are ready and
/// Riffusion otherwise (Stable Audio's repo is gated: not everyone has it).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type,
)]
#[serde(rename_all = "kebab-case")]
pub enum EngineChoice {
    #[default]
    Auto,
    Riffusion,
    StableAudio,
}

impl EngineChoice {
    /// The engine this choice runs with the models on this machine.
    pub fn resolve(self, weights: &WeightsConfig) -> MusicEngineKind {
        match self {
            Self::Riffusion => MusicEngineKind::Riffusion,
            Self::StableAudio => MusicEngineKind::StableAudio,
            Self::Auto => {
                let ready = locate_named(MusicEngineKind::StableAudio.model_name(), weights);
                if ready.is_ok() {
                    MusicEngineKind::StableAudio
                } else {
                    MusicEngineKind::Riffusion
                }
            }
        }
    }
}

impl From<MusicEngineKind> for EngineChoice {
    fn from(kind: MusicEngineKind) -> Self {
        match kind {
            MusicEngineKind::Riffusion => Self::Riffusion,
            MusicEngineKind::StableAudio => Self::StableAudio,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_stable_audio_only_when_its_files_are_all_there() {
        let dir = tempfile::tempdir().unwrap();
        let weights = WeightsConfig {
            models_dir: Some(dir.path().join("models")),
            ..WeightsConfig::offline_in(dir.path())
        };
        assert_eq!(
            EngineChoice::Auto.resolve(&weights),
            MusicEngineKind::Riffusion
        );
        let entry = bgm_models::weights::find_model(bgm_models::stable_audio::MODEL_NAME).unwrap();
        let folder = bgm_models::weights::local_folder(&dir.path().join("models"), &entry);
        let (last, rest) = entry.files.split_last().unwrap();
        for file in rest {
            let path = folder.join(&file.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        assert_eq!(
            EngineChoice::Auto.resolve(&weights),
            MusicEngineKind::Riffusion,
            "a partial folder is not ready"
        );
        std::fs::write(folder.join(&last.path), b"x").unwrap();
        assert_eq!(
            EngineChoice::Auto.resolve(&weights),
            MusicEngineKind::StableAudio
        );
        assert_eq!(
            EngineChoice::Riffusion.resolve(&weights),
            MusicEngineKind::Riffusion
        );
        // The names users type, and the old timing records without an engine.
        let kinds: Vec<String> = MusicEngineKind::ALL.iter().map(|k| k.to_string()).collect();
        assert_eq!(kinds, ["riffusion", "stable-audio"]);
        assert_eq!(
            serde_json::to_string(&EngineChoice::StableAudio).unwrap(),
            "\"stable-audio\""
        );
    }
}

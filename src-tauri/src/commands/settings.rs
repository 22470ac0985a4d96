//! The models and settings screen: each model's state with downloads, the device, the user's
//! choices for the pipeline and the mix.

use bgm_models::device::DevicePreference;
use bgm_models::weights::{
    catalogue, catalogue_status, download_model as fetch_model, find_model, licence, DownloadStage,
    DownloadUpdate, Licence, ModelKind, ModelState,
};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager};

use super::{blocking, internal, studio, CommandError, ErrorKind};
use crate::pipeline::mix::{DuckMode, OriginalAudio};
use crate::pipeline::EngineChoice;
use crate::settings::Settings;
use crate::tasks::{TaskKind, Tasks};

/// The settings as the window edits them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppSettings {
    pub device: DevicePreference,
    pub whisper_model: String,
    /// Diffusion steps per clip; null keeps the plan's default.
    pub steps: Option<u32>,
    pub original_audio: OriginalAudio,
    pub music_level_db: f32,
    pub duck_depth_db: f32,
    pub duck_mode: DuckMode,
    /// The music engine; `auto` is Stable Audio when its weights are ready, else Riffusion.
    pub engine: EngineChoice,
}

/// Bounds the window's sliders share with the checks here.
pub const STEPS_RANGE: (u32, u32) = (1, 150);
pub const MUSIC_LEVEL_RANGE_DB: (f32, f32) = (-24.0, 12.0);
pub const DUCK_DEPTH_RANGE_DB: (f32, f32) = (0.0, 30.0);

impl From<&Settings> for AppSettings {
    fn from(s: &Settings) -> Self {
        Self {
            device: s.device,
            whisper_model: s.whisper_model.clone(),
            steps: s.steps,
            original_audio: s.original_audio,
            music_level_db: s.music_level_db,
            duck_depth_db: s.duck_depth_db,
            duck_mode: s.duck_mode,
            engine: s.engine,
        }
    }
}

impl AppSettings {
    /// Checks every field, so a bad value is refused with its reason instead of being saved.
    pub fn to_settings(&self) -> Result<Settings, CommandError> {
        let bad = |message: String| CommandError {
            kind: ErrorKind::BadInput,
            message,
            missing_models: Vec::new(),
        };
        let whisper = find_model(&self.whisper_model).map_err(|e| bad(e.to_string()))?;
        if whisper.kind != ModelKind::Whisper {
            return Err(bad(format!("{} is not a Whisper model", whisper.name)));
        }
        if let Some(steps) = self.steps {
            if !(STEPS_RANGE.0..=STEPS_RANGE.1).contains(&steps) {
                return Err(bad(format!(
                    "steps must be {}-{}, not {steps}",
                    STEPS_RANGE.0, STEPS_RANGE.1
                )));
            }
        }
        let within = |v: f32, (lo, hi): (f32, f32)| v.is_finite() && (lo..=hi).contains(&v);
        if !within(self.music_level_db, MUSIC_LEVEL_RANGE_DB) {
            return Err(bad(format!(
                "the music level must be {} to {} dB",
                MUSIC_LEVEL_RANGE_DB.0, MUSIC_LEVEL_RANGE_DB.1
            )));
        }
        if !within(self.duck_depth_db, DUCK_DEPTH_RANGE_DB) {
            return Err(bad(format!(
                "the duck depth must be {} to {} dB",
                DUCK_DEPTH_RANGE_DB.0, DUCK_DEPTH_RANGE_DB.1
            )));
        }
        Ok(Settings {
            device: self.device,
            whisper_model: whisper.name,
            steps: self.steps,
            original_audio: self.original_audio,
            music_level_db: self.music_level_db,
            duck_depth_db: self.duck_depth_db,
            duck_mode: self.duck_mode,
            engine: self.engine,
        })
    }
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings() -> Result<AppSettings, CommandError> {
    blocking(|| Ok(studio().settings().into())).await
}

/// Saves the settings; they apply to the next run (a changed mix setting re-mixes only).
#[tauri::command]
#[specta::specta]
pub async fn save_settings(settings: AppSettings) -> Result<AppSettings, CommandError> {
    let checked = settings.to_settings()?;
    blocking(move || {
        studio().save_settings(checked.clone()).map_err(internal)?;
        Ok((&checked).into())
    })
    .await
}

/// Whether a Hugging Face token is saved (the token itself never goes back to the window).
#[tauri::command]
#[specta::specta]
pub async fn hub_token_saved() -> Result<bool, CommandError> {
    blocking(|| Ok(studio().has_hub_token())).await
}

/// Saves the user's Hugging Face token for gated models (owner-only file), or forgets it when
/// empty. Returns whether one is saved now.
#[tauri::command]
#[specta::specta]
pub async fn set_hub_token(token: String) -> Result<bool, CommandError> {
    blocking(move || {
        let mut studio = studio();
        let token = bgm_models::weights::HubToken::new(&token);
        let saved = token.is_some();
        studio.save_hub_token(token).map_err(internal)?;
        Ok(saved)
    })
    .await
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ModelView {
    pub name: String,
    pub repo: String,
    pub kind: ModelKind,
    pub state: ModelState,
    pub bytes_on_disk: f64,
    pub expected_bytes: f64,
    pub path: String,
    pub downloading: bool,
    /// The music engines' licences (a gated one needs its licence accepted and a token).
    pub licence: Option<Licence>,
}

#[tauri::command]
#[specta::specta]
pub async fn list_models(app: AppHandle) -> Result<Vec<ModelView>, CommandError> {
    blocking(move || Ok(model_views(&app))).await
}

fn model_views(app: &AppHandle) -> Vec<ModelView> {
    let tasks = app.state::<Tasks>();
    let entries = catalogue();
    catalogue_status(studio().weights())
        .into_iter()
        .zip(&entries)
        .map(|(s, entry)| ModelView {
            kind: entry.kind,
            licence: licence(entry),
            downloading: tasks.is_running(&download_key(&s.name)),
            state: s.state,
            bytes_on_disk: s.bytes_on_disk as f64,
            expected_bytes: s.expected_bytes as f64,
            path: s.path.display().to_string(),
            name: s.name,
            repo: s.repo,
        })
        .collect()
}

fn download_key(name: &str) -> String {
    format!("model {name}")
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DownloadProgressView {
    pub model: String,
    pub file: String,
    /// Bytes of `file`, and of the whole model.
    pub file_done: f64,
    pub file_total: f64,
    pub done: f64,
    pub total: f64,
    pub stage: DownloadStage,
}

/// Downloads a model into the Hugging Face cache (resuming a partial one), with progress.
/// Cancel with `cancel_download`.
#[tauri::command]
#[specta::specta]
pub async fn download_model(
    app: AppHandle,
    name: String,
    progress: Channel<DownloadProgressView>,
) -> Result<Vec<ModelView>, CommandError> {
    let entry = find_model(&name).map_err(|e| CommandError {
        kind: ErrorKind::BadInput,
        message: e.to_string(),
        missing_models: Vec::new(),
    })?;
    let finished =
        app.state::<Tasks>()
            .start(&download_key(&entry.name), TaskKind::Files, move |cancel| {
                let sink = move |u: &DownloadUpdate| {
                    let _ = progress.send(DownloadProgressView {
                        model: u.model.clone(),
                        file: u.file.clone(),
                        file_done: u.file_done as f64,
                        file_total: u.file_total as f64,
                        done: u.done as f64,
                        total: u.total as f64,
                        stage: u.stage,
                    });
                };
                fetch_model(&entry, studio().weights(), sink, cancel)
            })?;
    finished.await.map_err(internal)??.map_err(|e| {
        let cancelled = matches!(e, bgm_models::weights::WeightsError::Cancelled { .. });
        CommandError {
            kind: if cancelled {
                ErrorKind::Cancelled
            } else {
                ErrorKind::Internal
            },
            message: e.to_string(),
            missing_models: Vec::new(),
        }
    })?;
    blocking(move || Ok(model_views(&app))).await
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_download(app: AppHandle, name: String) -> Result<bool, CommandError> {
    Ok(app.state::<Tasks>().cancel(&download_key(&name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_bad_values_are_refused() {
        let settings = Settings {
            device: DevicePreference::Cpu,
            steps: Some(20),
            original_audio: OriginalAudio::Replace,
            ..Settings::default()
        };
        let view = AppSettings::from(&settings);
        assert_eq!(view.to_settings().unwrap(), settings);
        // The words cross as typed enums: the page's JSON has the same spelling as the file's.
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            (&json["device"], &json["originalAudio"]),
            (&"cpu".into(), &"replace".into())
        );
        let mut unknown = json.clone();
        unknown["device"] = "gpu".into();
        let err = serde_json::from_value::<AppSettings>(unknown).unwrap_err();
        assert!(err.to_string().contains("gpu"), "{err}");

        let refuse = |change: fn(&mut AppSettings)| {
            let mut v = view.clone();
            change(&mut v);
            v.to_settings().unwrap_err().message
        };
        assert!(refuse(|v| v.whisper_model = "riffusion".into()).contains("not a Whisper"));
        assert!(refuse(|v| v.steps = Some(0)).contains("steps"));
        assert!(refuse(|v| v.duck_depth_db = f32::NAN).contains("duck depth"));
        assert!(refuse(|v| v.music_level_db = 40.0).contains("music level"));
    }
}

//! Auditioning: the window's transport (play, pause, seek, switch candidate) over the rodio
//! player, which plays one job's four mixes.

use std::sync::Mutex;

use tauri::{AppHandle, Manager, State};

use super::jobs::parse_id;
use super::{blocking, studio, CommandError, ErrorKind};
use crate::pipeline::JobFiles;
use crate::player::{CandidatePlayer, PlayerError, PlayerState};
use crate::sync::LockRecovering;

/// The player and the job whose mixes it holds.
#[derive(Default)]
pub struct Audition {
    player: CandidatePlayer,
    job: Mutex<Option<String>>,
}

impl Audition {
    /// Stops and empties the player when it holds `job`'s mixes (the job is being deleted or
    /// its mixes are about to change).
    pub fn forget_job(&self, job: &str) {
        let mut current = self.job.lock_recovering();
        if current.as_deref() == Some(job) {
            self.player.unload();
            *current = None;
        }
    }
}

impl From<PlayerError> for CommandError {
    fn from(err: PlayerError) -> Self {
        let kind = match err {
            PlayerError::NoAudioDevice(_) => ErrorKind::Internal,
            _ => ErrorKind::BadInput,
        };
        CommandError {
            kind,
            message: err.to_string(),
            missing_models: Vec::new(),
        }
    }
}

/// Loads the job's four mixes, candidate 0 selected, paused at the start.
#[tauri::command]
#[specta::specta]
pub async fn player_load(app: AppHandle, id: String) -> Result<PlayerState, CommandError> {
    let id = parse_id(&id)?;
    // Decoding four mixes takes a moment: off the async runtime.
    blocking(move || {
        let files = JobFiles::new(&studio().store().dir(id));
        let audition = app.state::<Audition>();
        let state = audition.player.load(files.each_candidate(JobFiles::mix))?;
        *audition.job.lock_recovering() = Some(id.to_string());
        Ok(state)
    })
    .await
}

/// Switches candidate, keeping the position and whether it plays.
#[tauri::command]
#[specta::specta]
pub async fn player_select(
    index: u32,
    audition: State<'_, Audition>,
) -> Result<PlayerState, CommandError> {
    Ok(audition.player.select(index as usize)?)
}

#[tauri::command]
#[specta::specta]
pub async fn player_play(audition: State<'_, Audition>) -> Result<PlayerState, CommandError> {
    Ok(audition.player.play()?)
}

#[tauri::command]
#[specta::specta]
pub async fn player_pause(audition: State<'_, Audition>) -> Result<PlayerState, CommandError> {
    Ok(audition.player.pause()?)
}

#[tauri::command]
#[specta::specta]
pub async fn player_seek(
    seconds: f64,
    audition: State<'_, Audition>,
) -> Result<PlayerState, CommandError> {
    Ok(audition.player.seek(seconds)?)
}

#[tauri::command]
#[specta::specta]
pub async fn player_state(audition: State<'_, Audition>) -> Result<PlayerState, CommandError> {
    Ok(audition.player.state())
}

/// Stops playback and frees the mixes (leaving the job view).
#[tauri::command]
#[specta::specta]
pub async fn player_unload(audition: State<'_, Audition>) -> Result<(), CommandError> {
    audition.player.unload();
    *audition.job.lock_recovering() = None;
    Ok(())
}

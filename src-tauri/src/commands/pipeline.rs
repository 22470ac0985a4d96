//! The job view's commands: run the pipeline with progress, cancel, edit the plan, regenerate,
//! export. Model work runs on task threads ([`crate::tasks`]); progress goes to the window
//! through a Tauri channel.

use std::path::{Path, PathBuf};

use bgm_models::emotion::Emotion;
use bgm_models::plan::{MusicPlan, PlanError};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager};
use tauri_plugin_dialog::DialogExt;

use super::details::{read_job_details, JobDetails};
use super::jobs::parse_id;
use super::{blocking, internal, studio, CommandError, ErrorKind, UserFiles};
use crate::jobs::{JobId, JobManifest};
use crate::pipeline::{ExportRequest, PipelineError, StageProgress};
use crate::studio::Studio;
use crate::tasks::{TaskError, TaskKind, Tasks};
use crate::video_server::VideoServer;

impl From<PipelineError> for CommandError {
    fn from(err: PipelineError) -> Self {
        if err.is_cancelled() {
            return CommandError {
                kind: ErrorKind::Cancelled,
                message: "cancelled".into(),
                missing_models: Vec::new(),
            };
        }
        match err {
            PipelineError::Job(job) => job.into(),
            PipelineError::Media(media) => media.into(),
            PipelineError::Plan(_) | PipelineError::PlanNotMade => bad_input(err.to_string()),
            PipelineError::ModelsMissing(missing) => CommandError {
                kind: ErrorKind::ModelsMissing,
                message: format!(
                    "{}; download them to continue",
                    PipelineError::ModelsMissing(missing.clone())
                ),
                missing_models: missing,
            },
            other => internal(other),
        }
    }
}

impl From<TaskError> for CommandError {
    fn from(err: TaskError) -> Self {
        let kind = match err {
            TaskError::Busy(_) | TaskError::ModelsBusy => ErrorKind::Busy,
            TaskError::Crashed(_) => ErrorKind::Internal,
        };
        CommandError {
            kind,
            message: err.to_string(),
            missing_models: Vec::new(),
        }
    }
}

/// The job view: reads the job's files and publishes its video on the loopback server.
pub(super) fn details(app: &AppHandle, id: JobId) -> Result<JobDetails, CommandError> {
    let studio = studio();
    let store = studio.store();
    let manifest = store.load(id)?;
    let input = manifest.input.clone();
    let busy = app.state::<Tasks>().is_running(&id.to_string());
    let mut view = read_job_details(manifest, &store.dir(id), busy);
    if let Some(server) = app.try_state::<VideoServer>() {
        view.video_url = server.publish(&format!("{id}/video"), input).ok();
    }
    Ok(view)
}

#[tauri::command]
#[specta::specta]
pub async fn job_details(app: AppHandle, id: String) -> Result<JobDetails, CommandError> {
    blocking(move || details(&app, parse_id(&id)?)).await
}

/// Runs every stage that is not up to date (a new job from the start, an interrupted one from
/// where it stopped), sending each stage's progress to `progress`.
#[tauri::command]
#[specta::specta]
pub async fn run_job(
    app: AppHandle,
    id: String,
    progress: Channel<StageProgress>,
) -> Result<JobDetails, CommandError> {
    let id = parse_id(&id)?;
    run_models_task(&app, id, progress, move |studio, observer, cancel| {
        studio.run(id, observer, cancel)
    })
    .await
}

/// New music for one candidate (in one section, or all of them); the others stay.
#[tauri::command]
#[specta::specta]
pub async fn regenerate_candidate(
    app: AppHandle,
    id: String,
    candidate: u32,
    section: Option<u32>,
    progress: Channel<StageProgress>,
) -> Result<JobDetails, CommandError> {
    let id = parse_id(&id)?;
    check_candidate(candidate)?;
    run_models_task(&app, id, progress, move |studio, observer, cancel| {
        studio.regenerate(
            id,
            candidate as usize,
            section.map(|s| s as usize),
            observer,
            cancel,
        )
    })
    .await
}

async fn run_models_task(
    app: &AppHandle,
    id: JobId,
    progress: Channel<StageProgress>,
    work: impl FnOnce(
            &Studio,
            &mut (dyn FnMut(&StageProgress) + Send),
            &bgm_models::task::CancelToken,
        ) -> Result<JobManifest, PipelineError>
        + Send
        + 'static,
) -> Result<JobDetails, CommandError> {
    // The mixes are about to be rewritten.
    app.state::<super::Audition>().forget_job(&id.to_string());
    let finished =
        app.state::<Tasks>()
            .start(&id.to_string(), TaskKind::Models, move |cancel| {
                // A window that went away cannot take progress; the run goes on regardless.
                let mut observer = |p: &StageProgress| {
                    let _ = progress.send(p.clone());
                };
                work(&studio(), &mut observer, cancel)
            })?;
    finished.await.map_err(internal)???;
    let app = app.clone();
    blocking(move || details(&app, id)).await
}

/// Asks the job's running task (run, regenerate or export) to stop; it stops at the next
/// checkpoint and the job stays resumable.
#[tauri::command]
#[specta::specta]
pub async fn cancel_job(app: AppHandle, id: String) -> Result<bool, CommandError> {
    let id = parse_id(&id)?;
    Ok(app.state::<Tasks>().cancel(&id.to_string()))
}

/// The user's emotion for one section: that section's prompts follow it. Generate and mix run
/// again on the next run.
#[tauri::command]
#[specta::specta]
pub async fn set_section_emotion(
    app: AppHandle,
    id: String,
    section: u32,
    emotion: Emotion,
) -> Result<JobDetails, CommandError> {
    let id = parse_id(&id)?;
    edit_plan(app, id, move |plan| {
        plan.set_emotion(section as usize, emotion)
    })
    .await
}

/// One candidate's prompt for one section, as the user wrote it.
#[tauri::command]
#[specta::specta]
pub async fn set_prompt(
    app: AppHandle,
    id: String,
    section: u32,
    candidate: u32,
    prompt: String,
) -> Result<JobDetails, CommandError> {
    let id = parse_id(&id)?;
    check_candidate(candidate)?;
    edit_plan(app, id, move |plan| {
        plan.set_prompt(section as usize, candidate as usize, &prompt)
    })
    .await
}

async fn edit_plan(
    app: AppHandle,
    id: JobId,
    edit: impl FnOnce(&mut MusicPlan) -> Result<(), PlanError> + Send + 'static,
) -> Result<JobDetails, CommandError> {
    if app.state::<Tasks>().is_running(&id.to_string()) {
        return Err(TaskError::Busy(format!("job {id}")).into());
    }
    blocking(move || {
        studio().edit_plan(id, edit)?;
        details(&app, id)
    })
    .await
}

fn check_candidate(candidate: u32) -> Result<(), CommandError> {
    if (candidate as usize) < bgm_models::plan::CANDIDATES {
        Ok(())
    } else {
        Err(bad_input(format!(
            "there is no candidate {candidate}; candidates are 0-{}",
            bgm_models::plan::CANDIDATES - 1
        )))
    }
}

fn bad_input(message: String) -> CommandError {
    CommandError {
        kind: ErrorKind::BadInput,
        message,
        missing_models: Vec::new(),
    }
}

/// Shows the native save dialog for an export of candidate `candidate`; the chosen path may
/// then be exported to. `None` when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_export_path(
    app: AppHandle,
    id: String,
    candidate: u32,
) -> Result<Option<String>, CommandError> {
    let id = parse_id(&id)?;
    let manifest = blocking(move || Ok(studio().store().load(id)?)).await?;
    let (folder, name) = suggested_export(&manifest.input, candidate);
    let dialog = app.dialog().clone();
    let picked = blocking(move || {
        let mut builder = dialog
            .file()
            .set_title("Export the video with its music")
            .set_file_name(&name)
            .add_filter("Video", &[extension_of(&manifest.input).as_str()]);
        if let Some(folder) = folder {
            builder = builder.set_directory(folder);
        }
        Ok(builder.blocking_save_file())
    })
    .await?;
    let Some(path) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    app.state::<UserFiles>().allow([path.clone()]);
    Ok(Some(path.display().to_string()))
}

/// `<folder of the input>`, `<input name> - music N.<ext>`.
pub(super) fn suggested_export(input: &Path, candidate: u32) -> (Option<PathBuf>, String) {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "video".into());
    (
        input.parent().map(Path::to_path_buf),
        format!("{stem} - music {}.{}", candidate + 1, extension_of(input)),
    )
}

fn extension_of(input: &Path) -> String {
    input
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| "mp4".into())
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ExportDone {
    pub path: String,
    pub size_bytes: u64,
}

/// Writes the input video with candidate `candidate`'s mix to `dest` (a path the user chose in
/// the save dialog), reporting 0..1 progress. Cancel with `cancel_job`.
#[tauri::command]
#[specta::specta]
pub async fn export_job(
    app: AppHandle,
    id: String,
    candidate: u32,
    dest: String,
    progress: Channel<f64>,
) -> Result<ExportDone, CommandError> {
    let id = parse_id(&id)?;
    check_candidate(candidate)?;
    let dest = PathBuf::from(dest);
    app.state::<UserFiles>().check(&dest)?;
    let target = dest.clone();
    let finished = app
        .state::<Tasks>()
        .start(&id.to_string(), TaskKind::Files, move |cancel| {
            let request = ExportRequest {
                job: id,
                candidate: candidate as usize,
                dest: &target,
                // The save dialog has asked the user about replacing it.
                overwrite: true,
            };
            let mut report = |fraction: f64| {
                let _ = progress.send(fraction);
            };
            studio().export(&request, &mut report, cancel)
        })?;
    finished.await.map_err(internal)???;
    let size_bytes = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    Ok(ExportDone {
        path: dest.display().to_string(),
        size_bytes,
    })
}

/// Opens the file manager at an exported file.
#[tauri::command]
#[specta::specta]
pub async fn show_in_folder(
    path: String,
    files: tauri::State<'_, UserFiles>,
) -> Result<(), CommandError> {
    let path = PathBuf::from(path);
    files.check(&path)?;
    blocking(move || reveal(&path).map_err(internal)).await
}

fn reveal(path: &Path) -> std::io::Result<()> {
    let mut command = if cfg!(target_os = "macos") {
        let mut c = std::process::Command::new("open");
        c.arg("-R").arg(path);
        c
    } else if cfg!(target_os = "windows") {
        let mut c = std::process::Command::new("explorer");
        c.arg(format!("/select,{}", path.display()));
        c
    } else {
        // No portable "select this file" on Linux desktops: open its folder.
        let mut c = std::process::Command::new("xdg-open");
        c.arg(path.parent().unwrap_or(Path::new("/")));
        c
    };
    command.spawn().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_suggested_beside_the_input() {
        let (folder, name) = suggested_export(Path::new("/videos/Trip.MOV"), 2);
        assert_eq!(folder.as_deref(), Some(Path::new("/videos")));
        assert_eq!(name, "Trip - music 3.mov");
    }
}

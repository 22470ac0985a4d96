//! Jobs from the window: open a video as a job, the job history, thumbnails.

use std::io::Cursor;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use tauri::{AppHandle, Manager};
use tauri_plugin_dialog::DialogExt;

use super::{blocking, internal, studio, CommandError, UserFiles};
use crate::jobs::{JobId, JobManifest, JobSummary, StageName};
use crate::media::{self, MediaInfo};

/// A job as the window shows it.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub created_unix: u32,
    pub input: String,
    pub media: MediaInfo,
}

/// A line of the job history.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct JobListItem {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub created_unix: u32,
    pub input: String,
    pub duration_seconds: f64,
    /// The last stage that finished; null for a new job.
    pub done_through: Option<StageName>,
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailView {
    pub time_seconds: f64,
    /// A `data:image/jpeg;base64,…` URL (the CSP allows data: images, nothing remote).
    pub data_url: String,
}

impl From<JobManifest> for JobView {
    fn from(m: JobManifest) -> Self {
        Self {
            id: m.id.to_string(),
            created_unix: m.created_unix.min(u64::from(u32::MAX)) as u32,
            input: m.input.display().to_string(),
            media: m.media,
        }
    }
}

impl From<JobSummary> for JobListItem {
    fn from(s: JobSummary) -> Self {
        Self {
            id: s.id.to_string(),
            created_unix: s.created_unix.min(u64::from(u32::MAX)) as u32,
            input: s.input.display().to_string(),
            duration_seconds: s.duration_seconds,
            done_through: s.done_through,
        }
    }
}

/// An id from the page is untrusted: it must be a uuid before it names a folder.
pub(super) fn parse_id(id: &str) -> Result<JobId, CommandError> {
    id.parse::<JobId>()
        .map_err(|e| crate::jobs::JobError::from(e).into())
}

/// Shows the native file picker; the chosen file may then be opened. `None` when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_video(app: AppHandle) -> Result<Option<String>, CommandError> {
    let dialog = app.dialog().clone();
    let picked = blocking(move || {
        Ok(dialog
            .file()
            .set_title("Choose a video")
            .add_filter("Videos", &["mp4", "mov", "m4v", "mkv", "webm", "avi"])
            .blocking_pick_file())
    })
    .await?;
    let Some(path) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    app.state::<UserFiles>().allow([path.clone()]);
    Ok(Some(path.display().to_string()))
}

/// Makes a job for a video the user chose; a file that is not a usable video is refused with
/// a message that names it.
#[tauri::command]
#[specta::specta]
pub async fn open_video(
    path: String,
    files: tauri::State<'_, UserFiles>,
) -> Result<JobView, CommandError> {
    let path = PathBuf::from(path);
    files.check(&path)?;
    blocking(move || Ok(studio().open_video(&path)?.into())).await
}

#[tauri::command]
#[specta::specta]
pub async fn list_jobs() -> Result<Vec<JobListItem>, CommandError> {
    blocking(|| {
        Ok(studio()
            .store()
            .list()?
            .into_iter()
            .map(Into::into)
            .collect())
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn load_job(id: String) -> Result<JobView, CommandError> {
    blocking(move || Ok(studio().store().load(parse_id(&id)?)?.into())).await
}

#[tauri::command]
#[specta::specta]
pub async fn delete_job(app: AppHandle, id: String) -> Result<(), CommandError> {
    let id = parse_id(&id)?;
    if app
        .state::<crate::tasks::Tasks>()
        .is_running(&id.to_string())
    {
        return Err(crate::tasks::TaskError::Busy(format!("job {id}")).into());
    }
    if let Some(server) = app.try_state::<crate::video_server::VideoServer>() {
        server.unpublish_prefix(&format!("{id}/"));
    }
    app.state::<super::Audition>().forget_job(&id.to_string());
    blocking(move || Ok(studio().delete_job(id)?)).await
}

/// `count` evenly spaced frames of the job's video, `width` pixels wide, as JPEG data URLs.
#[tauri::command]
#[specta::specta]
pub async fn job_thumbnails(
    id: String,
    count: u32,
    width: u32,
) -> Result<Vec<ThumbnailView>, CommandError> {
    blocking(move || {
        let manifest = studio().store().load(parse_id(&id)?)?;
        // Bounded, so a page cannot ask for gigabytes of pictures.
        let thumbs = media::thumbnails(&manifest.input, count.min(64) as usize, width.min(1920))?;
        thumbs
            .into_iter()
            .map(|t| {
                let mut jpeg = Vec::new();
                image::DynamicImage::ImageRgb8(t.image)
                    .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
                    .map_err(internal)?;
                Ok(ThumbnailView {
                    time_seconds: t.time_seconds,
                    data_url: format!("data:image/jpeg;base64,{}", STANDARD.encode(&jpeg)),
                })
            })
            .collect()
    })
    .await
}

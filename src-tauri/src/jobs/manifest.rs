//! `job.json`: what the job was made from and how far each stage got.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::id::JobId;
use crate::media::MediaInfo;

/// Bumped when the manifest's shape changes; older manifests are migrated on load.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobManifest {
    pub version: u32,
    pub id: JobId,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    /// The video, as an absolute path.
    pub input: PathBuf,
    pub media: MediaInfo,
    #[serde(default)]
    pub stages: BTreeMap<StageName, StageRecord>,
}

/// The stages in the order they run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, specta::Type,
)]
#[serde(rename_all = "camelCase")]
pub enum StageName {
    Decode,
    /// Speech and background stems of the video's sound; only run when a mix keeps the speech
    /// alone.
    Separate,
    Transcribe,
    Emotions,
    /// The video's shot cuts, which the plan's boundaries snap to.
    Cuts,
    Plan,
    Generate,
    Mix,
}

impl StageName {
    pub const ALL: [StageName; 8] = [
        StageName::Decode,
        StageName::Separate,
        StageName::Transcribe,
        StageName::Emotions,
        StageName::Cuts,
        StageName::Plan,
        StageName::Generate,
        StageName::Mix,
    ];
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum StageState {
    #[default]
    Pending,
    Running,
    Done,
    /// Not needed with the current settings (separation when no mix keeps the speech alone).
    Skipped,
    Failed,
    Cancelled,
}

impl StageState {
    /// Done, or with nothing to do: the stages after it can use what it leaves.
    pub fn is_settled(self) -> bool {
        matches!(self, StageState::Done | StageState::Skipped)
    }
}

/// One stage's progress record. A stage whose output exists and whose input fingerprint is
/// unchanged is not run again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRecord {
    pub state: StageState,
    /// A digest of everything the stage's output depends on.
    pub fingerprint: Option<String>,
    pub started_unix: Option<f64>,
    pub seconds: Option<f64>,
    pub error: Option<String>,
}

impl JobManifest {
    pub fn new(input: PathBuf, media: MediaInfo) -> Self {
        Self {
            version: MANIFEST_VERSION,
            id: JobId::new(),
            created_unix: now_unix().floor() as u64,
            input,
            media,
            stages: BTreeMap::new(),
        }
    }

    pub fn stage(&self, name: StageName) -> StageRecord {
        self.stages.get(&name).cloned().unwrap_or_default()
    }
}

pub(crate) fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

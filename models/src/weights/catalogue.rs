//! The models BGM Studio knows: hub repo, pinned revision, the files each stage reads.
//!
//! Revisions are commits of the public repos (the snapshot names seen in Hugging Face caches);
//! sizes are the best known figures for display, the download checks the hub's own numbers.

use super::error::{Result, WeightsError};

/// What a repo holds, which decides the files we need from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// transformers Whisper: config, generation config, tokenizer.json, model.safetensors.
    Whisper,
    /// transformers RoBERTa sequence classifier: config, BPE vocab/merges, pytorch_model.bin.
    Emotion,
    /// diffusers Stable Diffusion 1.x folders: unet, vae, text_encoder, tokenizer (no safety checker).
    Riffusion,
    /// CLIP BPE tokenizer files only.
    ClipTokenizer,
}

impl ModelKind {
    /// The files a repo of this kind must provide, with their usual sizes (unknown: `None`).
    fn layout(self) -> &'static [(&'static str, Option<u64>)] {
        match self {
            ModelKind::Whisper => &[
                ("config.json", None),
                ("generation_config.json", None),
                ("tokenizer.json", None),
                ("model.safetensors", None),
            ],
            ModelKind::Emotion => &[
                ("config.json", Some(1_000)),
                ("vocab.json", Some(898_822)),
                ("merges.txt", Some(456_318)),
                ("pytorch_model.bin", Some(328_529_005)),
            ],
            ModelKind::Riffusion => &[
                ("model_index.json", Some(541)),
                ("scheduler/scheduler_config.json", Some(342)),
                ("unet/config.json", Some(743)),
                ("unet/diffusion_pytorch_model.bin", Some(3_438_354_725)),
                ("vae/config.json", Some(547)),
                ("vae/diffusion_pytorch_model.bin", Some(334_707_217)),
                ("text_encoder/config.json", Some(612)),
                ("text_encoder/pytorch_model.bin", Some(492_305_335)),
                ("tokenizer/vocab.json", Some(1_059_962)),
                ("tokenizer/merges.txt", Some(524_619)),
                ("tokenizer/special_tokens_map.json", Some(472)),
                ("tokenizer/tokenizer_config.json", Some(806)),
            ],
            ModelKind::ClipTokenizer => &[
                ("tokenizer.json", Some(2_224_003)),
                ("vocab.json", Some(961_143)),
                ("merges.txt", Some(524_619)),
                ("tokenizer_config.json", Some(905)),
                ("special_tokens_map.json", Some(389)),
            ],
        }
    }
}

/// One file a model needs, as a repo-relative path with `/` separators.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequiredFile {
    pub path: String,
    /// Best known size in bytes; `None` when not known in advance.
    pub size: Option<u64>,
}

impl RequiredFile {
    /// Weight files are the ones loaded as tensors (and converted when they are PyTorch pickles).
    pub fn is_weights(&self) -> bool {
        self.path.ends_with(".safetensors") || self.path.ends_with(".bin")
    }
}

/// A model the app can download and load.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelEntry {
    /// Short name used by the CLI and the UI, e.g. `whisper-base`.
    pub name: String,
    /// Hub repo id, `org/name`.
    pub repo: String,
    /// Commit sha (pinned) or branch name.
    pub revision: String,
    pub kind: ModelKind,
    pub files: Vec<RequiredFile>,
}

impl ModelEntry {
    fn builtin(
        name: &str,
        repo: &str,
        revision: &str,
        kind: ModelKind,
        weights_size: Option<u64>,
    ) -> Self {
        let mut entry = Self::with_layout(name, repo, revision, kind);
        if let Some(size) = weights_size {
            for file in entry.files.iter_mut().filter(|f| f.is_weights()) {
                file.size = Some(size);
            }
        }
        if kind == ModelKind::Whisper {
            // Small JSON files: close enough for a total shown in megabytes.
            for file in entry.files.iter_mut() {
                file.size = file.size.or(match file.path.as_str() {
                    "tokenizer.json" => Some(2_480_466),
                    "config.json" => Some(1_983),
                    _ => Some(3_800),
                });
            }
        }
        entry
    }

    fn with_layout(name: &str, repo: &str, revision: &str, kind: ModelKind) -> Self {
        Self {
            name: name.to_string(),
            repo: repo.to_string(),
            revision: revision.to_string(),
            kind,
            files: kind
                .layout()
                .iter()
                .map(|(path, size)| RequiredFile {
                    path: path.to_string(),
                    size: *size,
                })
                .collect(),
        }
    }

    /// A user-defined model: any repo with the same layout as `kind`, at `revision`
    /// (a commit sha or a branch such as `main`). Its name is the repo id.
    pub fn custom(repo: &str, revision: &str, kind: ModelKind) -> Result<Self> {
        let (org, name) = split_repo(repo)?;
        check_revision(revision)?;
        Ok(Self::with_layout(
            &format!("{org}/{name}"),
            repo,
            revision,
            kind,
        ))
    }

    /// A model with an explicit file list, for repos whose layout is none of the known kinds.
    pub fn with_files(
        name: &str,
        repo: &str,
        revision: &str,
        kind: ModelKind,
        files: Vec<RequiredFile>,
    ) -> Result<Self> {
        split_repo(repo)?;
        check_revision(revision)?;
        for file in &files {
            check_relative_path(&file.path)?;
        }
        Ok(Self {
            name: name.to_string(),
            repo: repo.to_string(),
            revision: revision.to_string(),
            kind,
            files,
        })
    }

    /// Sum of the known file sizes (bytes).
    pub fn expected_size(&self) -> u64 {
        self.files.iter().filter_map(|f| f.size).sum()
    }

    /// `(org, name)` of the repo id.
    pub fn repo_parts(&self) -> (&str, &str) {
        self.repo.split_once('/').unwrap_or(("", &self.repo))
    }
}

/// Splits `org/name`, refusing ids that could escape a folder.
pub(crate) fn split_repo(repo: &str) -> Result<(&str, &str)> {
    let bad =
        || WeightsError::InvalidEntry(format!("repo id \"{repo}\" is not of the form org/name"));
    let (org, name) = repo.split_once('/').ok_or_else(bad)?;
    let valid = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if valid(org) && valid(name) {
        Ok((org, name))
    } else {
        Err(bad())
    }
}

/// A path made only of plain components: it cannot climb out of the folder it is joined to.
fn stays_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// A branch, tag or commit; it becomes a file name under `refs/`, so it must stay inside.
fn check_revision(revision: &str) -> Result<()> {
    if stays_inside(revision) {
        Ok(())
    } else {
        Err(WeightsError::InvalidEntry(format!(
            "bad revision \"{revision}\""
        )))
    }
}

fn check_relative_path(path: &str) -> Result<()> {
    if stays_inside(path) {
        Ok(())
    } else {
        Err(WeightsError::InvalidEntry(format!(
            "file path \"{path}\" must be relative to the repo"
        )))
    }
}

/// Every built-in model, in display order.
pub fn catalogue() -> Vec<ModelEntry> {
    use ModelKind::*;
    vec![
        ModelEntry::builtin(
            "whisper-tiny",
            "openai/whisper-tiny",
            "169d4a4341b33bc18d8881c4b69c2e104e1cc0af",
            Whisper,
            Some(151_061_672),
        ),
        ModelEntry::builtin(
            "whisper-base",
            "openai/whisper-base",
            "e37978b90ca9030d5170a5c07aadb050351a65bb",
            Whisper,
            Some(290_403_936),
        ),
        ModelEntry::builtin(
            "whisper-small",
            "openai/whisper-small",
            "973afd24965f72e36ca33b3055d56a652f456b4d",
            Whisper,
            Some(966_995_080),
        ),
        ModelEntry::builtin(
            "whisper-medium",
            "openai/whisper-medium",
            "abdf7c39ab9d0397620ccaea8974cc764cd0953e",
            Whisper,
            Some(3_055_544_304),
        ),
        ModelEntry::builtin(
            "whisper-large-v3",
            "openai/whisper-large-v3",
            "06f233fe06e710322aca913c1bc4249a0d71fce1",
            Whisper,
            Some(3_087_130_976),
        ),
        ModelEntry::builtin(
            "whisper-large-v3-turbo",
            "openai/whisper-large-v3-turbo",
            "41f01f3fe87f28c78e2fbf8b568835947dd65ed9",
            Whisper,
            Some(1_617_824_864),
        ),
        ModelEntry::builtin(
            "emotion",
            "j-hartmann/emotion-english-distilroberta-base",
            "0e1cd914e3d46199ed785853e12b57304e04178b",
            Emotion,
            None,
        ),
        ModelEntry::builtin(
            "riffusion",
            "riffusion/riffusion-model-v1",
            "79993436c342ff529802d1dabb016ebe15b5c4ae",
            Riffusion,
            None,
        ),
        ModelEntry::builtin(
            "clip-tokenizer",
            "openai/clip-vit-large-patch14",
            "32bd64288804d66eefd0ccbe215aa642df71cc41",
            ClipTokenizer,
            None,
        ),
    ]
}

/// Looks a built-in model up by short name (`whisper-base`) or repo id (`openai/whisper-base`).
pub fn find_model(name: &str) -> Result<ModelEntry> {
    let all = catalogue();
    all.iter()
        .find(|e| e.name == name || e.repo == name)
        .cloned()
        .ok_or_else(|| WeightsError::UnknownModel {
            name: name.to_string(),
            known: all
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

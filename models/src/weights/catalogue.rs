//! The models BGM Studio knows: hub repo, pinned revision, the files each stage reads; or, for
//! models published outside the hub, each file's URL with its pinned SHA-256 and size.
//!
//! Revisions are commits of the public repos (the snapshot names seen in Hugging Face caches);
//! sizes are the best known figures for display, the download checks the hub's own numbers.
//! URL-hosted files are checked against their pinned SHA-256 and size instead.

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
    /// Demucs v4 (HTDemucs) source separation: one `.th` checkpoint as Meta publishes it
    /// (`torch.save` of a package whose state dict is under `"state"`).
    Demucs,
    /// Stable Audio 3 as Stability AI publishes it: `model_config.json`, one
    /// `model.safetensors` (DiT, conditioners, SAME-S), the T5Gemma text encoder in its
    /// subfolder. The names come from [`crate::stable_audio::PUBLISHED_FILES`].
    StableAudio,
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
            ModelKind::Demucs => &[("htdemucs.th", None)],
            ModelKind::StableAudio => &STABLE_AUDIO_LAYOUT,
        }
    }
}

/// Stable Audio's files. The gated repo cannot be read without a token, so the sizes are
/// estimates for display: the sizes of the same files in f32 as the reference's own factory
/// writes them at full size (tools/parity/stable_audio/bench_generate.py: 2,270,384,972 and
/// 1,126,336,680 bytes); the download checks the hub's own numbers.
const STABLE_AUDIO_LAYOUT: [(&str, Option<u64>); 5] = {
    use crate::stable_audio::PUBLISHED_FILES as F;
    [
        (F[0], Some(5_000)),
        (F[1], Some(2_270_000_000)),
        (F[2], Some(3_000)),
        (F[3], Some(1_130_000_000)),
        (F[4], Some(34_000_000)),
    ]
};

/// One file a model needs, as a repo-relative path with `/` separators.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequiredFile {
    pub path: String,
    /// Best known size in bytes; `None` when not known in advance. Exact for URL-hosted files.
    pub size: Option<u64>,
    /// Where a URL-hosted model's file is downloaded from, with its pinned digest; `None` for
    /// files of hub repos. Set by [`ModelEntry::from_urls`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<PinnedUrl>,
}

impl RequiredFile {
    /// A file of a hub repo.
    pub fn new(path: &str, size: Option<u64>) -> Self {
        Self {
            path: path.to_string(),
            size,
            url: None,
        }
    }

    /// A file downloaded from `url`, which must have exactly `size` bytes and this SHA-256
    /// (hex; either case).
    pub fn at_url(path: &str, url: &str, sha256: &str, size: u64) -> Self {
        Self {
            path: path.to_string(),
            size: Some(size),
            url: Some(PinnedUrl {
                url: url.to_string(),
                sha256: sha256.to_ascii_lowercase(),
            }),
        }
    }

    /// Weight files are the ones loaded as tensors (and converted when they are PyTorch
    /// pickles: transformers/diffusers `.bin`, Demucs `.th`).
    pub fn is_weights(&self) -> bool {
        [".safetensors", ".bin", ".th"]
            .iter()
            .any(|ext| self.path.ends_with(ext))
    }
}

/// A file published at a fixed HTTP(S) address outside the hub, pinned by its content.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PinnedUrl {
    pub url: String,
    /// SHA-256 of the content, 64 lowercase hex digits.
    pub sha256: String,
}

/// A model the app can download and load: a Hugging Face hub repo at a revision, or files at
/// pinned URLs (every file's [`RequiredFile::url`] set; see [`ModelEntry::from_urls`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelEntry {
    /// Short name used by the CLI and the UI, e.g. `whisper-base`.
    pub name: String,
    /// Hub repo id, `org/name`. For a URL-hosted model, where it comes from: its file's URL,
    /// or the URL folder its files share.
    pub repo: String,
    /// Commit sha (pinned) or branch name. For a URL-hosted model, a SHA-256 pinning all of
    /// its content: its file's own, or that of the `sha256sum`-style manifest of its files.
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
                .map(|(path, size)| RequiredFile::new(path, *size))
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
            if file.url.is_some() {
                return Err(WeightsError::InvalidEntry(format!(
                    "{} of hub repo {repo} has a URL; use ModelEntry::from_urls",
                    file.path
                )));
            }
        }
        Ok(Self {
            name: name.to_string(),
            repo: repo.to_string(),
            revision: revision.to_string(),
            kind,
            files,
        })
    }

    /// A model published outside the hub: every file (made with [`RequiredFile::at_url`])
    /// downloaded from its URL and accepted only with its pinned size and SHA-256. `name`
    /// becomes a folder name (`<models_dir>/<name>/`), so it is one plain path component.
    pub fn from_urls(name: &str, kind: ModelKind, files: Vec<RequiredFile>) -> Result<Self> {
        check_folder_name(name)?;
        if files.is_empty() {
            return Err(WeightsError::InvalidEntry(format!("{name} has no files")));
        }
        let mut pins = Vec::with_capacity(files.len());
        for file in &files {
            check_relative_path(&file.path)?;
            let missing = |what: &str| {
                WeightsError::InvalidEntry(format!(
                    "{} of {name} has no {what}; make it with RequiredFile::at_url",
                    file.path
                ))
            };
            let pin = file.url.as_ref().ok_or_else(|| missing("URL"))?;
            file.size.ok_or_else(|| missing("size"))?;
            check_url(&pin.url)?;
            if !is_sha256(&pin.sha256) {
                return Err(WeightsError::InvalidEntry(format!(
                    "the SHA-256 of {} must be 64 lowercase hex digits, not \"{}\"",
                    file.path, pin.sha256
                )));
            }
            pins.push((file.path.as_str(), pin));
        }
        let (repo, revision) = match pins.as_slice() {
            [(_, pin)] => (pin.url.clone(), pin.sha256.clone()),
            _ => {
                let manifest: String = pins
                    .iter()
                    .map(|(path, pin)| format!("{}  {path}\n", pin.sha256))
                    .collect();
                (common_url_folder(&pins), hex_sha256(manifest.as_bytes()))
            }
        };
        Ok(Self {
            name: name.to_string(),
            repo,
            revision,
            kind,
            files,
        })
    }

    /// Whether the files come from pinned URLs rather than the hub.
    pub fn is_url_hosted(&self) -> bool {
        self.files.iter().any(|f| f.url.is_some())
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

/// The folder part (up to the last `/`) that all the URLs share.
fn common_url_folder(pins: &[(&str, &PinnedUrl)]) -> String {
    let first = pins[0].1.url.as_str();
    let shared = pins.iter().fold(first.len(), |len, (_, pin)| {
        first
            .bytes()
            .zip(pin.url.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count()
    });
    match first[..shared].rfind('/') {
        Some(end) => first[..=end].to_string(),
        None => first[..shared].to_string(),
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An absolute `http` or `https` URL with a host.
fn check_url(url: &str) -> Result<()> {
    match reqwest::Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() =>
        {
            Ok(())
        }
        _ => Err(WeightsError::InvalidEntry(format!(
            "\"{url}\" is not an http(s) URL"
        ))),
    }
}

/// One folder name that cannot climb out of where it is joined: letters, digits, `-_.`.
fn is_plain_name(part: &str) -> bool {
    !part.is_empty()
        && part != "."
        && part != ".."
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn check_folder_name(name: &str) -> Result<()> {
    if is_plain_name(name) {
        Ok(())
    } else {
        Err(WeightsError::InvalidEntry(format!(
            "model name \"{name}\" must be letters, digits, '-', '_' or '.'"
        )))
    }
}

/// Splits `org/name`, refusing ids that could escape a folder.
pub(crate) fn split_repo(repo: &str) -> Result<(&str, &str)> {
    let bad =
        || WeightsError::InvalidEntry(format!("repo id \"{repo}\" is not of the form org/name"));
    let (org, name) = repo.split_once('/').ok_or_else(bad)?;
    if is_plain_name(org) && is_plain_name(name) {
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

/// The terms a music engine's weights come under, for the screens that offer them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Licence {
    pub name: String,
    /// Where to read it (and, for a gated repo, accept it).
    pub url: String,
    /// The Hub serves the files only to accounts that accepted it, with a token.
    pub gated: bool,
}

/// The licence of a model users choose between (the music engines); `None` for the others.
pub fn licence(entry: &ModelEntry) -> Option<Licence> {
    let (name, url, gated) = match entry.kind {
        ModelKind::Riffusion => (
            "CreativeML OpenRAIL-M",
            "https://huggingface.co/riffusion/riffusion-model-v1",
            false,
        ),
        ModelKind::StableAudio => (
            crate::stable_audio::LICENCE_NAME,
            crate::stable_audio::LICENCE_PAGE,
            true,
        ),
        _ => return None,
    };
    Some(Licence {
        name: name.into(),
        url: url.into(),
        gated,
    })
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
        // Gated: the user accepts the Stability AI Community License on the repo's page and
        // downloads with a token. Its commit cannot be read from here without one, so the
        // entry follows `main`, and the cache records the commit that was downloaded.
        ModelEntry::builtin(
            crate::stable_audio::MODEL_NAME,
            crate::stable_audio::HUB_REPO,
            "main",
            StableAudio,
            None,
        ),
        // Meta's Demucs v4 checkpoint (MIT), as `demucs.pretrained` fetches it; the file name's
        // suffix is the start of its SHA-256.
        ModelEntry::from_urls(
            "htdemucs",
            Demucs,
            vec![RequiredFile::at_url(
                "htdemucs.th",
                "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/955717e8-8726e21a.th",
                "8726e21a993978c7ba086d3872e7608d7d5bfca646ca4aca459ffda844faa8b4",
                84_141_911,
            )],
        )
        .expect("the htdemucs entry is valid"),
    ]
}

/// Looks a built-in model up by short name (`whisper-base`) or repo id (`openai/whisper-base`;
/// for a URL-hosted model, its URL).
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

#[cfg(test)]
mod tests {
    use super::*;

    const HTDEMUCS_URL: &str =
        "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/955717e8-8726e21a.th";
    const HTDEMUCS_SHA256: &str =
        "8726e21a993978c7ba086d3872e7608d7d5bfca646ca4aca459ffda844faa8b4";

    #[test]
    fn htdemucs_is_meta_s_pinned_checkpoint() {
        let entry = find_model("htdemucs").unwrap();
        assert_eq!(entry.name, "htdemucs");
        assert_eq!(entry.kind, ModelKind::Demucs);
        assert!(entry.is_url_hosted());
        assert_eq!(
            entry.files,
            [RequiredFile {
                path: "htdemucs.th".into(),
                size: Some(84_141_911),
                url: Some(PinnedUrl {
                    url: HTDEMUCS_URL.into(),
                    sha256: HTDEMUCS_SHA256.into(),
                }),
            }]
        );
        assert!(entry.files[0].is_weights());
        assert_eq!(entry.expected_size(), 84_141_911);
        // One file: the URL and digest are the entry's "repo" and "revision".
        assert_eq!(
            (entry.repo.as_str(), entry.revision.as_str()),
            (HTDEMUCS_URL, HTDEMUCS_SHA256)
        );
        assert_eq!(find_model(HTDEMUCS_URL).unwrap().name, "htdemucs");
        assert!(catalogue()
            .iter()
            .filter(|e| e.name != "htdemucs")
            .all(|e| !e.is_url_hosted()));
    }

    #[test]
    fn demucs_kind_is_kebab_case_and_th_files_are_weights() {
        assert_eq!(
            serde_json::to_string(&ModelKind::Demucs).unwrap(),
            "\"demucs\""
        );
        assert!(RequiredFile::new("x/model.th", None).is_weights());
        assert!(!RequiredFile::new("x/model.thx", None).is_weights());
    }

    #[test]
    fn url_entries_are_checked() {
        let good = || RequiredFile::at_url("a.th", "https://h.example/a.th", &"ab".repeat(32), 10);
        assert!(ModelEntry::from_urls("m", ModelKind::Demucs, vec![good()]).is_ok());
        // Upper-case digests are accepted and stored in lower case.
        let upper = RequiredFile::at_url("a.th", "https://h.example/a.th", &"AB".repeat(32), 10);
        let entry = ModelEntry::from_urls("m", ModelKind::Demucs, vec![upper]).unwrap();
        assert_eq!(entry.revision, "ab".repeat(32));

        let bad = |name: &str, file: RequiredFile| {
            ModelEntry::from_urls(name, ModelKind::Demucs, vec![file]).unwrap_err()
        };
        for name in ["", "..", "a/b", "a\\b"] {
            assert!(
                matches!(bad(name, good()), WeightsError::InvalidEntry(_)),
                "{name}"
            );
        }
        let short = RequiredFile::at_url("a.th", "https://h.example/a.th", "abcd", 10);
        assert!(bad("m", short).to_string().contains("SHA-256"));
        let ftp = RequiredFile::at_url("a.th", "ftp://h.example/a.th", &"ab".repeat(32), 10);
        assert!(bad("m", ftp).to_string().contains("not an http(s) URL"));
        let escaping =
            RequiredFile::at_url("../a.th", "https://h.example/a.th", &"ab".repeat(32), 10);
        assert!(matches!(bad("m", escaping), WeightsError::InvalidEntry(_)));
        let no_url = RequiredFile::new("a.th", Some(10));
        assert!(bad("m", no_url).to_string().contains("no URL"));
        let no_size = RequiredFile {
            size: None,
            ..good()
        };
        assert!(bad("m", no_size).to_string().contains("no size"));
        assert!(ModelEntry::from_urls("m", ModelKind::Demucs, vec![]).is_err());
        // A hub repo's files have no URLs.
        assert!(
            ModelEntry::with_files("m", "a/b", "main", ModelKind::Demucs, vec![good()]).is_err()
        );
    }

    #[test]
    fn several_url_files_share_a_folder_and_a_manifest_digest() {
        let sha = |c: char| c.to_string().repeat(64);
        let files = vec![
            RequiredFile::at_url("a.th", "https://h.example/models/v4/a.th", &sha('a'), 1),
            RequiredFile::at_url("b.th", "https://h.example/models/v4b/b.th", &sha('b'), 2),
        ];
        let entry = ModelEntry::from_urls("bag", ModelKind::Demucs, files).unwrap();
        assert_eq!(entry.repo, "https://h.example/models/");
        // `sha256sum` of a file holding "<sha>  a.th\n<sha>  b.th\n".
        let manifest = format!("{}  a.th\n{}  b.th\n", sha('a'), sha('b'));
        assert_eq!(entry.revision, hex_sha256(manifest.as_bytes()));
        assert_eq!(
            hex_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(entry.expected_size(), 3);
    }
}

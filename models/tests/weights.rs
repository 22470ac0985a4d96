//! The weights module against a fake hub on 127.0.0.1: the real hf-hub download path, resume,
//! corruption, offline mode, local folders, .bin -> safetensors, and the catalogue.

mod weights_hub;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bgm_models::task::CancelToken;
use bgm_models::weights::{
    catalogue, catalogue_status, download_model, find_model, ignore_progress, locate, model_status,
    DownloadStage, DownloadUpdate, HubToken, ModelEntry, ModelKind, ModelSource, ModelState,
    RequiredFile, ResolvedModel, WeightsConfig, WeightsError,
};
use candle_core::{DType, Device};
use weights_hub::{sha256_hex, tensor_values, FakeHub, COMMIT};

const REPO: &str = "tiny-org/tiny-model";
const TINY_BIN: &str = "tests/fixtures/weights/tiny_pytorch_model.bin";

/// Deterministic bytes that do not repeat with a short period.
fn payload(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}

struct Fixture {
    hub: FakeHub,
    dir: tempfile::TempDir,
    weights: Vec<u8>,
    bin: Vec<u8>,
    config_json: Vec<u8>,
}

impl Fixture {
    /// A repo with a small config (plain file), a 200 KB safetensors-named blob and the tiny
    /// PyTorch checkpoint (both LFS, redirected to the CDN).
    fn new() -> Self {
        let hub = FakeHub::start();
        let weights = payload(200_000, 7);
        let bin = std::fs::read(TINY_BIN).expect("fixture");
        let config_json = br#"{"model_type": "tiny"}"#.to_vec();
        hub.add_file(REPO, "config.json", &config_json);
        hub.add_lfs_file(REPO, "model.safetensors", &weights);
        hub.add_lfs_file(REPO, "sub/pytorch_model.bin", &bin);
        Self {
            hub,
            dir: tempfile::tempdir().expect("temp dir"),
            weights,
            bin,
            config_json,
        }
    }

    /// Downloads the pinned entry with `config`, no progress, never cancelled.
    fn download_with(&self, config: &WeightsConfig) -> bgm_models::weights::Result<ResolvedModel> {
        download_model(
            &self.entry(COMMIT),
            config,
            ignore_progress(),
            &CancelToken::new(),
        )
    }

    fn entry(&self, revision: &str) -> ModelEntry {
        let file = |path: &str| RequiredFile::new(path, None);
        let files = vec![
            file("config.json"),
            file("model.safetensors"),
            file("sub/pytorch_model.bin"),
        ];
        ModelEntry::with_files("tiny", REPO, revision, ModelKind::Whisper, files).expect("entry")
    }

    fn config(&self) -> WeightsConfig {
        WeightsConfig {
            models_dir: None,
            endpoint: Some(self.hub.url.clone()),
            cache_dir: Some(self.cache_dir()),
            offline: false,
            conversion_dir: Some(self.dir.path().join("converted")),
            url_mirror: None,
            token: None,
        }
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("hf-home").join("hub")
    }

    fn repo_cache(&self) -> PathBuf {
        self.cache_dir().join("models--tiny-org--tiny-model")
    }

    fn total_size(&self) -> u64 {
        (self.weights.len() + self.bin.len() + self.config_json.len()) as u64
    }
}

fn recorder() -> (
    Arc<Mutex<Vec<DownloadUpdate>>>,
    impl Fn(&DownloadUpdate) + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    (seen, move |u: &DownloadUpdate| {
        sink.lock().unwrap().push(u.clone())
    })
}

#[test]
fn download_fills_the_hub_cache_and_reports_progress() {
    let fx = Fixture::new();
    let (seen, sink) = recorder();
    let model = download_model(&fx.entry("main"), &fx.config(), sink, &CancelToken::new())
        .expect("download");

    assert_eq!(model.source, ModelSource::HubCache);
    assert_eq!(model.root, fx.repo_cache().join("snapshots").join(COMMIT));
    assert_eq!(
        std::fs::read(model.file("model.safetensors")).unwrap(),
        fx.weights
    );
    assert_eq!(
        std::fs::read(model.file("sub/pytorch_model.bin")).unwrap(),
        fx.bin
    );
    assert_eq!(
        std::fs::read(model.file("config.json")).unwrap(),
        fx.config_json
    );
    // The standard layout: content-addressed blobs, symlinked snapshot, branch ref.
    assert!(fx
        .repo_cache()
        .join("blobs")
        .join(sha256_hex(&fx.weights))
        .is_file());
    assert_eq!(
        std::fs::read_to_string(fx.repo_cache().join("refs/main")).unwrap(),
        COMMIT
    );
    #[cfg(unix)]
    assert!(std::fs::symlink_metadata(model.file("model.safetensors"))
        .unwrap()
        .file_type()
        .is_symlink());

    let updates = seen.lock().unwrap().clone();
    let last = updates.last().expect("progress updates");
    assert_eq!((last.done, last.total), (fx.total_size(), fx.total_size()));
    let finished: Vec<_> = updates
        .iter()
        .filter(|u| u.stage == DownloadStage::Finished)
        .map(|u| u.file.as_str())
        .collect();
    assert_eq!(
        finished,
        ["config.json", "model.safetensors", "sub/pytorch_model.bin"]
    );
    assert!(updates
        .iter()
        .any(|u| u.stage == DownloadStage::Transferring && u.file == "model.safetensors"));
    let transferring: Vec<u64> = updates
        .iter()
        .filter(|u| u.total > 0)
        .map(|u| u.done)
        .collect();
    assert!(
        transferring.windows(2).all(|w| w[0] <= w[1]),
        "total progress never goes back"
    );

    // hf-hub itself (and so Python tools) finds the files in the cache we filled.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hub = hf_hub::HFClient::builder()
        .endpoint("http://127.0.0.1:9")
        .cache_dir(fx.cache_dir())
        .build()
        .unwrap();
    let cached = runtime
        .block_on(
            hub.model("tiny-org", "tiny-model")
                .download_file()
                .filename("model.safetensors")
                .local_files_only(true)
                .send(),
        )
        .expect("hf-hub reads our cache");
    assert_eq!(std::fs::read(cached).unwrap(), fx.weights);

    let status = model_status(&fx.entry("main"), &fx.config());
    assert_eq!(status.state, ModelState::Ready);
    assert_eq!(status.bytes_on_disk, fx.total_size());

    // A second call finds everything locally and does not touch the network.
    let before = fx.hub.requests().len();
    download_model(
        &fx.entry("main"),
        &fx.config(),
        ignore_progress(),
        &CancelToken::new(),
    )
    .expect("cached");
    assert_eq!(fx.hub.requests().len(), before);
}

#[test]
fn a_dropped_connection_is_resumed_with_a_range_request() {
    let fx = Fixture::new();
    fx.hub.drop_connection_after("model.safetensors", 70_000);
    let model = fx.download_with(&fx.config()).expect("download");
    assert_eq!(
        std::fs::read(model.file("model.safetensors")).unwrap(),
        fx.weights
    );

    let cdn = format!("GET /cdn/{}", sha256_hex(&fx.weights));
    let requests = fx.hub.requests();
    let gets: Vec<_> = requests.iter().filter(|r| r.starts_with(&cdn)).collect();
    assert_eq!(
        gets.len(),
        2,
        "one interrupted GET, one resumed: {requests:?}"
    );
    assert!(
        gets[1].ends_with("range=70000-"),
        "resumed where the data stopped: {}",
        gets[1]
    );
}

#[test]
fn a_partial_file_from_an_earlier_run_is_resumed() {
    let fx = Fixture::new();
    let blobs = fx.repo_cache().join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let sha = sha256_hex(&fx.weights);
    std::fs::write(
        blobs.join(format!("{sha}.incomplete")),
        &fx.weights[..123_456],
    )
    .unwrap();
    assert_eq!(
        model_status(&fx.entry(COMMIT), &fx.config()).state,
        ModelState::Partial
    );

    let model = fx.download_with(&fx.config()).expect("download");
    assert_eq!(
        std::fs::read(model.file("model.safetensors")).unwrap(),
        fx.weights
    );
    assert!(fx
        .hub
        .requests()
        .contains(&format!("GET /cdn/{sha} range=123456-")));
    assert!(!blobs.join(format!("{sha}.incomplete")).exists());
}

#[test]
fn a_corrupt_download_is_detected_and_removed() {
    let fx = Fixture::new();
    fx.hub.corrupt("model.safetensors");
    let error = fx.download_with(&fx.config()).unwrap_err();
    let WeightsError::Corrupt { file, detail, .. } = &error else {
        panic!("expected Corrupt, got {error}")
    };
    assert_eq!(file, "model.safetensors");
    assert!(detail.contains("sha256"), "{detail}");
    assert!(!fx
        .repo_cache()
        .join("blobs")
        .join(sha256_hex(&fx.weights))
        .exists());
    assert!(!fx
        .repo_cache()
        .join("snapshots")
        .join(COMMIT)
        .join("model.safetensors")
        .exists());
    assert_ne!(
        model_status(&fx.entry(COMMIT), &fx.config()).state,
        ModelState::Ready
    );
}

#[test]
fn a_gated_repo_is_refused_without_its_token_and_served_with_it() {
    let fx = Fixture::new();
    fx.hub.gate(REPO, "hf_accepted");
    let with_token = |token: Option<&str>| WeightsConfig {
        token: token.and_then(HubToken::new),
        ..fx.config()
    };
    let files_left = || {
        let blobs = fx.repo_cache().join("blobs");
        std::fs::read_dir(blobs).map_or(0, |entries| entries.count())
    };
    for (token, status) in [(None, "401"), (Some("hf_someone_else"), "403")] {
        let error = fx
            .download_with(&with_token(token))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(status)
                && error
                    .contains("Accept the licence at https://huggingface.co/tiny-org/tiny-model")
                && error.contains("HF_TOKEN"),
            "{error}"
        );
        assert!(
            !error.contains("hf_someone_else"),
            "the token is not shown: {error}"
        );
        assert_eq!(files_left(), 0, "nothing written");
    }
    let model = fx
        .download_with(&with_token(Some("hf_accepted")))
        .expect("the token of an account that accepted the licence");
    assert_eq!(
        std::fs::read(model.file("model.safetensors")).unwrap(),
        fx.weights
    );
}

/// A pinned commit is the one served or nothing is: a hub that answers with another commit
/// (a rewritten history, a mirror that ignores revisions) is refused before any byte is kept.
#[test]
fn a_hub_serving_another_commit_than_the_pinned_one_is_refused() {
    let fx = Fixture::new();
    fx.hub
        .report_commit("fedcba9876543210fedcba9876543210fedcba98");
    let err = fx.download_with(&fx.config()).unwrap_err().to_string();
    assert!(
        err.contains("fedcba9876543210fedcba9876543210fedcba98") && err.contains(COMMIT),
        "{err}"
    );
    let blobs = fx.repo_cache().join("blobs");
    assert!(
        !blobs.exists() || std::fs::read_dir(&blobs).unwrap().next().is_none(),
        "nothing kept"
    );
}

/// Two downloads of one model at once (the window and a CLI): the second waits for the
/// first and finds the files there; each file crosses the network once.
#[test]
fn two_downloads_of_one_model_at_once_fetch_it_once() {
    let fx = Fixture::new();
    fx.hub.slow("model.safetensors");
    let (entry, config) = (fx.entry(COMMIT), fx.config());
    let results: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    download_model(&entry, &config, ignore_progress(), &CancelToken::new())
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    for result in &results {
        let model = result.as_ref().expect("both downloads succeed");
        assert_eq!(
            std::fs::read(model.file("model.safetensors")).unwrap(),
            fx.weights
        );
    }
    let sha = sha256_hex(&fx.weights);
    let fetched = fx
        .hub
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains(&sha))
        .count();
    assert_eq!(fetched, 1, "{:?}", fx.hub.requests());
}

#[test]
fn cancel_stops_a_download_and_keeps_the_partial_file() {
    let fx = Fixture::new();
    fx.hub.slow("model.safetensors");
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    let sink = move |u: &DownloadUpdate| {
        if u.file == "model.safetensors"
            && u.stage == DownloadStage::Transferring
            && u.file_done > 0
        {
            trigger.cancel();
        }
    };
    let started = std::time::Instant::now();
    let error = download_model(&fx.entry(COMMIT), &fx.config(), sink, &cancel).unwrap_err();
    assert!(matches!(error, WeightsError::Cancelled { .. }), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let sha = sha256_hex(&fx.weights);
    let blobs = fx.repo_cache().join("blobs");
    assert!(!blobs.join(&sha).exists());
    let kept = std::fs::metadata(blobs.join(format!("{sha}.incomplete"))).map(|m| m.len());
    let kept = kept.expect("partial file kept");
    assert!(kept > 0 && kept < fx.weights.len() as u64, "{kept}");

    // The next download picks up where the cancelled one stopped.
    let model = fx
        .download_with(&fx.config())
        .expect("download after cancel");
    assert_eq!(
        std::fs::read(model.file("model.safetensors")).unwrap(),
        fx.weights
    );
    let resumed = format!("GET /cdn/{sha} range={kept}-");
    assert!(
        fx.hub.requests().contains(&resumed),
        "{:?}",
        fx.hub.requests()
    );
}

#[test]
fn a_corrupt_small_file_fails_its_git_blob_id() {
    let fx = Fixture::new();
    fx.hub.corrupt("config.json");
    let error = fx.download_with(&fx.config()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, WeightsError::Corrupt { .. }), "{message}");
    assert!(
        message.contains("config.json") && message.contains("git blob id"),
        "{message}"
    );
}

#[test]
fn offline_mode_uses_only_the_cache() {
    let fx = Fixture::new();
    let offline = WeightsConfig {
        offline: true,
        ..fx.config()
    };
    let error = fx.download_with(&offline).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("Offline mode"), "{message}");
    assert!(message.contains("model.safetensors"), "{message}");
    assert!(
        fx.hub.requests().is_empty(),
        "offline mode made requests: {:?}",
        fx.hub.requests()
    );

    fx.download_with(&fx.config()).expect("online download");
    let before = fx.hub.requests().len();
    let model = fx.download_with(&offline).expect("offline hit");
    assert_eq!(model.source, ModelSource::HubCache);
    assert_eq!(fx.hub.requests().len(), before);
}

fn write_local_model(models_dir: &Path, files: &[(&str, &[u8])]) -> PathBuf {
    let folder = models_dir.join("tiny-org").join("tiny-model");
    for (path, content) in files {
        let target = folder.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, content).unwrap();
    }
    folder
}

#[test]
fn a_local_folder_overrides_the_hub() {
    let fx = Fixture::new();
    let models_dir = fx.dir.path().join("models");
    let folder = write_local_model(
        &models_dir,
        &[
            ("config.json", b"{}"),
            ("model.safetensors", b"local"),
            ("sub/pytorch_model.bin", &fx.bin),
        ],
    );
    let config = WeightsConfig {
        models_dir: Some(models_dir),
        ..fx.config()
    };
    let model = fx.download_with(&config).expect("local");
    assert_eq!(model.source, ModelSource::LocalFolder);
    assert_eq!(model.root, folder);
    assert_eq!(
        std::fs::read(model.file("model.safetensors")).unwrap(),
        b"local"
    );
    assert!(fx.hub.requests().is_empty());
    assert_eq!(
        model_status(&fx.entry(COMMIT), &config).state,
        ModelState::Ready
    );
}

#[test]
fn an_incomplete_local_folder_is_a_clear_error() {
    let fx = Fixture::new();
    let models_dir = fx.dir.path().join("models");
    let folder = write_local_model(&models_dir, &[("config.json", b"{}")]);
    let config = WeightsConfig {
        models_dir: Some(models_dir),
        ..fx.config()
    };
    let error = fx.download_with(&config).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("model.safetensors, sub/pytorch_model.bin"),
        "{message}"
    );
    assert!(message.contains(&folder.display().to_string()), "{message}");
    assert!(message.contains("Copy the missing files"), "{message}");
    assert!(fx.hub.requests().is_empty());
    assert_eq!(
        model_status(&fx.entry(COMMIT), &config).state,
        ModelState::Partial
    );
}

#[test]
fn a_missing_model_says_how_to_get_it() {
    let fx = Fixture::new();
    let entry = find_model("whisper-base").unwrap();
    let error = locate(&entry, &fx.config()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("bgm-studio models download whisper-base"),
        "{message}"
    );
    assert!(message.contains("model.safetensors"), "{message}");
    assert!(
        message.contains(&fx.cache_dir().display().to_string()),
        "{message}"
    );
    assert!(message.contains("BGM_MODELS_DIR"), "{message}");
}

#[test]
fn a_file_the_hub_does_not_have_is_reported() {
    let fx = Fixture::new();
    let entry = ModelEntry::with_files(
        "tiny",
        REPO,
        COMMIT,
        ModelKind::Whisper,
        vec![RequiredFile::new("nope.json", None)],
    )
    .unwrap();
    let error =
        download_model(&entry, &fx.config(), ignore_progress(), &CancelToken::new()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, WeightsError::Hub { .. }), "{message}");
    assert!(
        message.contains("nope.json") && message.contains("404"),
        "{message}"
    );
}

#[test]
fn bin_weights_are_converted_once_to_equal_safetensors() {
    let fx = Fixture::new();
    let model = fx.download_with(&fx.config()).expect("download");
    let paths = model.safetensors_paths(&fx.config()).expect("convert");
    assert_eq!(paths[0], model.file("model.safetensors"));
    let converted = &paths[1];
    assert_eq!(converted, &model.file("sub/pytorch_model.bin.safetensors"));

    let original = candle_core::pickle::read_all(model.file("sub/pytorch_model.bin")).unwrap();
    let mapped = unsafe { candle_core::safetensors::MmapedSafetensors::new(converted) }.unwrap();
    assert_eq!(original.len(), 4);
    for (name, tensor) in &original {
        let loaded = mapped.load(name, &Device::Cpu).unwrap();
        assert_eq!(tensor_values(&loaded), tensor_values(tensor), "{name}");
    }
    // The values the fixture script wrote.
    let get = |name: &str| tensor_values(&mapped.load(name, &Device::Cpu).unwrap());
    let weight: Vec<f32> = (0..12).map(|i| 0.5 * i as f32 - 1.0).collect();
    assert_eq!(get("layer.weight"), (DType::F32, vec![3, 4], weight));
    assert_eq!(
        get("layer.bias"),
        (DType::F32, vec![3], vec![10.0, 20.0, 30.0])
    );
    assert_eq!(get("tail"), (DType::F32, vec![2], vec![3.0, 3.5]));
    assert_eq!(
        get("emb"),
        (DType::F16, vec![2, 2], vec![0.0, 0.25, 0.5, 0.75])
    );

    // Converted once: a second call reuses the file.
    let modified = std::fs::metadata(converted).unwrap().modified().unwrap();
    let again = model
        .safetensors_path("sub/pytorch_model.bin", &fx.config())
        .unwrap();
    assert_eq!(&again, converted);
    assert_eq!(
        std::fs::metadata(converted).unwrap().modified().unwrap(),
        modified
    );
}

/// A conversion killed mid-write leaves its temporary copy; the next conversion of that file
/// removes it, and leaves alone the copy a live process is still writing.
#[cfg(unix)]
#[test]
fn a_killed_conversions_temporary_file_is_removed_by_the_next() {
    let fx = Fixture::new();
    let model = fx.download_with(&fx.config()).expect("download");
    let folder = model.file("sub/pytorch_model.bin.safetensors");
    let folder = folder.parent().unwrap();
    let dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    let mut dead = dead;
    dead.wait().unwrap();
    let temporary = |pid: u32| folder.join(format!(".pytorch_model.bin.safetensors.{pid}.tmp"));
    let live_pid = std::os::unix::process::parent_id();
    for pid in [dead_pid, live_pid] {
        std::fs::write(temporary(pid), b"half a file").unwrap();
    }
    model.safetensors_paths(&fx.config()).expect("convert");
    assert!(
        !temporary(dead_pid).exists(),
        "the killed conversion's copy is removed"
    );
    assert!(temporary(live_pid).exists(), "a live process's copy stays");
    std::fs::remove_file(temporary(live_pid)).unwrap();
}

#[test]
fn a_broken_bin_file_is_a_conversion_error() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("pytorch_model.bin");
    std::fs::write(&broken, b"not a zip").unwrap();
    let error = bgm_models::weights::ensure_safetensors(&broken, &dir.path().join("converted"))
        .unwrap_err();
    assert!(matches!(error, WeightsError::Conversion { .. }), "{error}");
}

#[test]
fn the_catalogue_names_every_stage_model() {
    let names: Vec<String> = catalogue().into_iter().map(|e| e.name).collect();
    for name in [
        "whisper-tiny",
        "whisper-base",
        "whisper-small",
        "whisper-medium",
        "whisper-large-v3",
        "whisper-large-v3-turbo",
        "emotion",
        "riffusion",
        "clip-tokenizer",
        "htdemucs",
        "stable-audio-3-small",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing");
    }
    for entry in catalogue() {
        // Stable Audio's repo is gated: its commit cannot be read without an accepted licence,
        // so it follows `main` and the cache records the commit downloaded (see the entry).
        if entry.name == "stable-audio-3-small" {
            assert_eq!(entry.revision, "main");
            continue;
        }
        // Pinned: a hub commit, or a URL-hosted file's SHA-256.
        let pin_length = if entry.is_url_hosted() { 64 } else { 40 };
        assert!(
            entry.revision.len() == pin_length
                && entry.revision.bytes().all(|b| b.is_ascii_hexdigit()),
            "{}",
            entry.name
        );
        assert!(entry.expected_size() > 0, "{}", entry.name);
        assert!(entry
            .files
            .iter()
            .all(|f| !f.path.contains("safety_checker")));
    }
    let turbo = find_model("openai/whisper-large-v3-turbo").unwrap();
    assert_eq!(turbo.name, "whisper-large-v3-turbo");
    let riffusion = find_model("riffusion").unwrap();
    for part in ["unet/", "vae/", "text_encoder/", "tokenizer/"] {
        assert!(
            riffusion.files.iter().any(|f| f.path.starts_with(part)),
            "{part}"
        );
    }
    let unknown = find_model("whisper-huge").unwrap_err().to_string();
    assert!(
        unknown.contains("whisper-base") && unknown.contains("clip-tokenizer"),
        "{unknown}"
    );

    let custom =
        ModelEntry::custom("someone/whisper-finetune", "main", ModelKind::Whisper).unwrap();
    assert_eq!(
        custom.files,
        find_model("whisper-tiny")
            .unwrap()
            .files
            .iter()
            .map(|f| RequiredFile {
                size: None,
                ..f.clone()
            })
            .collect::<Vec<_>>()
    );
    assert!(ModelEntry::custom("../etc", "main", ModelKind::Whisper).is_err());
    assert!(ModelEntry::custom("a/b", "../x", ModelKind::Whisper).is_err());
}

#[test]
fn status_of_an_empty_cache_is_all_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = WeightsConfig::offline_in(dir.path());
    let all = catalogue_status(&config);
    assert_eq!(all.len(), catalogue().len());
    assert!(all
        .iter()
        .all(|s| s.state == ModelState::Missing && s.bytes_on_disk == 0 && s.expected_bytes > 0));
    assert!(bgm_models::weights::model_path("emotion", &config).is_err());
}

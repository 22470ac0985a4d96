//! URL-hosted models (Demucs v4 `htdemucs`) against a plain file server on 127.0.0.1: download
//! into `bgm-urls/<name>/<sha256>/` with progress, pinned SHA-256 and size checks that keep
//! nothing on a mismatch, resume, cancel, offline lookup in a local folder, the URL mirror, and
//! the `.th` -> safetensors conversion.

mod weights_hub;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bgm_models::task::CancelToken;
use bgm_models::weights::{
    download_model, ensure_safetensors, find_model, ignore_progress, locate, missing_models,
    model_path, model_status, DownloadStage, DownloadUpdate, ModelEntry, ModelKind, ModelSource,
    ModelState, RequiredFile, ResolvedModel, WeightsConfig, WeightsError,
};
use candle_core::{DType, Device};
use weights_hub::{sha256_hex, tensor_values, FakeHub};

const CHECKPOINT: &str = "tests/fixtures/separation/tiny/htdemucs.th";
const NAME: &str = "tiny-demucs";
const URL_PATH: &str = "/demucs/hybrid_transformer/tiny-0000.th";

struct Fixture {
    server: FakeHub,
    dir: tempfile::TempDir,
    checkpoint: Vec<u8>,
}

impl Fixture {
    /// The tiny Demucs checkpoint served at `URL_PATH`.
    fn new() -> Self {
        let server = FakeHub::start();
        let checkpoint = std::fs::read(CHECKPOINT).expect("fixture checkpoint");
        server.add_url_file(URL_PATH, &checkpoint);
        Self {
            server,
            dir: tempfile::tempdir().expect("temp dir"),
            checkpoint,
        }
    }

    fn sha256(&self) -> String {
        sha256_hex(&self.checkpoint)
    }

    fn size(&self) -> u64 {
        self.checkpoint.len() as u64
    }

    fn url(&self) -> String {
        format!("{}{URL_PATH}", self.server.url)
    }

    /// The checkpoint pinned by its real digest and size, fetched from the local server.
    fn entry(&self) -> ModelEntry {
        self.entry_pinned(&self.sha256(), self.size())
    }

    fn entry_pinned(&self, sha256: &str, size: u64) -> ModelEntry {
        let file = RequiredFile::at_url("htdemucs.th", &self.url(), sha256, size);
        ModelEntry::from_urls(NAME, ModelKind::Demucs, vec![file]).expect("entry")
    }

    fn config(&self) -> WeightsConfig {
        WeightsConfig {
            models_dir: None,
            endpoint: Some("http://127.0.0.1:9".into()),
            cache_dir: Some(self.dir.path().join("hf-home").join("hub")),
            offline: false,
            conversion_dir: Some(self.dir.path().join("converted")),
            url_mirror: None,
            token: None,
        }
    }

    /// Where the entry's file is downloaded: `<hf-home>/bgm-urls/<name>/<sha256>/`.
    fn cache_folder(&self, name: &str, sha256: &str) -> PathBuf {
        self.dir
            .path()
            .join("hf-home")
            .join("bgm-urls")
            .join(name)
            .join(sha256)
    }

    fn download(&self, entry: &ModelEntry) -> bgm_models::weights::Result<ResolvedModel> {
        download_model(
            entry,
            &self.config(),
            ignore_progress(),
            &CancelToken::new(),
        )
    }

    /// The GETs the client sent for the checkpoint, as `GET <path> [range=N-]`.
    fn gets(&self) -> Vec<String> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.starts_with(&format!("GET {URL_PATH}")))
            .collect()
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

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn a_url_model_downloads_into_its_pinned_folder_with_progress() {
    let fx = Fixture::new();
    let (seen, sink) = recorder();
    let model =
        download_model(&fx.entry(), &fx.config(), sink, &CancelToken::new()).expect("download");

    let folder = fx.cache_folder(NAME, &fx.sha256());
    assert_eq!(model.source, ModelSource::UrlCache);
    assert_eq!(model.root, folder);
    assert_eq!(
        std::fs::read(model.file("htdemucs.th")).unwrap(),
        fx.checkpoint
    );
    assert_eq!(
        files_under(&folder),
        ["htdemucs.th"],
        "no partial file left"
    );

    let updates = seen.lock().unwrap().clone();
    let last = updates.last().expect("progress updates");
    assert_eq!((last.done, last.total), (fx.size(), fx.size()));
    assert_eq!(last.stage, DownloadStage::Finished);
    assert_eq!(last.model, NAME);
    assert!(updates
        .iter()
        .any(|u| u.stage == DownloadStage::Transferring && u.file == "htdemucs.th"));
    assert!(updates.iter().any(|u| u.stage == DownloadStage::Verifying));
    let done: Vec<u64> = updates.iter().map(|u| u.done).collect();
    assert!(
        done.windows(2).all(|w| w[0] <= w[1]),
        "progress never goes back: {done:?}"
    );

    let status = model_status(&fx.entry(), &fx.config());
    assert_eq!(status.state, ModelState::Ready);
    assert_eq!(status.source, Some(ModelSource::UrlCache));
    assert_eq!(status.bytes_on_disk, fx.size());
    assert_eq!(status.expected_bytes, fx.size());
    assert_eq!(status.path, folder);
    assert_eq!(status.repo, fx.url());
    assert_eq!(status.revision, fx.sha256());

    // A second call finds the file and does not touch the network.
    let before = fx.server.requests().len();
    let again = fx.download(&fx.entry()).expect("cached");
    assert_eq!(again.root, folder);
    assert_eq!(fx.server.requests().len(), before);
    assert_eq!(fx.gets().len(), 1, "{:?}", fx.server.requests());
}

#[test]
fn a_wrong_sha256_fails_naming_the_url_and_both_digests_and_keeps_nothing() {
    let fx = Fixture::new();
    let pinned = sha256_hex(b"some other checkpoint");
    let entry = fx.entry_pinned(&pinned, fx.size());
    let error = fx.download(&entry).unwrap_err();
    let message = error.to_string();
    let WeightsError::Mismatch {
        url,
        file,
        check,
        expected,
        actual,
    } = &error
    else {
        panic!("expected Mismatch, got {message}")
    };
    assert_eq!(
        (url.as_str(), file.as_str(), *check),
        (fx.url().as_str(), "htdemucs.th", "sha256")
    );
    assert_eq!((expected, actual), (&pinned, &fx.sha256()));
    for part in [fx.url(), pinned.clone(), fx.sha256()] {
        assert!(message.contains(&part), "{part} not in: {message}");
    }

    let folder = fx.cache_folder(NAME, &pinned);
    assert!(
        files_under(&folder).is_empty(),
        "nothing kept: {:?}",
        files_under(&folder)
    );
    assert_eq!(
        model_status(&entry, &fx.config()).state,
        ModelState::Missing
    );
    assert!(locate(&entry, &fx.config()).is_err());
}

#[test]
fn corrupted_bytes_from_the_server_are_not_kept() {
    let fx = Fixture::new();
    fx.server.corrupt(URL_PATH);
    let error = fx.download(&fx.entry()).unwrap_err();
    let WeightsError::Mismatch {
        check,
        expected,
        actual,
        ..
    } = &error
    else {
        panic!("expected Mismatch, got {error}")
    };
    assert_eq!((*check, expected), ("sha256", &fx.sha256()));
    assert_ne!(actual, expected);
    assert!(files_under(&fx.cache_folder(NAME, &fx.sha256())).is_empty());
}

#[test]
fn a_file_of_another_size_is_refused_before_it_is_downloaded() {
    let fx = Fixture::new();
    let entry = fx.entry_pinned(&fx.sha256(), fx.size() + 1);
    let error = fx.download(&entry).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, WeightsError::Download { .. }), "{message}");
    assert!(
        message.contains(&fx.url())
            && message.contains(&format!(
                "sends {} bytes, {} expected",
                fx.size(),
                fx.size() + 1
            )),
        "{message}"
    );
    assert!(files_under(&fx.cache_folder(NAME, &fx.sha256())).is_empty());
}

#[test]
fn a_missing_file_on_the_server_is_a_clear_error() {
    let fx = Fixture::new();
    let file = RequiredFile::at_url(
        "htdemucs.th",
        &format!("{}/nope.th", fx.server.url),
        &fx.sha256(),
        fx.size(),
    );
    let entry = ModelEntry::from_urls(NAME, ModelKind::Demucs, vec![file]).unwrap();
    let message = fx.download(&entry).unwrap_err().to_string();
    assert!(
        message.contains("/nope.th") && message.contains("404"),
        "{message}"
    );
}

#[test]
fn a_dropped_connection_is_resumed_with_a_range_request() {
    let fx = Fixture::new();
    fx.server.drop_connection_after(URL_PATH, 70_000);
    let model = fx.download(&fx.entry()).expect("download");
    assert_eq!(
        std::fs::read(model.file("htdemucs.th")).unwrap(),
        fx.checkpoint
    );
    let gets = fx.gets();
    assert_eq!(gets.len(), 2, "one interrupted GET, one resumed: {gets:?}");
    assert!(gets[1].ends_with("range=70000-"), "{gets:?}");
}

#[test]
fn a_partial_file_from_an_earlier_run_is_resumed() {
    let fx = Fixture::new();
    let folder = fx.cache_folder(NAME, &fx.sha256());
    std::fs::create_dir_all(&folder).unwrap();
    let partial = folder.join("htdemucs.th.incomplete");
    std::fs::write(&partial, &fx.checkpoint[..50_000]).unwrap();
    let status = model_status(&fx.entry(), &fx.config());
    assert_eq!(
        (status.state, status.bytes_on_disk),
        (ModelState::Partial, 50_000)
    );

    let (seen, sink) = recorder();
    let model =
        download_model(&fx.entry(), &fx.config(), sink, &CancelToken::new()).expect("download");
    assert_eq!(
        std::fs::read(model.file("htdemucs.th")).unwrap(),
        fx.checkpoint
    );
    assert_eq!(fx.gets(), [format!("GET {URL_PATH} range=50000-")]);
    assert!(!partial.exists());
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(
        (first.stage, first.file_done),
        (DownloadStage::Transferring, 50_000)
    );
}

#[test]
fn cancel_keeps_the_partial_file_and_the_next_download_resumes_it() {
    let fx = Fixture::new();
    fx.server.slow(URL_PATH);
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    let sink = move |u: &DownloadUpdate| {
        if u.stage == DownloadStage::Transferring && u.file_done > 0 {
            trigger.cancel();
        }
    };
    let started = std::time::Instant::now();
    let error = download_model(&fx.entry(), &fx.config(), sink, &cancel).unwrap_err();
    assert!(matches!(error, WeightsError::Cancelled { .. }), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let folder = fx.cache_folder(NAME, &fx.sha256());
    assert!(!folder.join("htdemucs.th").exists());
    let kept = std::fs::metadata(folder.join("htdemucs.th.incomplete"))
        .expect("partial file kept")
        .len();
    assert!(kept > 0 && kept < fx.size(), "{kept}");

    let model = fx.download(&fx.entry()).expect("download after cancel");
    assert_eq!(
        std::fs::read(model.file("htdemucs.th")).unwrap(),
        fx.checkpoint
    );
    let resumed = format!("GET {URL_PATH} range={kept}-");
    assert!(fx.gets().contains(&resumed), "{:?}", fx.gets());
}

#[test]
fn offline_lookup_finds_the_local_folder_copy() {
    let fx = Fixture::new();
    let models_dir = fx.dir.path().join("models");
    let offline = WeightsConfig {
        models_dir: Some(models_dir.clone()),
        offline: true,
        ..fx.config()
    };
    let htdemucs = find_model("htdemucs").unwrap();

    // Nothing local: offline mode says so and asks nobody.
    let message = download_model(&htdemucs, &offline, ignore_progress(), &CancelToken::new())
        .unwrap_err()
        .to_string();
    assert!(message.contains("Offline mode"), "{message}");
    let folder = models_dir.join("htdemucs");
    assert!(
        message.contains(&folder.display().to_string()),
        "says where to put it: {message}"
    );
    let missing = missing_models(&["htdemucs"], &offline).unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(
        (missing[0].name.as_str(), missing[0].bytes_to_download),
        ("htdemucs", 84_141_911)
    );
    assert!(model_path("htdemucs", &offline).is_err());

    // `<models_dir>/htdemucs/htdemucs.th` is found without the network.
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("htdemucs.th"), &fx.checkpoint).unwrap();
    let requests = fx.server.requests().len();
    let found = locate(&htdemucs, &offline).expect("local copy");
    assert_eq!(
        (found.source, found.root.clone()),
        (ModelSource::LocalFolder, folder.clone())
    );
    assert_eq!(found.file("htdemucs.th"), folder.join("htdemucs.th"));
    let downloaded = download_model(&htdemucs, &offline, ignore_progress(), &CancelToken::new())
        .expect("local copy");
    assert_eq!(downloaded.root, folder);
    assert_eq!(model_path("htdemucs", &offline).unwrap(), folder);
    assert!(missing_models(&["htdemucs"], &offline).unwrap().is_empty());
    let status = model_status(&htdemucs, &offline);
    assert_eq!(
        (status.state, status.source),
        (ModelState::Ready, Some(ModelSource::LocalFolder))
    );
    assert_eq!(fx.server.requests().len(), requests);
}

#[test]
fn offline_mode_downloads_nothing_and_then_uses_the_cache() {
    let fx = Fixture::new();
    let offline = WeightsConfig {
        offline: true,
        ..fx.config()
    };
    let error = download_model(
        &fx.entry(),
        &offline,
        ignore_progress(),
        &CancelToken::new(),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, WeightsError::NotAvailable { .. }),
        "{message}"
    );
    assert!(message.contains("Offline mode"), "{message}");
    assert!(
        message.contains(&format!("{NAME}/<files>")),
        "names the local folder layout: {message}"
    );
    assert!(
        fx.server.requests().is_empty(),
        "{:?}",
        fx.server.requests()
    );

    fx.download(&fx.entry()).expect("online download");
    let before = fx.server.requests().len();
    let model = download_model(
        &fx.entry(),
        &offline,
        ignore_progress(),
        &CancelToken::new(),
    )
    .expect("offline hit");
    assert_eq!(model.source, ModelSource::UrlCache);
    assert_eq!(fx.server.requests().len(), before);
}

#[test]
fn the_mirror_serves_url_files_under_their_own_paths() {
    let fx = Fixture::new();
    let mirrored = WeightsConfig {
        url_mirror: Some(format!("{}/mirror/", fx.server.url)),
        token: None,
        ..fx.config()
    };

    // A custom entry at a host that does not exist, fetched from the mirror.
    fx.server
        .add_url_file("/mirror/models/tiny.th", &fx.checkpoint);
    let file = RequiredFile::at_url(
        "htdemucs.th",
        "https://models.example.invalid/models/tiny.th",
        &fx.sha256(),
        fx.size(),
    );
    let entry = ModelEntry::from_urls(NAME, ModelKind::Demucs, vec![file]).unwrap();
    let model = download_model(&entry, &mirrored, ignore_progress(), &CancelToken::new())
        .expect("download from the mirror");
    assert_eq!(
        std::fs::read(model.file("htdemucs.th")).unwrap(),
        fx.checkpoint
    );

    // The built-in htdemucs asks the mirror for Meta's path; the tiny checkpoint served there
    // is refused by the pinned size, and nothing is kept.
    let meta_path = "/mirror/demucs/hybrid_transformer/955717e8-8726e21a.th";
    fx.server.add_url_file(meta_path, &fx.checkpoint);
    let htdemucs = find_model("htdemucs").unwrap();
    let error =
        download_model(&htdemucs, &mirrored, ignore_progress(), &CancelToken::new()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, WeightsError::Download { .. }), "{message}");
    assert!(
        message.contains(&format!("{}{meta_path}", fx.server.url))
            && message.contains("84141911 expected"),
        "{message}"
    );
    assert!(fx
        .server
        .requests()
        .contains(&format!("GET {meta_path} range=0-")));
    let folder = fx.cache_folder("htdemucs", &htdemucs.revision);
    assert!(
        files_under(&folder).is_empty(),
        "{:?}",
        files_under(&folder)
    );
}

#[test]
fn a_demucs_checkpoint_converts_once_to_f16_safetensors_of_its_state_dict() {
    let fx = Fixture::new();
    let model = fx.download(&fx.entry()).expect("download");
    let paths = model.safetensors_paths(&fx.config()).expect("convert");
    let converted = model.file("htdemucs.th.safetensors");
    assert_eq!(paths, std::slice::from_ref(&converted));

    let state =
        candle_core::pickle::read_all_with_key(model.file("htdemucs.th"), Some("state")).unwrap();
    let mapped = unsafe { candle_core::safetensors::MmapedSafetensors::new(&converted) }.unwrap();
    let mut names: Vec<String> = mapped.tensors().into_iter().map(|(n, _)| n).collect();
    names.sort();
    let mut expected: Vec<String> = state.iter().map(|(n, _)| n.clone()).collect();
    expected.sort();
    assert_eq!(names, expected);
    assert!(
        names.iter().any(|n| n == "encoder.0.conv.weight"),
        "{names:?}"
    );
    for (name, tensor) in &state {
        let loaded = mapped.load(name, &Device::Cpu).unwrap();
        assert_eq!(loaded.dtype(), DType::F16, "{name}");
        assert_eq!(tensor_values(&loaded), tensor_values(tensor), "{name}");
    }

    // Converted once: a second call reuses the file.
    let modified = std::fs::metadata(&converted).unwrap().modified().unwrap();
    let again = model.safetensors_path("htdemucs.th", &fx.config()).unwrap();
    assert_eq!(again, converted);
    assert_eq!(
        std::fs::metadata(&converted).unwrap().modified().unwrap(),
        modified
    );
}

#[test]
fn a_th_file_without_a_state_dict_is_a_conversion_error() {
    let dir = tempfile::tempdir().unwrap();
    // A plain state dict (what a `.bin` holds) has no "state" key.
    let plain = dir.path().join("plain.th");
    std::fs::copy("tests/fixtures/weights/tiny_pytorch_model.bin", &plain).unwrap();
    let error = ensure_safetensors(&plain, &dir.path().join("converted")).unwrap_err();
    assert!(matches!(error, WeightsError::Conversion { .. }), "{error}");
    assert!(!dir.path().join("plain.th.safetensors").exists());
}

//! The CUDA build on a machine without a usable NVIDIA driver, as CI is: it starts, says why it
//! runs on the CPU, and runs a model stage there. `make test-cuda` builds that binary with
//! tools/gpu/cuda-build.sh and runs these tests with `BGM_CUDA_BINARY` pointing at it.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{fixture, install_tiny_model};

const NEEDS: &str = "needs the CUDA build: `make test-cuda` builds it and sets BGM_CUDA_BINARY";

fn cuda_binary() -> PathBuf {
    let path = std::env::var_os("BGM_CUDA_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{NEEDS}"));
    assert!(
        path.is_file(),
        "BGM_CUDA_BINARY={} is not a file",
        path.display()
    );
    path
}

fn bgm() -> Command {
    let mut cmd = Command::new(cuda_binary());
    let data = std::env::temp_dir().join("bgm-cuda-build-test-data");
    cmd.env("BGM_DATA_DIR", data).env_remove("BGM_DEVICE");
    cmd
}

/// Whether this machine can load the NVIDIA driver library at all: the tests below expect the
/// fallback, and say so instead of passing by accident where a driver is installed.
fn driver_installed() -> bool {
    let cache = Command::new("ldconfig").arg("-p").output().unwrap();
    String::from_utf8_lossy(&cache.stdout).contains("libcuda.so")
}

#[test]
#[ignore = "needs the CUDA build: `make test-cuda` builds it and sets BGM_CUDA_BINARY"]
fn links_no_nvidia_library_at_load_time() {
    let out = Command::new("ldd").arg(cuda_binary()).output().unwrap();
    let libraries = String::from_utf8_lossy(&out.stdout);
    for name in [
        "libcuda.",
        "libcudart",
        "libcublas",
        "libcurand",
        "libnvrtc",
    ] {
        assert!(!libraries.contains(name), "links {name}:\n{libraries}");
    }
}

#[test]
#[ignore = "needs the CUDA build: `make test-cuda` builds it and sets BGM_CUDA_BINARY"]
fn without_a_driver_it_uses_the_cpu_and_says_why() {
    assert!(
        !driver_installed(),
        "this machine has an NVIDIA driver; run this test where there is none"
    );
    let out = bgm().args(["device", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let device: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(device["device"], "cpu", "{device}");
    assert_eq!(device["dtype"], "f32", "{device}");
    let note = device["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("CUDA build, no NVIDIA driver found") && note.ends_with("using the CPU"),
        "{note}"
    );

    let out = bgm().arg("device").output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with("CPU (F32) — CUDA build, no NVIDIA driver found"),
        "{line}"
    );
}

#[test]
#[ignore = "needs the CUDA build: `make test-cuda` builds it and sets BGM_CUDA_BINARY"]
fn asking_for_cuda_without_a_driver_is_a_clear_error() {
    assert!(!driver_installed(), "this machine has an NVIDIA driver");
    let out = bgm().args(["--device", "cuda", "device"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("CUDA is not usable on this machine: no NVIDIA driver found"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
#[ignore = "needs the CUDA build: `make test-cuda` builds it and sets BGM_CUDA_BINARY"]
fn transcribes_with_the_tiny_model_on_the_cpu() {
    let models = tempfile::tempdir().unwrap();
    install_tiny_model(models.path(), "whisper-base", "whisper/tiny");
    let out = bgm()
        .arg("--models-dir")
        .arg(models.path())
        .args(["--offline", "transcribe", "--language", "en", "--json"])
        .arg(fixture("speech.mp4"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let transcript: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(transcript["language"], "en");
    let duration = transcript["duration"].as_f64().unwrap();
    assert!((duration - 12.0).abs() < 0.05, "{duration}");
}

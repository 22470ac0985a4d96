//! CUDA builds link the CUDA runtime statically.
//!
//! candle-kernels asks for `-lcudart`. Linked as a shared library, libcudart.so.13 becomes a
//! load-time dependency and the binary no longer starts on a machine without CUDA, which loses
//! the CPU fallback. The static runtime loads the driver only when a kernel first runs. So we
//! offer the linker a `libcudart.a` (the toolkit's `libcudart_static.a`) in a folder it
//! searches first.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in [
        "CUDA_HOME",
        "CUDA_PATH",
        "CUDA_ROOT",
        "CUDA_TOOLKIT_ROOT_DIR",
        "PATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let Some(static_runtime) = find_static_runtime() else {
        panic!(
            "the CUDA build needs the CUDA runtime's static library, libcudart_static.a, and \
             found none under $CUDA_HOME or beside nvcc; build with tools/gpu/cuda-build.sh, \
             which installs the toolkit from PyPI, or point CUDA_HOME at a CUDA 13 toolkit"
        );
    };
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let link_dir = out_dir.join("cudart-static");
    std::fs::create_dir_all(&link_dir).expect("creating the link folder in OUT_DIR");
    let target = link_dir.join("libcudart.a");
    let _ = std::fs::remove_file(&target);
    std::fs::copy(&static_runtime, &target).unwrap_or_else(|e| {
        panic!(
            "copying {} into {}: {e}",
            static_runtime.display(),
            target.display()
        )
    });
    println!("cargo:rerun-if-changed={}", static_runtime.display());
    println!("cargo:rustc-link-search=native={}", link_dir.display());
}

/// The toolkit roots to look in: the usual variables, else the folder above `nvcc`'s.
fn toolkit_roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = [
        "CUDA_HOME",
        "CUDA_PATH",
        "CUDA_ROOT",
        "CUDA_TOOLKIT_ROOT_DIR",
    ]
    .iter()
    .filter_map(env::var_os)
    .map(PathBuf::from)
    .collect();
    if let Some(path) = env::var_os("PATH") {
        for dir in env::split_paths(&path) {
            let nvcc = dir.join("nvcc");
            if nvcc.is_file() {
                let real = nvcc.canonicalize().unwrap_or(nvcc);
                if let Some(root) = real.parent().and_then(Path::parent) {
                    roots.push(root.to_path_buf());
                }
            }
        }
    }
    roots.push(PathBuf::from("/usr/local/cuda"));
    roots
}

fn find_static_runtime() -> Option<PathBuf> {
    const LIB_DIRS: [&str; 4] = ["lib64", "lib", "targets/x86_64-linux/lib", "lib/x64"];
    toolkit_roots().into_iter().find_map(|root| {
        LIB_DIRS
            .iter()
            .map(|dir| root.join(dir).join("libcudart_static.a"))
            .find(|candidate| candidate.is_file())
    })
}

//! The fused CPU attention against candle's matmul → softmax → matmul and against PyTorch's
//! `scaled_dot_product_attention`, in the same run with the same threads, on the shapes the
//! models use. Run with `cargo bench -p bgm-models --bench attention`. PyTorch needs
//! `$BGM_PARITY_PYTHON`, else /work/venv-parity/bin/python; without it that column is "not run".

#[path = "bench_common/mod.rs"]
mod bench_common;

use bench_common::{median_time, python};
use std::path::Path;
use std::process::Command;

use bgm_models::kernels::attention::{scaled_dot_product_attention, unfused};
use candle_core::{Device, Tensor};

const RUNS: usize = 5;

/// (what, batch × heads, queries, keys, depth)
const SHAPES: [(&str, usize, usize, usize, usize); 5] = [
    ("UNet 64² self, batch 2", 16, 4096, 4096, 40),
    ("UNet 64² cross, batch 2", 16, 4096, 77, 40),
    ("UNet 32² self, batch 2", 16, 1024, 1024, 80),
    ("VAE mid-block", 1, 4096, 4096, 512),
    ("Whisper encoder", 8, 1500, 1500, 64),
];

fn time(f: impl FnMut()) -> f64 {
    median_time(RUNS, f)
}

fn spec(batch: usize, queries: usize, keys: usize, depth: usize) -> String {
    format!("{batch},{queries},{keys},{depth}")
}

fn torch_seconds() -> Option<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/bench/sdpa_torch.py");
    let threads = rayon::current_num_threads().to_string();
    let out = Command::new(python()?)
        .arg(script)
        .arg(RUNS.to_string())
        .arg(threads)
        .args(SHAPES.iter().map(|&(_, b, q, k, d)| spec(b, q, k, d)))
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "PyTorch run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn main() {
    // As the app does (bgm_studio::cli::main).
    bgm_models::heap::reuse_large_allocations();
    let torch = torch_seconds();
    println!(
        "attention on the CPU, {} threads, medians of {RUNS}:",
        rayon::current_num_threads()
    );
    println!(
        "{:<26} {:>9} {:>9} {:>9} {:>13} {:>13}",
        "shape", "fused", "candle", "PyTorch", "fused/candle", "fused/PyTorch"
    );
    let dev = Device::Cpu;
    for (what, batch, queries, keys, depth) in SHAPES {
        let q = Tensor::randn(0f32, 1.0, (batch, queries, depth), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (batch, keys, depth), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (batch, keys, depth), &dev).unwrap();
        let scale = (depth as f64).powf(-0.5);
        let fused = time(|| {
            scaled_dot_product_attention(&q, &k, &v, scale).unwrap();
        });
        let candle = time(|| {
            unfused(&q, &k, &v, scale).unwrap();
        });
        let reference = torch
            .as_ref()
            .and_then(|t| t.get(spec(batch, queries, keys, depth))?.as_f64());
        let (torch_column, torch_ratio) = match reference {
            Some(s) => (format!("{s:.4}"), format!("{:.2}x", fused / s)),
            None => ("not run".into(), "-".into()),
        };
        println!(
            "{what:<26} {fused:>9.4} {candle:>9.4} {torch_column:>9} {:>13} {torch_ratio:>13}",
            format!("{:.2}x", fused / candle)
        );
    }
}

//! What the benches comparing against a Python reference share.
#![allow(dead_code)] // each bench uses its own part

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// This process's peak resident memory so far (Linux), MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Starts a new peak: the kernel sets VmHWM back to the current resident size (Linux 4.0+).
pub fn reset_peak_rss() {
    // Where /proc cannot be written, the figure stays the peak of the whole process so far.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs the reference script `tools/parity/<script>` with `args` and returns the `key=value`
/// lines it prints. Without a Python, or when it fails (which it says on stderr), nothing.
pub fn reference_values(script: &str, args: &[OsString]) -> HashMap<String, f64> {
    let Some(python) = python() else {
        eprintln!("no reference Python; set BGM_PARITY_PYTHON");
        return HashMap::new();
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/parity")
        .join(script);
    match Command::new(python).arg(&script).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
            .collect(),
        Ok(o) => {
            eprintln!(
                "the reference {} failed: {}",
                script.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            HashMap::new()
        }
        Err(e) => {
            eprintln!("could not run the reference {}: {e}", script.display());
            HashMap::new()
        }
    }
}

/// The reference's Python: `$BGM_PARITY_PYTHON`, else /work/venv-parity/bin/python if present.
pub fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BGM_PARITY_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let default = Path::new("/work/venv-parity/bin/python");
    default.exists().then(|| default.to_path_buf())
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `f` `runs` times after one warm-up; the median in seconds.
pub fn median_time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

//! What the benches comparing against a Python reference share.
#![allow(dead_code)] // each bench uses its own part

use std::path::{Path, PathBuf};
use std::time::Instant;

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

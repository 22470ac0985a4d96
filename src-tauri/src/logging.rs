//! Logging with `tracing`: to stderr for the command line, and to a log file for the app.

use std::path::Path;

use tracing_subscriber::{fmt, EnvFilter};

/// Logs warnings (or `RUST_LOG`) to stderr; used by the command line.
pub fn init_stderr() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Logs info (or `RUST_LOG`) to `<dir>/bgm-studio.log`; used by the window, which has no
/// terminal. Falls back to stderr if the folder cannot be created.
pub fn init_file(dir: &Path) {
    let file = std::fs::create_dir_all(dir).and_then(|_| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("bgm-studio.log"))
    });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match file {
        Ok(file) => {
            let _ = fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init();
        }
        Err(_) => init_stderr(),
    }
}

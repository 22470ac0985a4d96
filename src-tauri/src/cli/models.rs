//! `models list`, `models download` and `models path`.

use std::path::PathBuf;
use std::sync::Mutex;

use bgm_models::task::CancelToken;
use bgm_models::weights::{
    catalogue_status, download_model, find_model, model_path, DownloadStage, DownloadUpdate,
    ModelState, WeightsConfig,
};
use clap::Subcommand;

use super::{print_json, progress};
use crate::sync::LockRecovering;
use crate::units::human_bytes;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Each model of the catalogue: state (missing, partial, ready), size and folder.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Download models into the Hugging Face cache, or models published at their own URLs
    /// (htdemucs) into `bgm-urls` beside it (resumes interrupted downloads; BGM_URL_MIRROR
    /// fetches those from a mirror).
    Download {
        /// Names from `models list`, e.g. whisper-base emotion riffusion.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Print the folder a model is loaded from.
    Path { name: String },
    /// Save a Hugging Face token for gated models (Stable Audio), read from standard input
    /// (so it stays out of the shell history); the file is readable by you alone. Accept the
    /// model's licence on its Hub page with the same account first.
    Token {
        /// Forget the saved token instead.
        #[arg(long)]
        clear: bool,
    },
}

/// `models token`: reads one line from stdin and saves it, or clears the saved token.
fn save_token(clear: bool, studio: &mut crate::studio::Studio) -> anyhow::Result<()> {
    use anyhow::Context;
    if clear {
        studio
            .save_hub_token(None)
            .context("forgetting the token")?;
        println!("the saved Hugging Face token is forgotten");
        return Ok(());
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the token from standard input")?;
    let token = bgm_models::weights::HubToken::new(&line)
        .context("no token on standard input: pipe it in, e.g. `bgm-studio models token < file`")?;
    let path = studio.paths().hub_token_file();
    studio
        .save_hub_token(Some(token))
        .with_context(|| format!("saving the token to {}", path.display()))?;
    println!("token saved to {} (readable by you alone)", path.display());
    Ok(())
}

/// Where models come from: `--models-dir` wins over `BGM_MODELS_DIR` (`<dir>/<org>/<repo>/` for
/// hub models, `<dir>/<name>/` for URL-hosted ones such as `htdemucs`); `--offline` or
/// `HF_HUB_OFFLINE=1` keeps everything off the network.
pub(super) fn weights_config(models_dir: Option<PathBuf>, offline: bool) -> WeightsConfig {
    let mut config = WeightsConfig::from_env();
    if models_dir.is_some() {
        config.models_dir = models_dir;
    }
    config.offline |= offline;
    config
}

pub(super) fn run(
    command: ModelsCommand,
    studio: &mut crate::studio::Studio,
) -> anyhow::Result<()> {
    let config = &studio.weights().clone();
    match command {
        ModelsCommand::List { json } => list(config, json),
        ModelsCommand::Download { names } => {
            for name in names {
                let folder = download(&name, config)?;
                println!("{name}: ready in {}", folder.display());
            }
            Ok(())
        }
        ModelsCommand::Path { name } => {
            println!("{}", model_path(&name, config)?.display());
            Ok(())
        }
        ModelsCommand::Token { clear } => save_token(clear, studio),
    }
}

fn list(config: &WeightsConfig, json: bool) -> anyhow::Result<()> {
    let statuses = catalogue_status(config);
    if json {
        return print_json(&statuses);
    }
    let width = statuses.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for status in &statuses {
        let state = match status.state {
            ModelState::Ready => "ready",
            ModelState::Partial => "partial",
            ModelState::Missing => "missing",
        };
        println!(
            "{:width$}  {state:7}  {:>9} / {:>9}  {}",
            status.name,
            human_bytes(status.bytes_on_disk),
            human_bytes(status.expected_bytes),
            status.path.display(),
        );
    }
    Ok(())
}

/// Downloads one model with a progress bar; returns the folder it is ready in.
pub(super) fn download(name: &str, config: &WeightsConfig) -> anyhow::Result<PathBuf> {
    let entry = find_model(name)?;
    let bar = progress::bar("downloading");
    let current_file = Mutex::new(String::new());
    let on_update = move |update: &DownloadUpdate| {
        if let Some(permille) = (update.done * 1000).checked_div(update.total) {
            bar.set_position(permille);
        }
        let mut file = current_file.lock_recovering();
        if update.stage == DownloadStage::Transferring && *file != update.file {
            bar.set_message(format!("{} {}", update.model, update.file));
            *file = update.file.clone();
        }
        if update.stage == DownloadStage::Finished && update.done == update.total {
            bar.finish_and_clear();
        }
    };
    Ok(download_model(&entry, config, on_update, &CancelToken::new())?.root)
}

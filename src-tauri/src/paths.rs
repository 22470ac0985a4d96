//! Where the app keeps its files: the data folder (jobs, logs) and the config folder
//! (settings). One place decides, so the window, the command line and the tests agree.

use std::path::{Path, PathBuf};

/// The app's folders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppPaths {
    data: PathBuf,
    config: PathBuf,
}

impl AppPaths {
    /// `BGM_DATA_DIR` (with the config beside the data, in `config/`), else the platform's
    /// standard places.
    pub fn from_env() -> Self {
        if let Some(dir) = std::env::var_os("BGM_DATA_DIR") {
            return Self::in_one_folder(PathBuf::from(dir));
        }
        match directories::ProjectDirs::from("studio", "BGM Studio", "BGM Studio") {
            Some(dirs) => Self {
                data: dirs.data_dir().to_path_buf(),
                config: dirs.config_dir().to_path_buf(),
            },
            // No home folder (a bare service account): beside where the app was started.
            None => Self {
                data: PathBuf::from("bgm-studio-data"),
                config: PathBuf::from("bgm-studio-config"),
            },
        }
    }

    /// Data in `dir`, settings in `dir/config`: what `BGM_DATA_DIR` selects.
    pub fn in_one_folder(dir: PathBuf) -> Self {
        Self {
            config: dir.join("config"),
            data: dir,
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    pub fn config_dir(&self) -> &Path {
        &self.config
    }

    pub fn jobs_dir(&self) -> PathBuf {
        self.data.join("jobs")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data.join("logs")
    }

    pub fn settings_file(&self) -> PathBuf {
        self.config.join("settings.json")
    }

    /// The Hugging Face token the user saved (see `hub_token`).
    pub fn hub_token_file(&self) -> PathBuf {
        self.config.join("hub-token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_folder_holds_data_and_config() {
        let paths = AppPaths::in_one_folder(PathBuf::from("/tmp/bgm"));
        assert_eq!(paths.jobs_dir(), Path::new("/tmp/bgm/jobs"));
        assert_eq!(paths.log_dir(), Path::new("/tmp/bgm/logs"));
        assert_eq!(
            paths.settings_file(),
            Path::new("/tmp/bgm/config/settings.json")
        );
    }
}

//! Where each stage writes inside a job folder.

use std::path::{Path, PathBuf};

use bgm_models::plan::CANDIDATES;

/// The paths of a job's stage outputs.
#[derive(Clone, Debug)]
pub struct JobFiles {
    pub dir: PathBuf,
}

impl JobFiles {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// 16 kHz mono, Whisper's input.
    pub fn speech_audio(&self) -> PathBuf {
        self.dir.join("audio/speech16k.wav")
    }

    /// The video's own sound at the mix format (44.1 kHz stereo); absent for silent videos.
    pub fn original_audio(&self) -> PathBuf {
        self.dir.join("audio/original.wav")
    }

    pub fn transcript(&self) -> PathBuf {
        self.dir.join("transcript.json")
    }

    pub fn timeline(&self) -> PathBuf {
        self.dir.join("timeline.json")
    }

    pub fn plan(&self) -> PathBuf {
        self.dir.join("plan.json")
    }

    pub fn candidate_dir(&self, n: usize) -> PathBuf {
        self.dir.join("candidates").join(n.to_string())
    }

    pub fn music(&self, n: usize) -> PathBuf {
        self.candidate_dir(n).join("music.wav")
    }

    pub fn spectrogram(&self, n: usize) -> PathBuf {
        self.candidate_dir(n).join("spectrogram.png")
    }

    pub fn mix(&self, n: usize) -> PathBuf {
        self.candidate_dir(n).join("mix.wav")
    }

    pub fn preview(&self, n: usize) -> PathBuf {
        self.candidate_dir(n).join("preview.png")
    }

    pub fn loudness(&self) -> PathBuf {
        self.dir.join("candidates/loudness.json")
    }

    /// How long the last generation's denoising steps took (for the CPU warning).
    pub fn diffusion_timing(&self) -> PathBuf {
        self.dir.join("candidates/diffusion.json")
    }

    /// Every candidate's file `f(n)`.
    pub fn each_candidate(&self, f: impl Fn(&Self, usize) -> PathBuf) -> Vec<PathBuf> {
        (0..CANDIDATES).map(|n| f(self, n)).collect()
    }
}

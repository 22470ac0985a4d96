//! Where each stage writes inside a job folder, and the typed loads and saves of its JSON
//! files (every save atomic, every error naming the file).

use std::path::{Path, PathBuf};

use bgm_models::emotion::EmotionReport;
use bgm_models::plan::{MusicPlan, CANDIDATES};
use bgm_models::stt::SpeechTranscript;
use serde::{de::DeserializeOwned, Serialize};

use super::error::{PipelineError, Result};
use super::generate::DiffusionTiming;
use super::mix_stage::MixReport;
use crate::atomic_file::{write_atomic, write_json_atomic};
use crate::media::Cut;

/// The paths of a job's stage outputs.
#[derive(Clone, Debug)]
pub struct JobFiles {
    pub dir: PathBuf,
}

/// The folder of a candidate's clip images.
pub const CLIPS: &str = "clips";

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

    /// The speech (vocals) stem of the original sound, at the mix format.
    pub fn speech_stem(&self) -> PathBuf {
        self.dir.join("stems/speech.wav")
    }

    /// Everything else in the original sound: music, room tone, noise.
    pub fn background_stem(&self) -> PathBuf {
        self.dir.join("stems/background.wav")
    }

    pub fn transcript(&self) -> PathBuf {
        self.dir.join("transcript.json")
    }

    pub fn timeline(&self) -> PathBuf {
        self.dir.join("timeline.json")
    }

    pub fn cuts(&self) -> PathBuf {
        self.dir.join("cuts.json")
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

    /// Clip `k` of candidate `n`'s music, as the spectrogram image Riffusion made.
    pub fn clip_image(&self, n: usize, k: usize) -> PathBuf {
        self.candidate_dir(n)
            .join(CLIPS)
            .join(format!("{k:04}.png"))
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

    pub fn load_transcript(&self) -> Result<SpeechTranscript> {
        load_json(&self.transcript())
    }

    pub fn save_transcript(&self, transcript: &SpeechTranscript) -> Result<()> {
        save_json(&self.transcript(), transcript)
    }

    pub fn load_timeline(&self) -> Result<EmotionReport> {
        load_json(&self.timeline())
    }

    pub fn save_timeline(&self, report: &EmotionReport) -> Result<()> {
        save_json(&self.timeline(), report)
    }

    pub fn load_cuts(&self) -> Result<Vec<Cut>> {
        load_json(&self.cuts())
    }

    pub fn save_cuts(&self, cuts: &[Cut]) -> Result<()> {
        save_json(&self.cuts(), &cuts)
    }

    /// The plan as the user left it, validated.
    pub fn load_plan(&self) -> Result<MusicPlan> {
        let path = self.plan();
        let text = std::fs::read_to_string(&path).map_err(|e| PipelineError::file(&path, e))?;
        MusicPlan::from_json(&text).map_err(|e| PipelineError::file(&path, e))
    }

    /// Writes `plan.json` (the plan stage, regenerations and the user's edits).
    pub fn save_plan(&self, plan: &MusicPlan) -> Result<()> {
        let json = plan.to_json()?;
        let path = self.plan();
        write_atomic(&path, json.as_bytes()).map_err(|e| PipelineError::file(&path, e))
    }

    pub fn load_loudness(&self) -> Result<MixReport> {
        load_json(&self.loudness())
    }

    pub fn save_loudness(&self, report: &MixReport) -> Result<()> {
        save_json(&self.loudness(), report)
    }

    pub fn load_diffusion_timing(&self) -> Result<DiffusionTiming> {
        load_json(&self.diffusion_timing())
    }

    pub fn save_diffusion_timing(&self, timing: &DiffusionTiming) -> Result<()> {
        save_json(&self.diffusion_timing(), timing)
    }
}

fn load_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| PipelineError::file(path, e))?;
    serde_json::from_str(&text).map_err(|e| PipelineError::file(path, e))
}

fn save_json(path: &Path, value: &impl Serialize) -> Result<()> {
    write_json_atomic(path, value).map_err(|e| PipelineError::file(path, e))
}

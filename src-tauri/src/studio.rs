//! The app's core, shared by the window and the command line: the folders, the job store, the
//! user's settings (with a front end's one-run overrides) and the pipeline they configure.
//! Every job operation goes through here, under the job's cross-process lock, so the window
//! and the command line see the same settings and never process one job at once.

use bgm_models::device::{ComputeDevice, DeviceError, DevicePreference};
use bgm_models::plan::{MusicPlan, PlanError};
use bgm_models::task::{CancelToken, Progress};
use bgm_models::weights::{missing_models, HubToken, MissingModel, WeightsConfig};

use crate::jobs::{JobError, JobId, JobManifest, JobStore, StageName};
use crate::media::MuxReport;
use crate::paths::AppPaths;
use crate::pipeline::disk_space;
use crate::pipeline::mix::OriginalAudio;
use crate::pipeline::EngineChoice;
use crate::pipeline::{
    export_candidate, stage_models, ExportRequest, JobFiles, Pipeline, PipelineConfig,
    PipelineError, StageProgress,
};
use crate::settings::Settings;

/// What one invocation changes for itself only (command-line flags); the saved settings stay.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub device: Option<DevicePreference>,
    pub steps: Option<u32>,
    pub original_audio: Option<OriginalAudio>,
    pub engine: Option<EngineChoice>,
}

pub struct Studio {
    paths: AppPaths,
    store: JobStore,
    settings: Settings,
    weights: WeightsConfig,
    device_flag: Option<DevicePreference>,
}

impl Studio {
    /// The studio in `paths`, with the settings saved there.
    pub fn new(paths: AppPaths, mut weights: WeightsConfig) -> Self {
        let settings = Settings::load_from(&paths.settings_file());
        if weights.token.is_none() {
            weights.token = crate::hub_token::load(&paths.hub_token_file());
        }
        Self {
            store: JobStore::in_data_dir(paths.data_dir()),
            paths,
            settings,
            weights,
            device_flag: None,
        }
    }

    /// The user's studio: `BGM_DATA_DIR` or the platform's folders, models as the environment
    /// says (`BGM_MODELS_DIR`, `HF_HOME`, `HF_HUB_OFFLINE`).
    pub fn from_env() -> Self {
        Self::new(AppPaths::from_env(), WeightsConfig::from_env())
    }

    /// Applies one invocation's overrides over the saved settings.
    pub fn with_overrides(mut self, overrides: Overrides) -> Self {
        if overrides.device.is_some() {
            self.device_flag = overrides.device;
        }
        if overrides.steps.is_some() {
            self.settings.steps = overrides.steps;
        }
        if let Some(original_audio) = overrides.original_audio {
            self.settings.original_audio = original_audio;
        }
        if let Some(engine) = overrides.engine {
            self.settings.engine = engine;
        }
        self
    }

    pub fn paths(&self) -> &AppPaths {
        &self.paths
    }

    pub fn store(&self) -> &JobStore {
        &self.store
    }

    /// The settings in effect: the saved ones with this invocation's overrides.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn weights(&self) -> &WeightsConfig {
        &self.weights
    }

    /// Saves `settings` for every later run (and uses them in this studio from now on).
    pub fn save_settings(&mut self, settings: Settings) -> std::io::Result<()> {
        settings.save_to(&self.paths.settings_file())?;
        self.settings = settings;
        Ok(())
    }

    /// Saves the user's Hugging Face token (owner-only), or forgets it with `None`; downloads
    /// from now on carry it.
    pub fn save_hub_token(&mut self, token: Option<HubToken>) -> std::io::Result<()> {
        let path = self.paths.hub_token_file();
        match &token {
            Some(token) => crate::hub_token::save(&path, token)?,
            None => crate::hub_token::clear(&path)?,
        }
        self.weights.token = token;
        Ok(())
    }

    /// Whether the app has a token of its own saved.
    pub fn has_hub_token(&self) -> bool {
        crate::hub_token::load(&self.paths.hub_token_file()).is_some()
    }

    /// The device the model stages use: the flag, else `BGM_DEVICE`, else the setting.
    pub fn device_preference(&self) -> Result<DevicePreference, DeviceError> {
        crate::settings::device_preference(self.device_flag, &self.settings)
    }

    pub fn open_device(&self) -> Result<ComputeDevice, DeviceError> {
        ComputeDevice::open(self.device_preference()?)
    }

    /// The pipeline's configuration on `device`, with the settings applied.
    pub fn config_on(&self, device: ComputeDevice) -> PipelineConfig {
        let mut config = PipelineConfig::new(self.weights.clone(), device);
        self.settings.apply_to(&mut config);
        config
    }

    /// The pipeline's configuration on the chosen device.
    pub fn pipeline_config(&self) -> Result<PipelineConfig, DeviceError> {
        Ok(self.config_on(self.open_device()?))
    }

    /// A new job for `video` (probed first: bad input is refused before any folder exists).
    pub fn open_video(&self, video: &std::path::Path) -> Result<JobManifest, JobError> {
        self.store.create(video)
    }

    /// Runs every stage of the job that is not up to date.
    pub fn run(
        &self,
        id: JobId,
        observer: &mut (dyn FnMut(&StageProgress) + Send),
        cancel: &CancelToken,
    ) -> Result<JobManifest, PipelineError> {
        let _lock = self.store.lock(id)?;
        self.require_models(id, false)?;
        self.require_disk_space(id, false)?;
        let config = self.pipeline_config()?;
        Pipeline::new(&self.store, &config).run(id, StageName::Mix, observer, cancel)
    }

    /// New music for one candidate (in one section, or all of them); the others stay.
    pub fn regenerate(
        &self,
        id: JobId,
        candidate: usize,
        section: Option<usize>,
        observer: &mut (dyn FnMut(&StageProgress) + Send),
        cancel: &CancelToken,
    ) -> Result<JobManifest, PipelineError> {
        let _lock = self.store.lock(id)?;
        self.require_models(id, true)?;
        self.require_disk_space(id, true)?;
        let config = self.pipeline_config()?;
        Pipeline::new(&self.store, &config).regenerate(id, candidate, section, observer, cancel)
    }

    /// The models the job's next run (or regeneration) loads that are not downloaded yet.
    pub fn missing_models(
        &self,
        id: JobId,
        regenerating: bool,
    ) -> Result<Vec<MissingModel>, PipelineError> {
        let (stages, config) = self.stages_to_run(id, regenerating)?;
        let mut names: Vec<String> = Vec::new();
        for name in stages.iter().flat_map(|&s| stage_models(s, &config)) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(missing_models(&names, &self.weights)?)
    }

    /// The stages a run (or a regeneration) of the job computes, in order, and the
    /// configuration it runs them with. New music for one candidate comes from the engine that
    /// made the others, whatever the setting, and is mixed again.
    fn stages_to_run(
        &self,
        id: JobId,
        regenerating: bool,
    ) -> Result<(Vec<StageName>, PipelineConfig), PipelineError> {
        let mut config = self.config_on(ComputeDevice::cpu());
        let pipeline = Pipeline::new(&self.store, &config);
        let mut stages = pipeline.stale_stages(id)?;
        if regenerating {
            if let Some(engine) = pipeline.engine_of_made_music(id)? {
                config.engine = engine;
            }
            for stage in [StageName::Generate, StageName::Mix] {
                if !stages.contains(&stage) {
                    stages.push(stage);
                }
            }
        }
        Ok((stages, config))
    }

    /// Refuses to start when the job's disk has less free space than the run will write
    /// (regenerating counts the music and the mixes), before any stage runs.
    fn require_disk_space(&self, id: JobId, regenerating: bool) -> Result<(), PipelineError> {
        let (stages, config) = self.stages_to_run(id, regenerating)?;
        let dir = self.store.dir(id);
        let seconds = self.store.load(id)?.media.duration_seconds;
        let needed =
            disk_space::space_needed(&stages, seconds, config.engine, &JobFiles::new(&dir));
        disk_space::require_free_space(&dir, needed)
    }

    /// Refuses to start when a model is missing, before any stage runs: the user gets one
    /// list of what to download instead of a failure halfway through.
    fn require_models(&self, id: JobId, regenerating: bool) -> Result<(), PipelineError> {
        let missing = self.missing_models(id, regenerating)?;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(PipelineError::ModelsMissing(missing))
        }
    }

    /// The stages a run would compute now (not up to date with the settings in effect).
    pub fn stale_stages(&self, id: JobId) -> Result<Vec<StageName>, PipelineError> {
        // No model runs here, so no device is opened.
        let config = self.config_on(ComputeDevice::cpu());
        Pipeline::new(&self.store, &config).stale_stages(id)
    }

    /// Writes the job's video with one candidate's mix, re-mixing first when the mix settings
    /// changed since (the only case in which a model may run and a device is opened).
    pub fn export(
        &self,
        request: &ExportRequest,
        progress: &mut dyn Progress,
        cancel: &CancelToken,
    ) -> Result<MuxReport, PipelineError> {
        let _lock = self.store.lock(request.job)?;
        let mut config = self.config_on(ComputeDevice::cpu());
        // Mixes made with other mix settings (another original-sound mode, say) are made again
        // first, separating the speech if the mode needs it: the file then has the sound its
        // metadata describes. The music itself is never regenerated here.
        let stale = Pipeline::new(&self.store, &config).stale_stages(request.job)?;
        let remix_only = stale
            .iter()
            .all(|s| matches!(s, StageName::Separate | StageName::Mix));
        if stale.contains(&StageName::Mix) && remix_only {
            self.require_models(request.job, false)?;
            config = self.pipeline_config()?;
            Pipeline::new(&self.store, &config).run(
                request.job,
                StageName::Mix,
                &mut |_| {},
                cancel,
            )?;
        }
        export_candidate(&self.store, request, &config, progress, cancel)
    }

    /// Changes the job's plan (an emotion, a prompt); generate and mix follow on the next run.
    pub fn edit_plan(
        &self,
        id: JobId,
        edit: impl FnOnce(&mut MusicPlan) -> Result<(), PlanError>,
    ) -> Result<(), PipelineError> {
        let _lock = self.store.lock(id)?;
        let files = JobFiles::new(&self.store.dir(id));
        if !files.plan().exists() {
            return Err(PipelineError::PlanNotMade);
        }
        let mut plan = files.load_plan()?;
        edit(&mut plan)?;
        files.save_plan(&plan)
    }

    /// Deletes a job and everything it produced; refused while it is being processed.
    pub fn delete_job(&self, id: JobId) -> Result<(), JobError> {
        self.store.delete(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_saved_settings_for_one_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::in_one_folder(dir.path().to_path_buf());
        let saved = Settings {
            steps: Some(30),
            whisper_model: "whisper-small".into(),
            ..Settings::default()
        };
        saved.save_to(&paths.settings_file()).unwrap();
        let studio = Studio::new(paths.clone(), WeightsConfig::default());
        assert_eq!(studio.settings(), &saved);
        let config = studio.config_on(ComputeDevice::cpu());
        assert_eq!(config.steps, Some(30));
        assert_eq!(config.whisper_model, "whisper-small");

        let studio = studio.with_overrides(Overrides {
            steps: Some(2),
            ..Overrides::default()
        });
        assert_eq!(studio.config_on(ComputeDevice::cpu()).steps, Some(2));
        assert_eq!(Settings::load_from(&paths.settings_file()), saved);
    }
}

//! The staged runner: decode → separate → transcribe → emotions → cuts → plan → generate →
//! mix, for one job. Separation runs only when a mix keeps the speech alone; otherwise it is
//! recorded as skipped.
//!
//! Each stage records in `job.json` the fingerprint of everything its output depends on. A
//! stage that is done, whose fingerprint is unchanged and whose outputs exist is skipped, so a
//! killed, cancelled or failed job resumes where it stopped, and editing `plan.json` re-runs
//! only generate and mix. The caller runs this on a dedicated thread: it blocks.

use std::path::PathBuf;
use std::time::Instant;

use bgm_models::task::CancelToken;
use serde::Serialize;

use super::error::{PipelineError, Result};
use super::files::JobFiles;
use super::fingerprint::Fingerprint;
use super::generate::MusicEngineKind;
use super::mix::OriginalAudio;
use super::stages::{self, PipelineConfig};
use crate::jobs::{JobId, JobManifest, JobStore, StageName, StageState};

/// Bumped when a stage's output format or algorithm changes, so old outputs are redone.
const STAGES_VERSION: &str = "1";

/// A progress event of a running job.
#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StageProgress {
    pub job: String,
    pub stage: StageName,
    /// 0..=1 of this stage.
    pub fraction: f64,
    pub message: String,
    /// Seconds this stage still needs, from its rate so far.
    pub eta_seconds: Option<f64>,
}

pub struct Pipeline<'a> {
    store: &'a JobStore,
    config: &'a PipelineConfig,
}

impl<'a> Pipeline<'a> {
    pub fn new(store: &'a JobStore, config: &'a PipelineConfig) -> Self {
        Self { store, config }
    }

    /// Runs every stage that is not up to date, up to and including `last`.
    pub fn run(
        &self,
        id: JobId,
        last: StageName,
        observer: &mut (dyn FnMut(&StageProgress) + Send),
        cancel: &CancelToken,
    ) -> Result<JobManifest> {
        let mut job = self.store.load(id)?;
        let files = JobFiles::new(&self.store.dir(id));
        let mut done = Fingerprints::new();
        for stage in StageName::ALL.into_iter().filter(|&s| s <= last) {
            let fingerprint = self.fingerprint(stage, &job, &files, &done)?;
            if !is_needed(stage, self.config) {
                self.skip(&mut job, stage, &fingerprint)?;
                observer(&StageProgress {
                    job: id.to_string(),
                    stage,
                    fraction: 1.0,
                    message: "not needed".to_string(),
                    eta_seconds: Some(0.0),
                });
                done.insert(stage, fingerprint);
                continue;
            }
            let up_to_date = is_up_to_date(stage, &job, &files, &fingerprint);
            let mut event = |fraction: f64, message: &str, eta_seconds: Option<f64>| {
                observer(&StageProgress {
                    job: id.to_string(),
                    stage,
                    fraction,
                    message: message.to_string(),
                    eta_seconds,
                })
            };
            if up_to_date {
                event(1.0, "up to date", Some(0.0));
                done.insert(stage, fingerprint);
                continue;
            }
            if cancel.is_cancelled() {
                return Err(PipelineError::Cancelled);
            }
            let started = Instant::now();
            self.update(&mut job, stage, |r| {
                r.state = StageState::Running;
                r.started_unix = Some(crate::jobs::now_unix());
                r.seconds = None;
                r.error = None;
            })?;
            event(0.0, "started", None);
            let mut report = |fraction: f64| {
                let elapsed = started.elapsed().as_secs_f64();
                let eta = (fraction > 0.02).then(|| elapsed / fraction * (1.0 - fraction));
                event(fraction, "running", eta);
            };
            let result = self.execute(stage, &job, &files, &mut report, cancel);
            // What the stage freed would otherwise stay resident through the next one.
            bgm_models::heap::release_free_memory();
            let seconds = started.elapsed().as_secs_f64();
            match result {
                Ok(()) => {
                    self.update(&mut job, stage, |r| {
                        r.state = StageState::Done;
                        r.fingerprint = Some(fingerprint.clone());
                        r.seconds = Some(seconds);
                    })?;
                    event(1.0, "done", Some(0.0));
                    done.insert(stage, fingerprint);
                }
                Err(e) => {
                    let cancelled = e.is_cancelled() || cancel.is_cancelled();
                    self.update(&mut job, stage, |r| {
                        r.state = if cancelled {
                            StageState::Cancelled
                        } else {
                            StageState::Failed
                        };
                        r.seconds = Some(seconds);
                        r.error = (!cancelled).then(|| e.to_string());
                    })?;
                    return Err(if cancelled {
                        PipelineError::Cancelled
                    } else {
                        e
                    });
                }
            }
        }
        Ok(job)
    }

    /// The stages a run would compute now, in order: those whose output is missing or whose
    /// fingerprint no longer matches the settings and the files upstream. Runs nothing.
    pub fn stale_stages(&self, id: JobId) -> Result<Vec<StageName>> {
        let job = self.store.load(id)?;
        let files = JobFiles::new(&self.store.dir(id));
        let mut done = Fingerprints::new();
        let mut stale = Vec::new();
        let mut unknown = false;
        for stage in StageName::ALL {
            // As in `run`: a changed fingerprint carries on down the chain by itself.
            let fingerprint = match self.fingerprint(stage, &job, &files, &done) {
                Ok(f) => f,
                // An input a stale stage has yet to write (plan.json for generate): it will
                // be new, so everything from here runs.
                Err(_) if !stale.is_empty() => {
                    unknown = true;
                    String::new()
                }
                Err(e) => return Err(e),
            };
            let needed = is_needed(stage, self.config);
            if needed && (unknown || !is_up_to_date(stage, &job, &files, &fingerprint)) {
                stale.push(stage);
            }
            done.insert(stage, fingerprint);
        }
        Ok(stale)
    }

    /// The engine that made the job's music, when all of it is there: the one regenerating a
    /// candidate uses. `None` before the music is made (regenerating then runs generate whole).
    pub fn engine_of_made_music(&self, id: JobId) -> Result<Option<MusicEngineKind>> {
        let job = self.store.load(id)?;
        let files = JobFiles::new(&self.store.dir(id));
        let made = job.stage(StageName::Generate).state == StageState::Done
            && outputs(StageName::Generate, &files)
                .iter()
                .all(|p| p.exists());
        // Without its timing file (it is written with the music), the engine in effect.
        Ok(match made {
            true => Some(
                files
                    .load_diffusion_timing()
                    .map_or(self.config.engine, |timing| timing.engine),
            ),
            false => None,
        })
    }

    /// New music for one candidate (in one section, or all): new seeds for it in the plan,
    /// generate for that candidate alone, then mix. The other candidates' music is kept.
    pub fn regenerate(
        &self,
        id: JobId,
        candidate: usize,
        section: Option<usize>,
        observer: &mut (dyn FnMut(&StageProgress) + Send),
        cancel: &CancelToken,
    ) -> Result<JobManifest> {
        // Everything up to generate must be done (and up to date) first.
        let mut job = self.run(id, StageName::Plan, observer, cancel)?;
        let files = JobFiles::new(&self.store.dir(id));
        let Some(engine) = self.engine_of_made_music(id)? else {
            return self.run(id, StageName::Mix, observer, cancel);
        };
        // The other candidates stay, so the new one comes from the engine that made them.
        if engine != self.config.engine {
            let config = PipelineConfig {
                engine,
                ..self.config.clone()
            };
            let pipeline = Pipeline::new(self.store, &config);
            return pipeline.regenerate(id, candidate, section, observer, cancel);
        }
        super::reseed::reseed_candidate(&files, candidate, section)?;
        let plan = job.stage(StageName::Plan).fingerprint.unwrap_or_default();
        let done = Fingerprints::from([(StageName::Plan, plan)]);
        let fingerprint = self.fingerprint(StageName::Generate, &job, &files, &done)?;
        let started = Instant::now();
        let mut report = |fraction: f64| {
            observer(&StageProgress {
                job: id.to_string(),
                stage: StageName::Generate,
                fraction,
                message: format!("candidate {candidate}"),
                eta_seconds: None,
            })
        };
        super::generate::generate_candidates(
            self.config,
            &files,
            Some(candidate),
            &mut report,
            cancel,
        )?;
        self.update(&mut job, StageName::Generate, |r| {
            r.state = StageState::Done;
            r.fingerprint = Some(fingerprint);
            r.seconds = Some(started.elapsed().as_secs_f64());
        })?;
        self.run(id, StageName::Mix, observer, cancel)
    }

    /// Records a stage the settings do not need as skipped (once).
    fn skip(&self, job: &mut JobManifest, stage: StageName, fingerprint: &str) -> Result<()> {
        let record = job.stage(stage);
        if record.state == StageState::Skipped && record.fingerprint.as_deref() == Some(fingerprint)
        {
            return Ok(());
        }
        self.update(job, stage, |r| {
            *r = crate::jobs::StageRecord {
                state: StageState::Skipped,
                fingerprint: Some(fingerprint.to_string()),
                ..Default::default()
            };
        })
    }

    fn update(
        &self,
        job: &mut JobManifest,
        stage: StageName,
        change: impl FnOnce(&mut crate::jobs::StageRecord),
    ) -> Result<()> {
        change(job.stages.entry(stage).or_default());
        self.store.save(job)?;
        Ok(())
    }

    /// What `stage`'s output depends on: the stage before it, its settings, and for the
    /// stages that read user-editable files, their content.
    fn fingerprint(
        &self,
        stage: StageName,
        job: &JobManifest,
        files: &JobFiles,
        done: &Fingerprints,
    ) -> Result<String> {
        let config = self.config;
        let upstream: Vec<&str> = inputs_of(stage)
            .iter()
            .map(|s| done.get(s).map_or("", String::as_str))
            .collect();
        let mut f = Fingerprint::new(&format!("{stage:?}"));
        f.add("version", STAGES_VERSION.as_bytes())
            .add("upstream", upstream.join("+").as_bytes());
        match stage {
            StageName::Decode => {
                let meta = std::fs::metadata(&job.input)
                    .map_err(|e| PipelineError::file(&job.input, e))?;
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                f.add("input", job.input.as_os_str().as_encoded_bytes())
                    .add_json("size", &meta.len())
                    .add_json("modified", &modified.to_string());
            }
            StageName::Separate => {
                f.add_json("needed", &is_needed(stage, config))
                    .add("model", bgm_models::separation::MODEL_NAME.as_bytes());
            }
            StageName::Transcribe => {
                f.add("model", config.whisper_model.as_bytes());
            }
            StageName::Emotions => {
                f.add_json("timeline", &config.timeline);
            }
            StageName::Cuts => {
                f.add_json("cuts", &config.cuts);
            }
            // Steps are read by generate alone: changing them keeps the plan and its edits.
            StageName::Plan => {
                f.add_json("plan", &config.plan)
                    .add_json("snap", &config.snap_to_cuts_seconds);
            }
            StageName::Generate => {
                let plan = std::fs::read(files.plan())
                    .map_err(|e| PipelineError::file(&files.plan(), e))?;
                f.add("plan.json", &plan)
                    .add_json("steps", &config.steps)
                    .add_json("engine", &config.engine);
            }
            StageName::Mix => {
                f.add_json("mix", &config.mix)
                    .add_json("loudness", &config.loudness);
            }
        }
        Ok(f.finish())
    }

    fn execute(
        &self,
        stage: StageName,
        job: &JobManifest,
        files: &JobFiles,
        progress: &mut dyn bgm_models::task::Progress,
        cancel: &CancelToken,
    ) -> Result<()> {
        let config = self.config;
        match stage {
            StageName::Decode => stages::decode(job, files, progress, cancel),
            StageName::Separate => super::separate::separate(config, files, progress, cancel),
            StageName::Transcribe => stages::transcribe(config, files, progress, cancel),
            StageName::Emotions => stages::emotions(job, config, files, progress, cancel),
            StageName::Cuts => stages::cuts(job, config, files, progress, cancel),
            StageName::Plan => stages::plan(config, files),
            StageName::Generate => super::generate::generate(config, files, progress, cancel),
            StageName::Mix => {
                super::mix_stage::mix_candidates(job, config, files, progress, cancel).map(|_| ())
            }
        }
    }
}

/// The catalogue models a stage loads.
pub fn stage_models(stage: StageName, config: &PipelineConfig) -> Vec<String> {
    match stage {
        StageName::Transcribe => vec![config.whisper_model.clone()],
        StageName::Emotions => vec![bgm_models::emotion::MODEL_NAME.to_string()],
        StageName::Generate => vec![config.engine.model_name().to_string()],
        StageName::Separate if is_needed(stage, config) => {
            vec![bgm_models::separation::MODEL_NAME.to_string()]
        }
        StageName::Decode
        | StageName::Separate
        | StageName::Cuts
        | StageName::Plan
        | StageName::Mix => Vec::new(),
    }
}

/// Whether the settings need `stage` at all: separation only when a mix keeps the speech alone.
fn is_needed(stage: StageName, config: &PipelineConfig) -> bool {
    match stage {
        StageName::Separate => config.mix.original_audio == OriginalAudio::Speech,
        _ => true,
    }
}

/// Fingerprints of the stages computed so far in a run.
type Fingerprints = std::collections::BTreeMap<StageName, String>;

/// The stages whose outputs a stage reads: its fingerprint covers theirs and nothing else
/// upstream, so (say) a new Whisper model never redoes the cuts.
fn inputs_of(stage: StageName) -> &'static [StageName] {
    match stage {
        StageName::Decode => &[],
        StageName::Separate | StageName::Transcribe | StageName::Cuts => &[StageName::Decode],
        StageName::Emotions => &[StageName::Transcribe],
        StageName::Plan => &[StageName::Emotions, StageName::Cuts],
        StageName::Generate => &[StageName::Plan],
        StageName::Mix => &[StageName::Generate, StageName::Separate],
    }
}

/// Done with this fingerprint, and its outputs are still there.
fn is_up_to_date(stage: StageName, job: &JobManifest, files: &JobFiles, fingerprint: &str) -> bool {
    let record = job.stage(stage);
    record.state == StageState::Done
        && record.fingerprint.as_deref() == Some(fingerprint)
        && outputs(stage, files).iter().all(|p| p.exists())
}

/// The files a finished stage leaves.
pub(super) fn outputs(stage: StageName, files: &JobFiles) -> Vec<PathBuf> {
    match stage {
        StageName::Decode => vec![files.speech_audio()],
        // A video without sound has nothing to separate.
        StageName::Separate if files.original_audio().exists() => {
            vec![files.speech_stem(), files.background_stem()]
        }
        StageName::Separate => Vec::new(),
        StageName::Transcribe => vec![files.transcript()],
        StageName::Emotions => vec![files.timeline()],
        StageName::Cuts => vec![files.cuts()],
        StageName::Plan => vec![files.plan()],
        // The clip images are kept beside the music, but the music is what later stages use.
        StageName::Generate => files.each_candidate(JobFiles::music),
        StageName::Mix => {
            let mut paths = files.each_candidate(JobFiles::mix);
            paths.extend(files.each_candidate(JobFiles::preview));
            paths.push(files.loudness());
            paths
        }
    }
}

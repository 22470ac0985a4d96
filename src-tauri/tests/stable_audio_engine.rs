//! Stable Audio as the music engine, on its tiny random model in the published layout: the
//! whole pipeline to an export in each original-sound mode, the engine chosen by default once
//! its weights are there and switchable per run, and the joins between sections measured on
//! the waveform (no click, no dip).

mod common;
#[path = "../../models/tests/stable_audio_common/mod.rs"]
mod stable_audio_common;

use std::path::Path;

use bgm_models::device::ComputeDevice;
use bgm_models::emotion::Emotion;
use bgm_models::plan::{template, MusicPlan, CANDIDATES};
use bgm_models::task::CancelToken;
use bgm_models::weights::{find_model, local_folder};
use bgm_studio::jobs::StageName;
use bgm_studio::media::read_wav;
use bgm_studio::pipeline::{
    disk_space, generate_music, mix::OriginalAudio, JobFiles, MusicEngineKind,
};
use bgm_studio::studio::{Overrides, Studio};
use common::fixture;
use common::sound::{assert_original_sound, export_in_each_mode, mono, similarity, studio};

/// Every word of the plan's prompts (and their tempos), so the tiny tokenizer knows them.
fn prompt_words() -> Vec<String> {
    let mut words = std::collections::BTreeSet::new();
    for emotion in Emotion::ALL {
        let t = template(emotion);
        let prompts = (0..CANDIDATES).map(|k| t.prompt(k));
        for prompt in prompts.chain([t.description()]) {
            words.extend(
                prompt
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .map(str::to_string),
            );
        }
        words.extend(t.bpm.iter().map(u16::to_string));
    }
    words.insert("BPM".into());
    words.into_iter().collect()
}

/// Enough gain in the tiny decoder for its audio to follow the latents (see the writer).
const DECODER_GAIN: f64 = 4.0;

/// The tiny Stable Audio where the app looks for the catalogue's model.
fn install_tiny_stable_audio(models: &Path) {
    let entry = find_model(bgm_models::stable_audio::MODEL_NAME).unwrap();
    stable_audio_common::write_tiny_model_folder(
        &local_folder(models, &entry),
        prompt_words(),
        64,
        DECODER_GAIN,
    );
}

/// A studio on the tiny models, Stable Audio's included.
fn stable_audio_studio(root: &Path, mode: OriginalAudio) -> Studio {
    let studio = studio(root, mode);
    let models = root.join("models");
    if !models.join("stabilityai").exists() {
        install_tiny_stable_audio(&models);
    }
    studio
}

/// The bytes of every file under `dir`.
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            match entry.file_type().unwrap().is_dir() {
                true => folder_bytes(&entry.path()),
                false => entry.metadata().unwrap().len(),
            }
        })
        .sum()
}

/// A stereo WAV's channels.
fn channels(path: &Path) -> (Vec<f32>, Vec<f32>, u32) {
    let audio = read_wav(path).unwrap();
    (audio.channel(0), audio.channel(1), audio.sample_rate)
}

#[test]
fn stable_audio_is_the_default_once_ready_and_each_mode_exports_the_chosen_music() {
    let root = tempfile::tempdir().unwrap();
    let first = stable_audio_studio(root.path(), OriginalAudio::Duck);
    let id = first.open_video(&fixture("speech.mp4")).unwrap().id;
    first.run(id, &mut |_| {}, &CancelToken::new()).unwrap();
    let files = JobFiles::new(&first.store().dir(id));
    let timing = files.load_diffusion_timing().unwrap();
    assert_eq!(timing.engine, MusicEngineKind::StableAudio);
    assert_eq!(timing.batch, CANDIDATES, "four candidates in one batch");
    assert_eq!(timing.model, "stable-audio-3-small (local folder)");

    // What the run wrote is what the disk-space check counts on.
    let seconds = first.store().load(id).unwrap().media.duration_seconds;
    let ran: Vec<_> = StageName::ALL
        .into_iter()
        .filter(|&s| s != StageName::Separate)
        .collect();
    let estimate = disk_space::bytes_written(&ran, seconds, MusicEngineKind::StableAudio);
    let written = folder_bytes(&first.store().dir(id));
    println!("job folder {written} bytes, estimated {estimate}");
    // The audio as estimated; the JSON files, previews and WAV headers beside it are a few
    // tens of kB, well inside the check's margin.
    assert!(
        written <= estimate + (1 << 20) && written as f64 >= 0.95 * estimate as f64,
        "wrote {written} bytes against an estimate of {estimate}"
    );

    let plan = files.load_plan().unwrap();
    let expected = (plan.duration * 44_100.0).round() as usize;
    for n in 0..CANDIDATES {
        let (left, right, rate) = channels(&files.music(n));
        assert_eq!((rate, left.len()), (44_100, expected), "candidate {n}");
        assert!(left.iter().chain(&right).all(|s| s.is_finite()));
        assert!(
            left.iter().any(|s| s.abs() > 1e-3),
            "candidate {n} is silent"
        );
    }
    // The tiny Stable Audio's candidates sound alike at the 8 kHz of the comparison (its
    // random decoder hardly hears the latents), so only the chosen music's presence is checked.
    let modes = [
        OriginalAudio::Duck,
        OriginalAudio::Keep,
        OriginalAudio::Replace,
    ];
    let each = export_in_each_mode(root.path(), id, &modes, |mode| {
        stable_audio_studio(root.path(), mode)
    });
    for measured in each {
        let mode = measured.mode;
        assert!(
            measured.chosen > 0.2,
            "{mode:?}: the chosen music is not in it"
        );
        assert_original_sound(&measured);
    }

    // The export names the engine and the model it was made with.
    let info = bgm_studio::media::probe(&root.path().join("Replace.mp4")).unwrap();
    let provenance = info
        .metadata
        .get(bgm_studio::pipeline::PROVENANCE_TAG)
        .expect("provenance");
    assert!(
        provenance.contains("\"engine\":\"stable-audio\"")
            && provenance.contains("stable-audio-3-small (local folder)"),
        "{provenance}"
    );

    // New music for one candidate comes from the engine that made the others, whatever the
    // engine in effect, and needs only that engine's model; the other candidates stay as
    // they were.
    let riffusion =
        stable_audio_studio(root.path(), OriginalAudio::Duck).with_overrides(Overrides {
            engine: Some(bgm_studio::pipeline::EngineChoice::Riffusion),
            ..Overrides::default()
        });
    let before: Vec<Vec<f32>> = (0..CANDIDATES)
        .map(|n| channels(&files.music(n)).0)
        .collect();
    let riffusion_folder = local_folder(
        &root.path().join("models"),
        &find_model(bgm_models::riffusion::MODEL_NAME).unwrap(),
    );
    let set_aside = root.path().join("riffusion-set-aside");
    std::fs::rename(&riffusion_folder, &set_aside).unwrap();
    riffusion
        .regenerate(id, 1, None, &mut |_| {}, &CancelToken::new())
        .unwrap();
    std::fs::rename(&set_aside, &riffusion_folder).unwrap();
    let timing = files.load_diffusion_timing().unwrap();
    assert_eq!(
        (timing.engine, timing.batch),
        (MusicEngineKind::StableAudio, 1)
    );
    for (n, old) in before.iter().enumerate() {
        let (now, _, _) = channels(&files.music(n));
        assert_eq!(now.len(), old.len());
        assert_eq!(&now == old, n != 1, "candidate {n}");
    }

    // Riffusion for one run: the music is made again by it, and the job says so.
    riffusion.run(id, &mut |_| {}, &CancelToken::new()).unwrap();
    let timing = files.load_diffusion_timing().unwrap();
    assert_eq!(timing.engine, MusicEngineKind::Riffusion);
}

/// A plan of three sections of other emotions over `seconds`, from a job's plan.
fn three_section_plan(plan: &MusicPlan, bounds: [f64; 2], seconds: f64) -> MusicPlan {
    let mut json: serde_json::Value = serde_json::from_str(&plan.to_json().unwrap()).unwrap();
    let first = json["sections"][0].clone();
    let emotions = [Emotion::Joy, Emotion::Sadness, Emotion::Fear];
    let edges = [0.0, bounds[0], bounds[1], seconds];
    let sections: Vec<serde_json::Value> = emotions
        .iter()
        .enumerate()
        .map(|(i, &emotion)| {
            let mut section = first.clone();
            section["start"] = edges[i].into();
            section["end"] = edges[i + 1].into();
            section["emotion"] = serde_json::to_value(emotion).unwrap();
            for k in 0..CANDIDATES {
                section["candidates"][k]["prompt"] = template(emotion).prompt(k).into();
                section["candidates"][k]["seed"] = (100 * i + k).into();
            }
            section
        })
        .collect();
    json["sections"] = sections.into();
    json["duration"] = seconds.into();
    json["transitions"] = bounds
        .iter()
        .map(|&at| serde_json::json!({"at": at, "seconds": 1.0}))
        .collect::<Vec<_>>()
        .into();
    MusicPlan::from_json(&json.to_string()).unwrap()
}

/// RMS of `x` in windows of `width` samples.
fn rms(x: &[f32], width: usize) -> Vec<f64> {
    x.chunks(width)
        .map(|c| (c.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect()
}

#[test]
fn sections_follow_each_other_with_no_click_and_no_dip_at_the_joins() {
    let root = tempfile::tempdir().unwrap();
    let studio = stable_audio_studio(root.path(), OriginalAudio::Duck);
    let id = studio.open_video(&fixture("speech.mp4")).unwrap().id;
    studio.run(id, &mut |_| {}, &CancelToken::new()).unwrap();
    let job_plan = JobFiles::new(&studio.store().dir(id)).load_plan().unwrap();
    let bounds = [4.0, 8.5];
    let plan = three_section_plan(&job_plan, bounds, 12.0);
    let scratch = tempfile::tempdir().unwrap();
    let files = JobFiles::new(scratch.path());
    let config = studio.config_on(ComputeDevice::cpu());
    assert_eq!(config.engine, MusicEngineKind::StableAudio);
    let candidates: Vec<usize> = (0..CANDIDATES).collect();
    generate_music(
        &config,
        &plan,
        &candidates,
        &files,
        &mut |_| {},
        &CancelToken::new(),
    )
    .unwrap();

    // The joins mean something only if the music follows the latents: candidates differ.
    let apart = similarity(&mono(&files.music(0)), &mono(&files.music(1)));
    println!("candidates 0 and 1: similarity {apart:.3}");
    assert!(apart < 0.8, "the tiny decoder does not hear its latents");
    let rate = 44_100.0;
    for n in 0..CANDIDATES {
        let (left, _, _) = channels(&files.music(n));
        assert_eq!(left.len(), 12 * 44_100);
        let steps: Vec<f32> = left.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
        let near = |i: usize| bounds.iter().any(|&b| (i as f64 / rate - b).abs() < 0.1);
        let typical_step = steps
            .iter()
            .enumerate()
            .filter(|(i, _)| !near(*i))
            .map(|(_, s)| *s)
            .fold(0f32, f32::max);
        let window = 441; // 10 ms
        let levels = rms(&left, window);
        for &b in &bounds {
            let at = (b * rate) as usize;
            let join_step = steps[at - 4410..at + 4410]
                .iter()
                .copied()
                .fold(0f32, f32::max);
            // The level around the join against the second either side of it.
            let k = at / window;
            let around = &levels[k - 10..k + 10];
            let mut context: Vec<f64> = levels[k - 100..k + 100].to_vec();
            context.sort_by(f64::total_cmp);
            let median = context[context.len() / 2];
            let lowest = around.iter().copied().fold(f64::INFINITY, f64::min);
            println!(
                "candidate {n}, join at {b} s: largest step {join_step:.4} (elsewhere {typical_step:.4}), \
                 lowest 10 ms level {lowest:.4} against a median {median:.4}"
            );
            assert!(join_step <= 1.5 * typical_step, "a click at {b} s");
            assert!(lowest >= 0.5 * median, "a dip at {b} s");
        }
    }
}

#[test]
fn the_generate_command_makes_stable_audio_music_from_a_prompt() {
    let root = tempfile::tempdir().unwrap();
    let models = root.path().join("models");
    install_tiny_stable_audio(&models);
    let out = root.path().join("out");
    let bgm = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bgm-studio"))
            .env("BGM_DATA_DIR", root.path().join("data"))
            .args(["--offline", "--device", "cpu", "--models-dir"])
            .arg(&models)
            .args(["generate", "--engine", "stable-audio", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let made = bgm(&[
        "--prompt",
        "gentle piano",
        "--seconds",
        "1.5",
        "--candidates",
        "2",
        "--json",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    assert_eq!(report["engine"], "stable-audio");
    assert_eq!(report["candidates"].as_array().unwrap().len(), 2);
    for n in 0..2 {
        let (left, right, rate) = channels(&out.join(format!("candidate-{n}/music.wav")));
        assert_eq!((rate, left.len(), right.len()), (44_100, 66_150, 66_150));
    }
    // Riffusion's own flags are refused by name, and too long a pass is refused.
    let init = bgm(&["--prompt", "x", "--init", "clip.png"]);
    let stderr = String::from_utf8_lossy(&init.stderr);
    assert!(
        !init.status.success() && stderr.contains("--init is Riffusion's"),
        "{stderr}"
    );
    let long = bgm(&["--prompt", "x", "--seconds", "200"]);
    let stderr = String::from_utf8_lossy(&long.stderr);
    assert!(
        !long.status.success() && stderr.contains("at most 120.0"),
        "{stderr}"
    );
}

#[test]
fn models_token_saves_a_token_for_the_owner_alone_and_forgets_it() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let bgm = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bgm-studio"))
            .env("BGM_DATA_DIR", root.path())
            .args(["models", "token"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let file = root.path().join("config/hub-token");
    let saved = bgm(&[], "hf_from_stdin\n");
    let said = String::from_utf8_lossy(&saved.stdout);
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    assert!(
        !said.contains("hf_from_stdin"),
        "the token is not echoed: {said}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hf_from_stdin\n");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let empty = bgm(&[], "\n");
    assert!(!empty.status.success(), "an empty token is refused");
    assert!(file.exists(), "and the saved one kept");
    assert!(bgm(&["--clear"], "").status.success());
    assert!(!file.exists());
}

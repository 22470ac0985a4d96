//! The GPU benchmark's Rust side: the model work BGM Studio does on a GPU, timed on full-size
//! random weights, printed as `key=value` lines that tools/gpu/bench.sh sets beside PyTorch's.
//!
//! `gpu_bench WEIGHTS_DIR [--parts whisper,unet,vae,generate] [--runs N] [--device cuda]`
//! (`--parts load` only loads the models: a quick check of the folders, and their load times),
//! where WEIGHTS_DIR is what `tools/gpu/reference.py weights` wrote (`sd15/`,
//! `whisper-large-v3/`). Built by `tools/gpu/bench.sh build` (release, `--features cuda`).
//!
//! - Whisper large-v3: the encoder on a 30 s window, then 100 decoder steps with the KV cache
//!   (a 3-token prompt, then fixed tokens, so the work does not depend on the random weights);
//!   the real-time factor is 30 s over their sum.
//! - UNet: one noise prediction at 2 rows (one guided candidate) and at 8 (four).
//! - VAE: decoding 1 and 4 latents of a 512×512 image.
//! - generate: four candidates of 60 s of music at the plan's default steps, spectrogram
//!   images to audio included, as the pipeline's generate stage does it.
//! - Peak GPU memory per part, from the driver's free-memory count sampled every 5 ms.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bgm_models::device::{gpu_memory, ComputeDevice, DevicePreference};
use bgm_models::emotion::{Emotion, Section, Timeline, TimelineOptions};
use bgm_models::plan::{MusicPlan, PlanOptions};
use bgm_models::riffusion::{generate_long, LongOptions, NoiseRng, RiffusionModel, SchedulerKind};
use bgm_models::spectrogram::{
    ImageToAudioOptions, PhaseInit, SpectrogramConverter, SpectrogramParams,
};
use bgm_models::stt::model::WhisperModel;
use bgm_models::stt::WhisperConfig;
use bgm_models::task::CancelToken;
use bgm_models::weights::WeightsConfig;
use candle_core::{DType, Device, Tensor};

const PROMPT: [u32; 3] = [50258, 50259, 50360];
const DECODE_STEPS: usize = 100;
const WINDOW_SECONDS: f64 = 30.0;
const MUSIC_SECONDS: f64 = 60.0;

struct Args {
    dir: PathBuf,
    parts: Vec<String>,
    runs: usize,
    device: DevicePreference,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        dir: PathBuf::new(),
        parts: ["whisper", "unet", "vae", "generate"]
            .map(String::from)
            .to_vec(),
        runs: 5,
        device: DevicePreference::Cuda,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--parts" => parsed.parts = value()?.split(',').map(String::from).collect(),
            "--runs" => parsed.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--device" => parsed.device = value()?.parse().map_err(|e| format!("{e}"))?,
            other if parsed.dir.as_os_str().is_empty() => parsed.dir = PathBuf::from(other),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    if parsed.dir.as_os_str().is_empty() {
        return Err("usage: gpu_bench WEIGHTS_DIR [--parts ...] [--runs N] [--device D]".into());
    }
    Ok(parsed)
}

/// The most GPU memory in use while it runs, from the driver's free count (so it includes the
/// CUDA context and the allocator's cache, as nvidia-smi would show).
struct PeakMemory {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakMemory {
    fn start(device: &Device) -> Self {
        let (stop, peak) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (device, stop_flag, peak_bytes) = (device.clone(), stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                if let Some(m) = gpu_memory(&device) {
                    peak_bytes.fetch_max(m.total - m.free, Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        Self {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak.load(Ordering::Relaxed) as f64 / (1 << 20) as f64
    }
}

fn report(key: &str, value: f64) {
    println!("{key}={value:.6}");
}

/// The median wall time of `runs` calls after one warm-up, the device synchronised around each.
fn median_seconds(device: &Device, runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    device.synchronize().expect("synchronize");
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            device.synchronize().expect("synchronize");
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Whisper large-v3 from the folder reference.py wrote (no tokenizer: the bench feeds ids).
fn load_whisper(dir: &Path, device: &ComputeDevice) -> (WhisperConfig, WhisperModel) {
    let started = Instant::now();
    let folder = dir.join("whisper-large-v3");
    let config = WhisperConfig::from_file(&folder.join("config.json")).expect("Whisper config");
    let vb = bgm_models::weights::var_builder(
        &[folder.join("model.safetensors")],
        device.dtype,
        &device.device,
    )
    .expect("Whisper weights");
    let model = WhisperModel::load(vb, &config).expect("Whisper model");
    report("ours_whisper_load_s", started.elapsed().as_secs_f64());
    (config, model)
}

fn whisper(dir: &Path, device: &ComputeDevice, runs: usize) {
    let (config, model) = load_whisper(dir, device);
    let mut rng = NoiseRng::new(7);
    let mel = rng
        .tensor(&[1, config.num_mel_bins, 3000], &device.device)
        .expect("mel");
    let peak = PeakMemory::start(&device.device);
    let mut audio = None;
    let encoder = median_seconds(&device.device, runs, || {
        audio = Some(model.encode(&mel).expect("encode"));
    });
    let audio = audio.expect("the encoder ran");
    let decode = median_seconds(&device.device, runs, || {
        let mut cache = model.start(&audio, 1).expect("cross-attention cache");
        let prompt = Tensor::new(&PROMPT, &device.device)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let hidden = model.decode(&prompt, &mut cache).expect("prompt");
        model.last_logits(&hidden).expect("logits");
        for i in 0..(DECODE_STEPS - PROMPT.len()) as u32 {
            let ids = Tensor::new(&[220 + i], &device.device)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let hidden = model.decode(&ids, &mut cache).expect("step");
            model.last_logits(&hidden).expect("logits");
        }
    });
    report("ours_whisper_encoder_s", encoder);
    report("ours_whisper_decode100_s", decode);
    report("ours_whisper_rtf", WINDOW_SECONDS / (encoder + decode));
    report("ours_peak_vram_whisper_mib", peak.finish());
}

fn unet(model: &RiffusionModel, runs: usize) {
    let device = &model.device.device;
    let mut rng = NoiseRng::new(1);
    let peak = PeakMemory::start(device);
    for rows in [2usize, 8] {
        let latents = rng.tensor(&[rows, 4, 64, 64], device).unwrap();
        let hidden = rng.tensor(&[rows, 77, 768], device).unwrap();
        let step = median_seconds(device, runs, || {
            model.predict_noise(&latents, 481.0, &hidden).expect("UNet");
        });
        report(&format!("ours_unet_rows{rows}_step_s"), step);
        report(&format!("ours_unet_rows{rows}_steps_per_s"), 1.0 / step);
    }
    report("ours_peak_vram_unet_mib", peak.finish());
}

fn vae(model: &RiffusionModel, runs: usize) {
    let device = &model.device.device;
    let mut rng = NoiseRng::new(2);
    let peak = PeakMemory::start(device);
    for images in [1usize, 4] {
        let latents = rng.tensor(&[images, 4, 64, 64], device).unwrap();
        let seconds = median_seconds(device, runs, || {
            model.vae.decode_raw(&latents).expect("VAE decode");
        });
        report(&format!("ours_vae_decode{images}_s"), seconds);
    }
    report("ours_peak_vram_vae_mib", peak.finish());
}

/// Two sections (joy, then sadness), so the music also morphs once, as a real video's would.
fn sixty_second_plan() -> MusicPlan {
    let section = |start: f64, end: f64, emotion: Emotion| Section {
        start,
        end,
        emotion,
        confidence: 0.9,
        segments: Vec::new(),
        user_emotion: None,
    };
    let timeline = Timeline {
        duration: MUSIC_SECONDS,
        options: TimelineOptions::default(),
        sections: vec![
            section(0.0, 30.72, Emotion::Joy),
            section(30.72, MUSIC_SECONDS, Emotion::Sadness),
        ],
    };
    MusicPlan::from_timeline(&timeline, &PlanOptions::default()).expect("plan")
}

fn generate(model: &RiffusionModel) {
    let plan = sixty_second_plan();
    let options = LongOptions::from_plan(&plan, SchedulerKind::default());
    let converter = SpectrogramConverter::new(SpectrogramParams::default()).expect("converter");
    let peak = PeakMemory::start(&model.device.device);
    let start = Instant::now();
    let music = generate_long(
        model,
        &plan,
        &options,
        &mut |_: f64| {},
        &CancelToken::new(),
    )
    .expect("generate");
    model.device.device.synchronize().expect("synchronize");
    let diffusion = start.elapsed().as_secs_f64();
    for (seed, image) in music.spectrograms.into_iter().enumerate() {
        converter
            .image_to_audio(
                &image::DynamicImage::ImageRgb8(image),
                &ImageToAudioOptions {
                    phase_init: PhaseInit::Random { seed: seed as u64 },
                },
            )
            .expect("spectrogram to audio");
    }
    report("ours_generate_60s_steps", options.steps as f64);
    report("ours_generate_60s_clips", music.clips.len() as f64);
    report("ours_generate_60s_diffusion_s", diffusion);
    report("ours_generate_60s_s", start.elapsed().as_secs_f64());
    report("ours_peak_vram_generate_mib", peak.finish());
}

fn main() {
    // As the app does (bgm_studio::cli::main).
    bgm_models::heap::reuse_large_allocations();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let device = ComputeDevice::open(args.device).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    });
    eprintln!("device: {}", device.describe());
    if let Some(m) = device.memory() {
        report("gpu_total_mib", m.total as f64 / (1 << 20) as f64);
    }
    let wants = |part: &str| args.parts.iter().any(|p| p == part);
    if wants("whisper") {
        whisper(&args.dir, &device, args.runs);
    } else if wants("load") {
        load_whisper(&args.dir, &device);
    }
    if ["load", "unet", "vae", "generate"].iter().any(|p| wants(p)) {
        let scratch = std::env::temp_dir().join("bgm-gpu-bench");
        let started = Instant::now();
        let model = RiffusionModel::from_folder(
            &args.dir.join("sd15"),
            &WeightsConfig::offline_in(&scratch),
            &device,
        )
        .expect("loading the SD 1.5 components");
        report("ours_riffusion_load_s", started.elapsed().as_secs_f64());
        if wants("unet") {
            unet(&model, args.runs);
        }
        if wants("vae") {
            vae(&model, args.runs);
        }
        if wants("generate") {
            generate(&model);
        }
    }
    // Keep f16 honest: the weights really are half precision on a GPU.
    assert!(device.kind == bgm_models::device::DeviceKind::Cpu || device.dtype == DType::F16);
}

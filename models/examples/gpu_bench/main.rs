//! The GPU benchmark's Rust side: the model work BGM Studio does on a GPU, timed on full-size
//! random weights, printed as `key=value` lines that tools/gpu/bench.sh sets beside PyTorch's.
//!
//! `gpu_bench WEIGHTS_DIR [--parts sa3,attention,whisper,unet,vae,generate] [--runs N]
//! [--device cuda] [--seconds S] [--steps N]` (`--parts load` only loads the models: a quick
//! check of the folders, and their load times), where WEIGHTS_DIR is what
//! `tools/gpu/reference.py weights` wrote (`sd15/`, `whisper-large-v3/`), or any folder with
//! those two in the same layouts (the first-run script's CPU dry run gives it the tiny test
//! models: every shape below follows the loaded model's config), and `sa3/`, which
//! `gpu_bench WEIGHTS_DIR --write-sa3 full|tiny` writes. Built by `tools/gpu/bench.sh build`
//! (release, `--features cuda`).
//!
//! - sa3: Stable Audio 3 small-music, four candidates of S seconds (default 60) at its 8 steps
//!   (or N), as one window of the generate stage: load, text encoding and first step, each
//!   further step, each SAME-S decode, peak memory, and the audio's RMS and non-finite count.
//! - attention: our attention at the UNet's first-block and the VAE's mid-block shapes, in the
//!   device's dtype with queries and keys as large as real weights make them, timed, with its
//!   largest error against f32 on the CPU and its count of non-finite outputs.
//! - Whisper large-v3: the encoder on a 30 s window, then 100 decoder steps with the KV cache
//!   (a 3-token prompt, then fixed tokens, so the work does not depend on the random weights);
//!   the real-time factor is 30 s over their sum.
//! - UNet: one noise prediction at 2 rows (one guided candidate) and at 8 (four).
//! - VAE: decoding 1 and 4 latents of a 512×512 image.
//! - generate: four candidates of S seconds of music (default 60) at the plan's default steps,
//!   spectrogram images to audio included, as the pipeline's generate stage does it, after one
//!   untimed warm-up clip (as PyTorch's side has).
//! - Peak GPU memory per part, twice: the driver's count of used memory sampled every 5 ms
//!   (context and pool included, as nvidia-smi shows it) and the CUDA pool's own peak (what
//!   the tensors held, as PyTorch's `max_memory_allocated` counts).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bgm_models::device::{
    allocator_peak, gpu_memory, reset_allocator_peak, ComputeDevice, DevicePreference,
};
use bgm_models::emotion::{Emotion, Section, Timeline, TimelineOptions};
use bgm_models::kernels::attention::scaled_dot_product_attention;
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

mod stable_audio;
#[path = "../../tests/stable_audio_common/mod.rs"]
mod stable_audio_common;

const PROMPT: [u32; 3] = [50258, 50259, 50360];
const DECODE_STEPS: usize = 100;
const WINDOW_SECONDS: f64 = 30.0;
/// One Riffusion clip: 512 columns of 10 ms.
const CLIP_SECONDS: f64 = 5.12;

struct Args {
    dir: PathBuf,
    parts: Vec<String>,
    runs: usize,
    device: DevicePreference,
    /// Seconds of music the generate part makes.
    seconds: f64,
    /// Diffusion steps of the generate part; the plan's default when absent.
    steps: Option<usize>,
    /// Write Stable Audio 3's folder (`full` or `tiny`) instead of running parts.
    write_sa3: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        dir: PathBuf::new(),
        parts: ["attention", "whisper", "unet", "vae", "generate"]
            .map(String::from)
            .to_vec(),
        runs: 5,
        device: DevicePreference::Cuda,
        seconds: 60.0,
        steps: None,
        write_sa3: None,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--parts" => parsed.parts = value()?.split(',').map(String::from).collect(),
            "--runs" => parsed.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--device" => parsed.device = value()?.parse().map_err(|e| format!("{e}"))?,
            "--seconds" => {
                parsed.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?
            }
            "--steps" => {
                parsed.steps = Some(value()?.parse().map_err(|e| format!("--steps: {e}"))?)
            }
            "--write-sa3" => parsed.write_sa3 = Some(value()?),
            other if parsed.dir.as_os_str().is_empty() => parsed.dir = PathBuf::from(other),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    if parsed.dir.as_os_str().is_empty() {
        return Err(
            "usage: gpu_bench WEIGHTS_DIR [--parts ...] [--runs N] [--device D] \
                    [--seconds S] [--steps N] | gpu_bench WEIGHTS_DIR --write-sa3 full|tiny"
                .into(),
        );
    }
    Ok(parsed)
}

/// The most GPU memory in use while it runs: from the driver's free count (so it includes the
/// CUDA context and the pool's cache, as nvidia-smi would show), and the pool's own peak.
struct PeakMemory {
    device: Device,
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakMemory {
    fn start(device: &Device) -> Self {
        reset_allocator_peak(device);
        let (stop, peak) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (sampled, stop_flag, peak_bytes) = (device.clone(), stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                if let Some(m) = gpu_memory(&sampled) {
                    peak_bytes.fetch_max(m.total - m.free, Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        Self {
            device: device.clone(),
            stop,
            peak,
            thread: Some(thread),
        }
    }

    /// Reports `ours_peak_vram_{part}_mib` (driver) and `ours_peak_alloc_{part}_mib` (pool).
    fn finish(mut self, part: &str) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        const MIB: f64 = (1 << 20) as f64;
        if gpu_memory(&self.device).is_some() {
            let driver = self.peak.load(Ordering::Relaxed) as f64 / MIB;
            report(&format!("ours_peak_vram_{part}_mib"), driver);
        }
        if let Some(pool) = allocator_peak(&self.device) {
            report(&format!("ours_peak_alloc_{part}_mib"), pool as f64 / MIB);
        }
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
    peak.finish("whisper");
}

fn unet(model: &RiffusionModel, runs: usize) {
    let device = &model.device.device;
    let mut rng = NoiseRng::new(1);
    let channels = model.unet_settings.in_channels;
    let text_width = model.unet_settings.config.cross_attention_dim;
    let peak = PeakMemory::start(device);
    for rows in [2usize, 8] {
        let latents = rng.tensor(&[rows, channels, 64, 64], device).unwrap();
        let hidden = rng.tensor(&[rows, 77, text_width], device).unwrap();
        let step = median_seconds(device, runs, || {
            model.predict_noise(&latents, 481.0, &hidden).expect("UNet");
        });
        report(&format!("ours_unet_rows{rows}_step_s"), step);
        report(&format!("ours_unet_rows{rows}_steps_per_s"), 1.0 / step);
    }
    peak.finish("unet");
}

fn vae(model: &RiffusionModel, runs: usize) {
    let device = &model.device.device;
    let mut rng = NoiseRng::new(2);
    let channels = model.latent_channels();
    let peak = PeakMemory::start(device);
    for images in [1usize, 4] {
        let latents = rng.tensor(&[images, channels, 64, 64], device).unwrap();
        let seconds = median_seconds(device, runs, || {
            model.vae.decode_raw(&latents).expect("VAE decode");
        });
        report(&format!("ours_vae_decode{images}_s"), seconds);
    }
    peak.finish("vae");
}

/// `seconds` of music in two sections (joy, then sadness), so the music also morphs once, as
/// a real video's would; one section when it is a single clip.
fn plan_of(seconds: f64) -> MusicPlan {
    let section = |start: f64, end: f64, emotion: Emotion| Section {
        start,
        end,
        emotion,
        confidence: 0.9,
        segments: Vec::new(),
        user_emotion: None,
    };
    let sections = if seconds <= CLIP_SECONDS {
        vec![section(0.0, seconds, Emotion::Joy)]
    } else {
        let middle = seconds / 2.0;
        vec![
            section(0.0, middle, Emotion::Joy),
            section(middle, seconds, Emotion::Sadness),
        ]
    };
    let timeline = Timeline {
        duration: seconds,
        options: TimelineOptions::default(),
        sections,
    };
    MusicPlan::from_timeline(&timeline, &PlanOptions::default()).expect("plan")
}

/// Four candidates of `seconds` of music as the generate stage makes them; the seconds the
/// diffusion and VAE took, the seconds in all (with the audio), and the clips.
fn generate_music(model: &RiffusionModel, seconds: f64, steps: Option<usize>) -> (f64, f64, usize) {
    let plan = plan_of(seconds);
    let mut options = LongOptions::from_plan(&plan, SchedulerKind::default());
    if let Some(steps) = steps {
        options.steps = steps;
    }
    let converter = SpectrogramConverter::new(SpectrogramParams::default()).expect("converter");
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
    (diffusion, start.elapsed().as_secs_f64(), music.clips.len())
}

fn generate(model: &RiffusionModel, seconds: f64, steps: Option<usize>) {
    // One clip first, untimed: kernels load and the pool fills, as PyTorch's warm-up clip.
    generate_music(model, CLIP_SECONDS, steps);
    let peak = PeakMemory::start(&model.device.device);
    let (diffusion, total, clips) = generate_music(model, seconds, steps);
    let steps = steps.unwrap_or(plan_of(seconds).steps as usize);
    report("ours_generate_seconds", seconds);
    report("ours_generate_steps", steps as f64);
    report("ours_generate_clips", clips as f64);
    report("ours_generate_diffusion_s", diffusion);
    report("ours_generate_s", total);
    peak.finish("generate");
}

/// Attention at the shapes the models run it, with q = k = `gain` × unit noise: a token's
/// unscaled score with itself is `gain² × depth`, past f16's range as real activations make it.
fn attention(device: &ComputeDevice, runs: usize) {
    // (name, leading dims, tokens, depth, gain): the UNet's first block at 512×512 (2 rows × 8
    // heads of 40 over 4,096 tokens) and the VAE's mid block (one 512-wide head).
    let shapes = [
        ("unet", [2usize, 8], 4096usize, 40usize, 48.0),
        ("vae", [1, 1], 4096, 512, 12.0),
    ];
    let peak = PeakMemory::start(&device.device);
    for (name, lead, tokens, depth, gain) in shapes {
        let mut rng = NoiseRng::new(3);
        let shape = [lead[0], lead[1], tokens, depth];
        let qk = (rng.tensor(&shape, &Device::Cpu).unwrap() * gain).unwrap();
        let v = rng.tensor(&shape, &Device::Cpu).unwrap();
        let scale = (depth as f64).powf(-0.5);
        let exact = scaled_dot_product_attention(&qk, &qk, &v, scale).expect("f32 attention");
        let on_device = |t: &Tensor| t.to_device(&device.device)?.to_dtype(device.dtype);
        let (q, v) = (on_device(&qk).unwrap(), on_device(&v).unwrap());
        let mut out = None;
        let seconds = median_seconds(&device.device, runs, || {
            out = Some(scaled_dot_product_attention(&q, &q, &v, scale).expect("attention"));
        });
        let out = out
            .expect("attention ran")
            .to_dtype(DType::F32)
            .and_then(|t| t.to_device(&Device::Cpu))
            .unwrap();
        let values = out.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let non_finite = values.iter().filter(|v| !v.is_finite()).count();
        let error = (&out - &exact)
            .and_then(|d| d.abs())
            .and_then(|d| d.flatten_all())
            .and_then(|d| d.to_vec1::<f32>())
            .unwrap()
            .into_iter()
            .filter(|d| d.is_finite())
            .fold(0f32, f32::max);
        report(&format!("ours_attention_{name}_s"), seconds);
        report(&format!("ours_attention_{name}_max_error"), error as f64);
        report(
            &format!("ours_attention_{name}_non_finite"),
            non_finite as f64,
        );
    }
    peak.finish("attention");
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
    if let Some(size) = &args.write_sa3 {
        if let Err(message) = stable_audio::write(&args.dir, size) {
            eprintln!("{message}");
            std::process::exit(1);
        }
        return;
    }
    let device = ComputeDevice::open(args.device).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    });
    eprintln!("device: {}", device.describe());
    if let Some(m) = device.memory() {
        report("gpu_total_mib", m.total as f64 / (1 << 20) as f64);
    }
    let wants = |part: &str| args.parts.iter().any(|p| p == part);
    if wants("sa3") {
        let steps = args
            .steps
            .unwrap_or(bgm_models::stable_audio::DEFAULT_STEPS);
        stable_audio::bench(&args.dir, &device, args.seconds, steps);
    }
    if wants("attention") {
        attention(&device, args.runs);
    }
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
            generate(&model, args.seconds, args.steps);
        }
    }
    // Keep f16 honest: the weights really are half precision on a GPU.
    assert!(device.kind == bgm_models::device::DeviceKind::Cpu || device.dtype == DType::F16);
}

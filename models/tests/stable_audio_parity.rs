//! Stable Audio 3 (DiT, sampler, T5Gemma, SAME-S) against the reference code (stable-audio-3 636f906) on a tiny random
//! model of the same architecture, loaded from the published layout (`model_config.json`,
//! `model.safetensors` with `model.model.*`). Fixtures: tools/parity/stable_audio/make_fixtures.py.

mod stable_audio_common;

use bgm_models::device::ComputeDevice;
use bgm_models::stable_audio::{
    pingpong_schedule, sample_pingpong, Conditioning, DiffusionTransformer, DitConfig, DitInputs,
    DurationEmbedder, MusicRequest, PromptConditioner, SameConfig, SameDecoder, SameEncoder,
    StableAudio, T5GemmaConfig, T5GemmaEncoder, TextEncoder, DEFAULT_STEPS,
};
use bgm_models::task::CancelToken;
use candle_core::{DType, Device, Tensor};
use serde_json::Value;
use stable_audio_common::{fixtures, numbered_words, tiny_tokenizer};

/// A fixture file's little-endian 4-byte values and its shape from the manifest.
fn raw_fixture(name: &str) -> (Vec<[u8; 4]>, Vec<usize>) {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("manifest.json")).unwrap())
            .unwrap();
    let shape: Vec<usize> = manifest[name]["shape"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is not in the manifest"))
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let bytes = std::fs::read(fixtures().join(name)).unwrap();
    let words = bytes
        .chunks_exact(4)
        .map(|b| [b[0], b[1], b[2], b[3]])
        .collect();
    (words, shape)
}

fn fixture(name: &str) -> Tensor {
    let (words, shape) = raw_fixture(name);
    let values: Vec<f32> = words.into_iter().map(f32::from_le_bytes).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// An i32 fixture (token ids, masks) as u32.
fn ids_fixture(name: &str) -> Tensor {
    let (words, shape) = raw_fixture(name);
    let values: Vec<u32> = words
        .into_iter()
        .map(|w| i32::from_le_bytes(w) as u32)
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

fn load(dtype: DType) -> DiffusionTransformer {
    let dir = fixtures().join("dit");
    let config = DitConfig::from_model_config(&dir.join("model_config.json")).unwrap();
    let vb =
        bgm_models::weights::var_builder(&[dir.join("model.safetensors")], dtype, &Device::Cpu)
            .unwrap();
    DiffusionTransformer::load(&config, vb.pp("model.model")).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap()
}

struct Case {
    latents: Tensor,
    times: Vec<f32>,
    context: Tensor,
    global: Tensor,
    local: Tensor,
    padding: Tensor,
}

impl Case {
    fn read() -> Self {
        Self {
            latents: fixture("dit_x.f32"),
            times: fixture("dit_t.f32").to_vec1().unwrap(),
            context: fixture("dit_context.f32"),
            global: fixture("dit_global.f32"),
            local: fixture("dit_local.f32"),
            padding: fixture("dit_padding.f32"),
        }
    }

    /// One DiT forward on the case: with the inpaint inputs and the padding mask, or with
    /// neither (text-to-audio).
    fn forward(&self, model: &DiffusionTransformer, inpaint: bool) -> Tensor {
        model
            .forward(&DitInputs {
                latents: &self.latents,
                times: &self.times,
                context: &self.context,
                global: &self.global,
                local: inpaint.then_some(&self.local),
                padding: inpaint.then_some(&self.padding),
            })
            .unwrap()
    }
}

#[test]
fn one_forward_with_the_inpaint_inputs_and_padding_matches_the_reference() {
    let model = load(DType::F32);
    let c = Case::read();
    let out = c.forward(&model, true);
    let expected = fixture("dit_out_inpaint.f32");
    let err = max_abs_diff(&out, &expected);
    println!("DiT with inpaint inputs and padding: max abs error {err:.3e}");
    assert!(err < 1e-5, "{err}");
}

#[test]
fn one_forward_without_inpainting_matches_the_reference() {
    // Text-to-audio: the inpaint inputs are zeros, which still pass through their MLP.
    let model = load(DType::F32);
    let c = Case::read();
    let out = c.forward(&model, false);
    let expected = fixture("dit_out_plain.f32");
    let err = max_abs_diff(&out, &expected);
    println!("DiT without inpainting: max abs error {err:.3e}");
    assert!(err < 1e-5, "{err}");
    // The inpaint inputs matter: the other fixture's output differs.
    assert!(max_abs_diff(&out, &fixture("dit_out_inpaint.f32")) > 1e-3);
}

#[test]
fn half_precision_stays_close_to_the_reference() {
    let model = load(DType::F16);
    let c = Case::read();
    let out = c.forward(&model, true);
    let expected = fixture("dit_out_inpaint.f32");
    let scale: f32 = expected
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    let err = max_abs_diff(&out, &expected);
    println!("DiT in f16: max abs error {err:.3e} (outputs up to {scale:.3})");
    assert!(err < 2e-2 * scale, "{err}");
}

/// A weight source with the full-size small-music checkpoint's names and shapes (listed by the
/// reference's own modules, `full_size_keys.tsv`) and no data: every tensor is a zero-strided
/// view, so the 459 M parameters cost nothing. It records what the loader asked for.
#[derive(Clone)]
struct FullSizeLayout {
    shapes: std::sync::Arc<std::collections::HashMap<String, Vec<usize>>>,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FullSizeLayout {
    fn read() -> Self {
        let text = std::fs::read_to_string(fixtures().join("full_size_keys.tsv")).unwrap();
        let shapes = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (name, shape) = line.split_once('\t').unwrap();
                let dims = shape
                    .trim_matches(|c| c == '(' || c == ')')
                    .split(',')
                    .filter(|d| !d.trim().is_empty())
                    .map(|d| d.trim().parse().unwrap())
                    .collect();
                (name.to_string(), dims)
            })
            .collect();
        Self {
            shapes: std::sync::Arc::new(shapes),
            asked: Default::default(),
        }
    }
}

impl FullSizeLayout {
    /// A VarBuilder over this layout (the layout keeps the record of what it was asked for).
    fn var_builder(&self) -> candle_nn::VarBuilder<'static> {
        let backend: Box<dyn candle_nn::var_builder::SimpleBackend> = Box::new(self.clone());
        candle_nn::VarBuilder::from_backend(backend, DType::F32, Device::Cpu)
    }

    /// The checkpoint's tensors under `prefix` the loader never asked for.
    fn never_loaded(&self, prefix: &str) -> Vec<String> {
        let asked = self.asked.lock().unwrap();
        let mut missed: Vec<String> = self
            .shapes
            .keys()
            .filter(|name| name.starts_with(prefix) && !asked.contains(*name))
            .cloned()
            .collect();
        missed.sort();
        missed
    }
}

impl candle_nn::var_builder::SimpleBackend for FullSizeLayout {
    fn get(
        &self,
        shape: candle_core::Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let Some(expected) = self.shapes.get(name) else {
            candle_core::bail!("{name} is not in the full-size checkpoint");
        };
        if expected.as_slice() != shape.dims() {
            candle_core::bail!(
                "{name}: the checkpoint has {expected:?}, the loader asked for {shape:?}"
            );
        }
        self.asked.lock().unwrap().push(name.to_string());
        Tensor::zeros(1, dtype, device)?.broadcast_as(shape)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("{name}: the loader must state every shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.shapes.contains_key(name)
    }
}

#[test]
fn the_full_size_small_model_loads_every_dit_parameter_with_its_shape() {
    let layout = FullSizeLayout::read();
    DiffusionTransformer::load(&DitConfig::small(), layout.var_builder().pp("model.model"))
        .unwrap();
    let missed = layout.never_loaded("model.model.");
    assert!(
        missed.is_empty(),
        "parameters the DiT never loads: {missed:?}"
    );
    assert_eq!(
        layout.asked.lock().unwrap().len(),
        438,
        "the DiT's 438 tensors"
    );
}

#[test]
fn the_duration_conditioning_matches_the_reference() {
    let dir = fixtures().join("dit");
    let vb = bgm_models::weights::var_builder(
        &[dir.join("model.safetensors")],
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let embedder =
        DurationEmbedder::load(64, vb.pp("conditioner.conditioners.seconds_total")).unwrap();
    let seconds: Vec<f32> = fixture("seconds_in.f32").to_vec1().unwrap();
    let out = embedder.forward(&seconds).unwrap();
    let expected = fixture("seconds_out.f32").squeeze(1).unwrap();
    // The features' phases are 2π·f·u for frequencies f up to 10 kHz and u = seconds / 384: an
    // ulp of f where PyTorch's exp rounds differently (5 of 128, see fourier.rs) moves the
    // phase by up to 6 mrad at u = 1, so the bound grows with the duration.
    for (row, s) in seconds.iter().enumerate() {
        let err = max_abs_diff(&out.get(row).unwrap(), &expected.get(row).unwrap());
        let u = s.clamp(0.0, 384.0) / 384.0;
        println!("duration conditioning at {s} s: max abs error {err:.3e}");
        assert!(err < 2e-6 + 5e-5 * u, "{s} s: {err}");
    }
}

#[test]
fn a_whole_eight_step_sampling_loop_matches_the_reference() {
    let model = load(DType::F32);
    let c = Case::read();
    let schedule: Vec<f32> = fixture("loop_schedule.f32")
        .get(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    let ours = pingpong_schedule(DEFAULT_STEPS);
    let schedule_err = schedule
        .iter()
        .zip(&ours)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        schedule_err < 1e-7,
        "schedule {ours:?} against the reference's {schedule:?}"
    );
    let noise = fixture("loop_noise.f32");
    let mut steps = Vec::new();
    let result = sample_pingpong(
        &model,
        &fixture("loop_start.f32"),
        &ours,
        &Conditioning {
            context: &c.context,
            global: &c.global,
            local: Some(&c.local),
            padding: Some(&c.padding),
        },
        |i| noise.get(i),
        |i| {
            steps.push(i);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(steps, (0..DEFAULT_STEPS).collect::<Vec<_>>());
    let err = max_abs_diff(&result, &fixture("loop_result.f32"));
    println!("8-step ping-pong loop: max abs error {err:.3e}");
    assert!(err < 1e-5, "{err}");
}

fn t5gemma(softcap: bool) -> T5GemmaEncoder {
    let dir = fixtures().join("t5gemma");
    let config = T5GemmaConfig::from_file(&dir.join("config.json")).unwrap();
    let vb = bgm_models::weights::var_builder(
        &[dir.join("model.safetensors")],
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    T5GemmaEncoder::load(&config, softcap, vb).unwrap()
}

#[test]
fn the_t5gemma_encoder_matches_transformers_with_and_without_the_soft_cap() {
    let (ids, mask) = (ids_fixture("t5_ids.i32"), ids_fixture("t5_mask.i32"));
    for (softcap, expected) in [(true, "t5_out_softcap.f32"), (false, "t5_out_plain.f32")] {
        let out = t5gemma(softcap).forward(&ids, &mask).unwrap();
        let expected = fixture(expected);
        let err = max_abs_diff(&out, &expected);
        println!("T5Gemma encoder, soft-cap {softcap}: max abs error {err:.3e}");
        assert!(err < 2e-5, "soft-cap {softcap}: {err}");
    }
    // The two references differ by more than either error: the switch is really tested.
    let apart = max_abs_diff(&fixture("t5_out_softcap.f32"), &fixture("t5_out_plain.f32"));
    assert!(apart > 1e-4, "{apart}");
}

/// The tiny SAME-S's weights, in its own repository's layout (no prefix).
fn same_weights() -> candle_nn::VarBuilder<'static> {
    let file = fixtures().join("same/model.safetensors");
    bgm_models::weights::var_builder(&[file], DType::F32, &Device::Cpu).unwrap()
}

#[test]
fn the_same_s_decoder_matches_the_reference() {
    let dir = fixtures().join("same");
    let (config, prefix) = SameConfig::from_model_config(&dir.join("model_config.json")).unwrap();
    assert_eq!(prefix, "", "SAME-S's own layout has no prefix");
    assert_eq!(
        (config.stride, config.depth, config.mapping_kernel),
        (16, 2, 3)
    );
    let decoder = SameDecoder::load(&config, same_weights()).unwrap();
    let audio = decoder.decode(&fixture("same_latents.f32"), None).unwrap();
    let expected = fixture("same_audio.f32");
    let scale: f32 = expected
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    let err = max_abs_diff(&audio, &expected);
    println!(
        "SAME-S decode, 2 rows of 6 frames: max abs error {err:.3e} (samples up to {scale:.3})"
    );
    assert!(err < 1e-5, "{err}");
}

#[test]
fn the_full_size_same_s_decoder_loads_every_parameter_with_its_shape() {
    let layout = FullSizeLayout::read();
    let vb = layout.var_builder().pp("pretransform.model");
    let decoder = SameDecoder::load(&SameConfig::small(), vb).unwrap();
    assert_eq!(decoder.config().samples_per_frame(), 4096);
    let missed = layout.never_loaded("pretransform.model.decoder.");
    assert!(
        missed.is_empty(),
        "decoder parameters never loaded: {missed:?}"
    );
    let asked = layout.asked.lock().unwrap();
    assert!(asked
        .iter()
        .any(|name| name == "pretransform.model.bottleneck.running_std"));
}

#[test]
fn the_same_s_encoder_matches_the_reference() {
    let dir = fixtures().join("same");
    let (config, prefix) =
        SameConfig::encoder_from_model_config(&dir.join("model_config.json")).unwrap();
    assert_eq!(prefix, "");
    assert_eq!(
        (config.mapping_kernel, config.noise_regularize),
        (1, false),
        "the encoder maps with kernel 1 and adds no noise"
    );
    let encoder = SameEncoder::load(&config, same_weights()).unwrap();
    // 5,000 samples: 157 patches of 32, padded to 160 (whole chunks), 10 frames.
    let latents = encoder.encode(&fixture("same_encode_audio.f32")).unwrap();
    let expected = fixture("same_encoded.f32");
    assert_eq!(latents.dims(), expected.dims());
    let scale: f32 = expected
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    let err = max_abs_diff(&latents, &expected);
    println!("SAME-S encode, 2 rows of 5,000 samples: max abs error {err:.3e} (latents up to {scale:.3})");
    assert!(err < 1e-5, "{err}");
}

#[test]
fn the_full_size_same_s_encoder_loads_every_parameter_with_its_shape() {
    let layout = FullSizeLayout::read();
    let vb = layout.var_builder().pp("pretransform.model");
    SameEncoder::load(&SameConfig::small_encoder(), vb).unwrap();
    let missed = layout.never_loaded("pretransform.model.encoder.");
    assert!(
        missed.is_empty(),
        "encoder parameters never loaded: {missed:?}"
    );
    let asked = layout.asked.lock().unwrap();
    for bottleneck in ["scaling_factor", "bias", "running_std"] {
        let name = format!("pretransform.model.bottleneck.{bottleneck}");
        assert!(asked.contains(&name), "{name} never loaded");
    }
}

#[test]
fn the_decoders_noise_goes_where_the_config_says() {
    let dir = fixtures().join("same");
    let (mut config, _) = SameConfig::from_model_config(&dir.join("model_config.json")).unwrap();
    config.mask_noise = 0.01;
    config.noise_regularize = true;
    let decoder = SameDecoder::load(&config, same_weights()).unwrap();
    let latents = fixture("same_latents.f32");
    let quiet = decoder.decode(&latents, None).unwrap();
    // Zero noise: the deterministic decode; the draws are the latents' and the new tokens'.
    let mut shapes = Vec::new();
    let mut zeros = |shape: &[usize]| {
        shapes.push(shape.to_vec());
        Tensor::zeros(shape, DType::F32, &Device::Cpu)
    };
    let with_zeros = decoder.decode(&latents, Some(&mut zeros)).unwrap();
    assert_eq!(max_abs_diff(&with_zeros, &quiet), 0.0);
    assert_eq!(shapes, [vec![2, 16, 6], vec![12, 16, 128]]);
    let mut ones = |shape: &[usize]| Tensor::ones(shape, DType::F32, &Device::Cpu);
    let noisy = decoder.decode(&latents, Some(&mut ones)).unwrap();
    assert!(max_abs_diff(&noisy, &quiet) > 1e-4);
}

#[test]
fn prompts_become_encoder_tokens_padding_embeddings_and_a_duration_token() {
    let dir = tempfile::tempdir().unwrap();
    let tokenizer = tiny_tokenizer(dir.path(), numbered_words());
    let width = 64;
    let padding_embedding = Tensor::arange(0f32, width as f32, &Device::Cpu).unwrap();
    let mut weights = std::collections::HashMap::new();
    weights.insert(
        "conditioner.conditioners.prompt.padding_embedding".to_string(),
        padding_embedding.clone(),
    );
    let seconds_linear = "conditioner.conditioners.seconds_total.embedder.embedding.1";
    weights.insert(
        format!("{seconds_linear}.weight"),
        (Tensor::ones((width, 256), DType::F32, &Device::Cpu).unwrap() * 0.01).unwrap(),
    );
    weights.insert(
        format!("{seconds_linear}.bias"),
        Tensor::zeros(width, DType::F32, &Device::Cpu).unwrap(),
    );
    let vb = candle_nn::VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
    let max_tokens = 8;
    let conditioner = PromptConditioner::load(
        &tokenizer,
        TextEncoder::Resident(t5gemma(false)),
        width,
        max_tokens,
        vb,
    )
    .unwrap();

    let prompts = ["w10 w11 w12 w13 w14", "w200 w201"];
    let out = conditioner.condition(&prompts, &[10.24, 60.0]).unwrap();
    assert_eq!(out.context.dims(), [2, max_tokens + 1, width]);
    assert_eq!(out.global.dims(), [2, width]);

    // Real tokens: the encoder's output for the same ids and mask.
    let ids = Tensor::new(
        &[
            [10u32, 11, 12, 13, 14, 0, 0, 0],
            [200, 201, 0, 0, 0, 0, 0, 0],
        ],
        &Device::Cpu,
    )
    .unwrap();
    let mask = Tensor::new(
        &[[1u32, 1, 1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]],
        &Device::Cpu,
    )
    .unwrap();
    let encoded = t5gemma(false).forward(&ids, &mask).unwrap();
    for (row, real) in [(0usize, 5usize), (1, 2)] {
        let ours = out.context.get(row).unwrap();
        assert_eq!(
            max_abs_diff(
                &ours.narrow(0, 0, real).unwrap(),
                &encoded.get(row).unwrap().narrow(0, 0, real).unwrap()
            ),
            0.0
        );
        // Padded positions: the learnt padding embedding.
        for position in real..max_tokens {
            assert_eq!(
                max_abs_diff(&ours.get(position).unwrap(), &padding_embedding),
                0.0
            );
        }
        // The last token is the duration's embedding, which is also the global vector.
        assert_eq!(
            max_abs_diff(
                &ours.get(max_tokens).unwrap(),
                &out.global.get(row).unwrap()
            ),
            0.0
        );
    }
    assert!(max_abs_diff(&out.global.get(0).unwrap(), &out.global.get(1).unwrap()) > 1e-4);

    // A prompt longer than the encoder takes is refused, by name.
    let long = (0..9)
        .map(|i| format!("w{}", 20 + i))
        .collect::<Vec<_>>()
        .join(" ");
    let err = conditioner
        .condition(&[&long], &[10.0])
        .err()
        .expect("too long")
        .to_string();
    assert!(
        err.contains("9 tokens long") && err.contains("at most 8"),
        "{err}"
    );
}

/// The tiny folder with the parity vocabulary and prompts of up to 8 tokens.
fn tiny_model_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    stable_audio_common::write_tiny_model_folder(dir.path(), numbered_words(), 8, 1.0);
    dir
}

#[test]
fn the_whole_tiny_model_makes_seeded_stereo_music_of_the_asked_length() {
    let dir = tiny_model_folder();
    let model = StableAudio::from_folder(dir.path(), false, &ComputeDevice::cpu()).unwrap();
    let prompts = ["w10 w11 w12", "w30 w31"];
    let mut fractions = Vec::new();
    let mut progress = |f: f64| fractions.push(f);
    let request = MusicRequest {
        prompts: &prompts,
        seeds: &[7, 8],
        seconds: 1.0,
        steps: DEFAULT_STEPS,
        continuation: None,
    };
    let music = model
        .generate(&request, &mut progress, &CancelToken::new())
        .unwrap();
    assert_eq!(music.audio.dims(), [2, 2, 44_100]);
    let samples: Vec<f32> = music.audio.flatten_all().unwrap().to_vec1().unwrap();
    assert!(samples
        .iter()
        .all(|s| s.is_finite() && (-1.0..=1.0).contains(s)));
    assert!(samples.iter().any(|s| s.abs() > 1e-3), "not silence");
    assert_eq!(fractions.last(), Some(&1.0));
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "{fractions:?}");
    let rows = |m: &bgm_models::stable_audio::GeneratedMusic, i: usize| m.audio.get(i).unwrap();
    let apart = max_abs_diff(&rows(&music, 0), &rows(&music, 1));
    let latents_apart = max_abs_diff(
        &music.latents.get(0).unwrap(),
        &music.latents.get(1).unwrap(),
    );
    println!("candidates differ by {apart:.3e} (latents by {latents_apart:.3e})");
    // Two seeds, two candidates. The tiny random decoder hears its latents faintly (its small
    // weights leave the learnt new tokens dominant), so the audio differs less than they do.
    assert!(
        latents_apart > 0.1 && apart > 1e-5,
        "two seeds, two candidates"
    );

    // A seed gives the same music alone as in a batch.
    let alone = model
        .generate(
            &MusicRequest {
                prompts: &prompts[1..],
                seeds: &[8],
                ..request
            },
            &mut |_: f64| {},
            &CancelToken::new(),
        )
        .unwrap();
    assert_eq!(max_abs_diff(&rows(&alone, 0), &rows(&music, 1)), 0.0);

    // Continuing from the first candidate's opening frames: the same seed makes other music,
    // and latents that do not fit are refused.
    let opening = music
        .latents
        .narrow(0, 0, 1)
        .unwrap()
        .narrow(2, 0, 40)
        .unwrap();
    let continue_from = |known: &Tensor| {
        let request = MusicRequest {
            prompts: &prompts[..1],
            seeds: &[7],
            continuation: Some(known),
            ..request
        };
        model.generate(&request, &mut |_: f64| {}, &CancelToken::new())
    };
    let continued = continue_from(&opening).unwrap();
    assert!(max_abs_diff(&continued.latents, &music.latents.narrow(0, 0, 1).unwrap()) > 1e-3);
    // The known frames come back as they went in, so a join decodes the same frames twice.
    assert_eq!(
        max_abs_diff(&continued.latents.narrow(2, 0, 40).unwrap(), &opening),
        0.0
    );
    let too_long = music.latents.narrow(0, 0, 1).unwrap();
    let err = continue_from(&too_long)
        .err()
        .expect("no room left")
        .to_string();
    assert!(err.contains("fewer than the"), "{err}");

    // Cancelling stops it.
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = model
        .generate(&request, &mut |_: f64| {}, &cancel)
        .err()
        .expect("cancelled");
    assert!(
        matches!(err, bgm_models::stable_audio::StableAudioError::Cancelled),
        "{err}"
    );
}

#[test]
fn a_folder_missing_a_file_is_an_error_naming_it() {
    let dir = tiny_model_folder();
    std::fs::remove_file(dir.path().join("t5gemma-b-b-ul2/tokenizer.json")).unwrap();
    let err = StableAudio::from_folder(dir.path(), false, &ComputeDevice::cpu())
        .err()
        .expect("no tokenizer")
        .to_string();
    assert!(
        err.contains("tokenizer.json") && err.contains("missing from the model folder"),
        "{err}"
    );
}

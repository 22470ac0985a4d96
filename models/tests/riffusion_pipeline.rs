//! The Riffusion pipeline on the tiny model: full denoising loops against diffusers (DDIM,
//! DPM-Solver++ 2M, img2img), seeded determinism, batching, interpolation, progress and cancel.

mod riffusion_common;

use bgm_models::riffusion::{
    denoise, generate, images_to_tensor, tensor_to_images, CandidateRequest, DenoiseInputs,
    GenerateOptions, InitImages, Morph, RiffusionError, SchedulerKind,
};
use bgm_models::task::CancelToken;
use riffusion_common::*;

/// Ten steps of f32 arithmetic on latents that reach about 160 on the tiny random model.
const LOOP_TOLERANCE: f32 = 2e-3;

fn check_loop(latents: &candle_core::Tensor, reference: &str, what: &str) {
    let err = max_abs_error(latents, &array(reference));
    eprintln!("{what} final latents max abs error: {err:e}");
    assert!(err < LOOP_TOLERANCE, "{err}");
}

fn loop_latents(kind: SchedulerKind) -> candle_core::Tensor {
    ten_step_loop(&tiny_model(), kind)
}

#[test]
fn ddim_loop_matches_diffusers() {
    check_loop(
        &loop_latents(SchedulerKind::Ddim),
        "loop_ddim_latents",
        "DDIM 10-step loop (CFG 7, batch 2)",
    );
}

#[test]
fn dpm_solver_loop_matches_diffusers() {
    check_loop(
        &loop_latents(SchedulerKind::DpmSolverPP2M),
        "loop_dpmpp2m_latents",
        "DPM-Solver++ 2M 10-step loop (CFG 7, batch 2)",
    );
}

#[test]
fn img2img_loop_matches_diffusers() {
    let model = tiny_model();
    let m = manifest();
    let cond = model.text_encoder.encode(&[m.prompts[0].as_str()]).unwrap();
    let uncond = model
        .text_encoder
        .encode(&[m.negative_prompt.as_str()])
        .unwrap();
    let image = ((array("img2img_image") / 2.0).unwrap() + 0.5).unwrap();
    let init = model.vae.encode_latents(&image).unwrap();
    let latents = denoise(
        &model,
        &DenoiseInputs {
            cond: &cond,
            uncond: &uncond,
            noise: &array("img2img_noise"),
            init: Some((&init, m.img2img.strength)),
            scheduler: SchedulerKind::Ddim,
            steps: m.img2img.steps,
            guidance_scale: m.img2img.guidance_scale,
            keep_left: None,
        },
        &mut |_: f64| {},
        &CancelToken::new(),
    )
    .unwrap();
    check_loop(
        &latents,
        "img2img_latents",
        "img2img (DDIM 10 steps, strength 0.6)",
    );
}

fn small_options() -> GenerateOptions {
    GenerateOptions {
        steps: 4,
        width: 128,
        height: 64,
        ..GenerateOptions::default()
    }
}

fn run(candidates: &[CandidateRequest], options: &GenerateOptions) -> Vec<image::RgbImage> {
    generate(
        &tiny_model(),
        candidates,
        options,
        None,
        &mut |_: f64| {},
        &CancelToken::new(),
    )
    .unwrap()
    .images
}

#[test]
fn same_seed_same_image_different_seed_different_image() {
    let options = small_options();
    let a = run(&[CandidateRequest::new("lofi piano", 42)], &options);
    let b = run(&[CandidateRequest::new("lofi piano", 42)], &options);
    let c = run(&[CandidateRequest::new("lofi piano", 43)], &options);
    assert_eq!(a[0].dimensions(), (128, 64));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_batch_of_four_equals_four_single_runs() {
    let options = small_options();
    let candidates: Vec<CandidateRequest> = ["piano", "strings", "synth", "drums"]
        .iter()
        .enumerate()
        .map(|(i, p)| CandidateRequest::new(*p, 100 + i as u64))
        .collect();
    let model = tiny_model();
    let batch = generate(
        &model,
        &candidates,
        &options,
        None,
        &mut |_: f64| {},
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(batch.images.len(), 4);
    for (i, c) in candidates.iter().enumerate() {
        let single = generate(
            &model,
            std::slice::from_ref(c),
            &options,
            None,
            &mut |_: f64| {},
            &CancelToken::new(),
        )
        .unwrap();
        // Equal up to the summation order of batched matrix products (f32), which guidance 7
        // amplifies a little over the steps; latents reach about 100 here.
        let err = max_abs_error(&batch.latents.narrow(0, i, 1).unwrap(), &single.latents);
        assert!(err < 2e-3, "candidate {i}: {err}");
    }
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(batch.images[i], batch.images[j], "candidates {i} and {j}");
        }
    }
}

#[test]
fn interpolation_ends_are_the_two_prompts_and_the_middle_differs() {
    let options = small_options();
    let morph = |alpha| CandidateRequest {
        prompt: "calm piano".into(),
        seed: 1,
        toward: Some(Morph {
            prompt: "fast drums".into(),
            seed: 2,
            alpha,
        }),
    };
    let start = run(&[morph(0.0)], &options);
    let end = run(&[morph(1.0)], &options);
    let middle = run(&[morph(0.5)], &options);
    assert_eq!(
        start,
        run(&[CandidateRequest::new("calm piano", 1)], &options)
    );
    let other = run(&[CandidateRequest::new("fast drums", 2)], &options);
    let diff = |a: &image::RgbImage, b: &image::RgbImage| {
        a.as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y) as u32)
            .max()
            .unwrap()
    };
    assert!(
        diff(&end[0], &other[0]) <= 1,
        "slerp/lerp at 1 must be the other prompt and seed"
    );
    assert_ne!(middle, start);
    assert_ne!(middle, other);
}

#[test]
fn img2img_strength_zero_is_the_encoded_image_and_strength_changes_the_result() {
    let model = tiny_model();
    let init = image::RgbImage::from_fn(128, 64, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 4) as u8, 128])
    });
    let with_strength = |strength| {
        let mut options = small_options();
        options.init = Some(InitImages {
            images: vec![init.clone()],
            strength,
        });
        generate(
            &model,
            &[CandidateRequest::new("piano", 5)],
            &options,
            None,
            &mut |_: f64| {},
            &CancelToken::new(),
        )
        .unwrap()
        .images
    };
    let pixels = images_to_tensor(std::slice::from_ref(&init), &candle_core::Device::Cpu).unwrap();
    let round_trip = tensor_to_images(
        &model
            .vae
            .decode_latents(&model.vae.encode_latents(&pixels).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(with_strength(0.0), round_trip);
    let half = with_strength(0.5);
    assert_eq!(half, with_strength(0.5));
    assert_ne!(half, round_trip);
    assert_ne!(half, with_strength(1.0));
}

#[test]
fn reports_progress_per_step_and_stops_when_cancelled() {
    let model = tiny_model();
    let options = small_options();
    let mut seen = Vec::new();
    generate(
        &model,
        &[CandidateRequest::new("piano", 1)],
        &options,
        None,
        &mut |f: f64| seen.push(f),
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(seen, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    let cancel = CancelToken::new();
    let token = cancel.clone();
    let result = generate(
        &model,
        &[CandidateRequest::new("piano", 1)],
        &options,
        None,
        &mut move |f: f64| {
            if f >= 0.5 {
                token.cancel()
            }
        },
        &cancel,
    );
    assert!(matches!(result, Err(RiffusionError::Cancelled)));
}

#[test]
fn rejects_sizes_that_are_not_multiples_of_8() {
    let mut options = small_options();
    options.width = 100;
    let err = generate(
        &tiny_model(),
        &[CandidateRequest::new("x", 1)],
        &options,
        None,
        &mut |_: f64| {},
        &CancelToken::new(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("multiple of 8"), "{err}");
}

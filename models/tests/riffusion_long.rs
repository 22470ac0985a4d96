//! Long music on the tiny model: a 20 s two-section plan as seamless clip sequences, four
//! distinct candidates, transitions morphing between the sections' prompts.

mod riffusion_common;

use bgm_models::emotion::{
    build_timeline, ClassifiedSegment, Emotion, EmotionScores, TimelineOptions,
};
use bgm_models::plan::{MusicPlan, PlanOptions};
use bgm_models::riffusion::{
    generate_long, plan_clips, LongOptions, SchedulerKind, COLUMNS_PER_SECOND,
};
use bgm_models::spectrogram::{
    ImageToAudioOptions, PhaseInit, SpectrogramConverter, SpectrogramParams,
};
use bgm_models::task::CancelToken;
use riffusion_common::*;

fn segment(start: f64, end: f64, emotion: Emotion) -> ClassifiedSegment {
    ClassifiedSegment {
        start,
        end,
        text: String::new(),
        emotion,
        confidence: 1.0,
        scores: EmotionScores::one_hot(emotion),
    }
}

/// 20 s: joy, then sadness.
pub fn two_section_plan() -> MusicPlan {
    let segments = [
        segment(0.0, 9.0, Emotion::Joy),
        segment(11.0, 20.0, Emotion::Sadness),
    ];
    let timeline = build_timeline(&segments, 20.0, &TimelineOptions::default()).unwrap();
    MusicPlan::from_timeline(&timeline, &PlanOptions::default()).unwrap()
}

fn options(plan: &MusicPlan) -> LongOptions {
    let mut o = LongOptions::from_plan(plan, SchedulerKind::DpmSolverPP2M);
    o.steps = 4;
    o
}

#[test]
fn clips_cover_the_plan_with_overlaps_and_morph_across_the_transition() {
    let plan = two_section_plan();
    assert_eq!(plan.sections.len(), 2);
    let o = options(&plan);
    let clips = plan_clips(&plan, &o).unwrap();
    // 2000 columns: 512 + k·448 ≥ 2000 → 5 clips.
    assert_eq!(clips.len(), 5);
    for pair in clips.windows(2) {
        assert_eq!(pair[1].start_column - pair[0].start_column, 512 - o.overlap);
    }
    let last = clips.last().unwrap();
    assert!(last.start_column + 512 >= 2000);
    assert_eq!(clips[0].candidates.len(), 4);
    // The first clip is the first section's prompt, the last the second's, and some clip in
    // between morphs from one to the other.
    let first = &plan.sections[0].candidates[0].prompt;
    let second = &plan.sections[1].candidates[0].prompt;
    assert_eq!(&clips[0].candidates[0].prompt, first);
    assert!(clips[0].candidates[0].toward.is_none());
    assert!(
        clips.iter().any(|c| c.candidates[0]
            .toward
            .as_ref()
            .is_some_and(|m| &m.prompt == second && &c.candidates[0].prompt == first)),
        "no clip morphs across the transition"
    );
    let end = &last.candidates[0];
    assert!(end.prompt == *second || end.toward.as_ref().is_some_and(|m| m.prompt == *second));
    // Seeds differ between clips and candidates.
    let mut seeds: Vec<u64> = clips
        .iter()
        .flat_map(|c| c.candidates.iter().map(|r| r.seed))
        .collect();
    seeds.sort();
    seeds.dedup();
    assert_eq!(seeds.len(), clips.len() * 4);
}

/// Mean absolute pixel difference between two column ranges of two images.
fn column_diff(a: &image::RgbImage, ax: u32, b: &image::RgbImage, bx: u32, width: u32) -> f64 {
    let mut sum = 0.0;
    for x in 0..width {
        for y in 0..a.height() {
            sum += (a.get_pixel(ax + x, y).0[0] as f64 - b.get_pixel(bx + x, y).0[0] as f64).abs();
        }
    }
    sum / (width * a.height()) as f64
}

#[test]
fn twenty_seconds_of_four_distinct_seamless_candidates() {
    let plan = two_section_plan();
    let o = options(&plan);
    let model = tiny_model();
    let mut fractions = Vec::new();
    let music = generate_long(
        &model,
        &plan,
        &o,
        &mut |f: f64| fractions.push(f),
        &CancelToken::new(),
    )
    .unwrap();
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(fractions.last(), Some(&1.0));
    assert_eq!(music.spectrograms.len(), 4);
    for s in &music.spectrograms {
        assert_eq!((s.width(), s.height()), (2000, 512));
    }
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(
                music.spectrograms[i], music.spectrograms[j],
                "candidates {i} and {j}"
            );
        }
    }
    // Conditioning on the previous clip: each clip's first columns continue the previous clip's
    // last ones (they were denoised from the same latents), far closer than unrelated columns.
    let overlap = o.overlap as u32;
    for clips in &music.clip_images {
        for pair in clips.windows(2) {
            let shared = column_diff(&pair[0], 512 - overlap, &pair[1], 0, overlap);
            let unrelated = column_diff(&pair[0], 512 - overlap, &pair[1], 512 - overlap, overlap);
            assert!(
                shared < unrelated / 2.0,
                "overlap differs by {shared:.2} levels, unrelated columns by {unrelated:.2}"
            );
        }
    }
    // One Griffin-Lim pass over the stitched image: no gaps, no silent stretches at the joins.
    let converter = SpectrogramConverter::new(SpectrogramParams::default()).unwrap();
    let audio = converter
        .image_to_audio(
            &image::DynamicImage::ImageRgb8(music.spectrograms[0].clone()),
            &ImageToAudioOptions {
                phase_init: PhaseInit::Random { seed: 0 },
            },
        )
        .unwrap();
    let samples = &audio.channels[0];
    let seconds = samples.len() as f64 / audio.sample_rate as f64;
    assert!((seconds - 20.0).abs() < 0.02, "{seconds} s");
    let window = (audio.sample_rate / 100) as usize; // 10 ms
    let rms: Vec<f64> = samples
        .chunks(window)
        .map(|c| (c.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect();
    let median = {
        let mut s = rms.clone();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    let silent = rms.iter().filter(|&&r| r < median * 1e-3).count();
    assert_eq!(
        silent, 0,
        "{silent} silent 10 ms windows (median RMS {median:e})"
    );
    for clip in music.clips.iter().skip(1) {
        let join = (clip.start_column as f64 / COLUMNS_PER_SECOND * 100.0) as usize;
        let around = &rms[join.saturating_sub(5)..(join + 5).min(rms.len())];
        assert!(
            around.iter().all(|&r| r > median * 0.05),
            "level dips at the join at {join}0 ms"
        );
    }
}

//! Property tests of the emotion timeline rules (DESIGN.md §3).

use bgm_models::emotion::{
    build_timeline, ClassifiedSegment, Emotion, EmotionScores, Timeline, TimelineOptions,
    CLIP_SECONDS,
};
use proptest::prelude::*;

const EPS: f64 = 1e-6;

fn segment(start: f64, len: f64, emotion: Emotion) -> ClassifiedSegment {
    ClassifiedSegment {
        start,
        end: start + len,
        text: format!("{emotion} words"),
        emotion,
        confidence: 0.9,
        scores: EmotionScores::one_hot(emotion),
    }
}

/// A duration and segments in it (possibly overlapping, unsorted, running past the end).
fn inputs() -> impl Strategy<Value = (f64, Vec<ClassifiedSegment>)> {
    (1.0f64..240.0).prop_flat_map(|duration| {
        let seg = (0.0..duration, 0.0f64..15.0, 0usize..7)
            .prop_map(|(start, len, e)| segment(start, len, Emotion::ALL[e]));
        (Just(duration), prop::collection::vec(seg, 0..40))
    })
}

fn options() -> impl Strategy<Value = TimelineOptions> {
    (
        0.0f64..12.0,
        prop_oneof![Just(CLIP_SECONDS), Just(0.0), 1.0f64..8.0],
    )
        .prop_map(|(min_section_seconds, clip_seconds)| TimelineOptions {
            min_section_seconds,
            clip_seconds,
        })
}

fn check_cover(t: &Timeline) -> Result<(), TestCaseError> {
    prop_assert!(!t.sections.is_empty());
    prop_assert_eq!(t.sections[0].start, 0.0);
    prop_assert!((t.sections.last().unwrap().end - t.duration).abs() < EPS);
    for w in t.sections.windows(2) {
        // No gap, no overlap.
        prop_assert_eq!(w[0].end, w[1].start);
    }
    for s in &t.sections {
        prop_assert!(s.end > s.start, "empty section {:?}", s);
    }
    Ok(())
}

proptest! {
    // 256 cases (PROPTEST_CASES overrides); no regression files in the tree.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn covers_the_video_without_gaps_or_overlaps((duration, segs) in inputs(), opts in options()) {
        let t = build_timeline(&segs, duration, &opts).unwrap();
        check_cover(&t)?;
    }

    #[test]
    fn emotional_sections_are_at_least_the_minimum((duration, segs) in inputs(), opts in options()) {
        let t = build_timeline(&segs, duration, &opts).unwrap();
        for s in &t.sections {
            if s.emotion != Emotion::Neutral {
                prop_assert!(s.duration() >= opts.min_section_seconds - EPS, "{:?}", s);
            }
        }
        // Neighbours never share an emotion (they would have merged).
        for w in t.sections.windows(2) {
            prop_assert_ne!(w[0].emotion, w[1].emotion);
        }
    }

    #[test]
    fn no_short_emotionless_section_between_equal_emotions((duration, segs) in inputs(), opts in options()) {
        let t = build_timeline(&segs, duration, &opts).unwrap();
        for w in t.sections.windows(3) {
            let gap_is_short_and_emotionless =
                w[1].emotion == Emotion::Neutral && w[1].duration() < opts.min_section_seconds - CLIP_SECONDS;
            prop_assert!(!(gap_is_short_and_emotionless && w[0].emotion == w[2].emotion));
        }
    }

    #[test]
    fn boundaries_snap_to_the_grid_or_stay_within_half_a_clip((duration, segs) in inputs(), opts in options()) {
        let t = build_timeline(&segs, duration, &opts).unwrap();
        let unsnapped = build_timeline(&segs, duration, &TimelineOptions { clip_seconds: 0.0, ..opts.clone() }).unwrap();
        prop_assert_eq!(t.sections.len(), unsnapped.sections.len());
        for (s, u) in t.sections.iter().zip(&unsnapped.sections).skip(1) {
            let moved = (s.start - u.start).abs();
            if opts.clip_seconds > 0.0 {
                prop_assert!(moved <= opts.clip_seconds / 2.0 + EPS);
                let on_grid = ((s.start / opts.clip_seconds).round() * opts.clip_seconds - s.start).abs() < 1e-6;
                prop_assert!(on_grid || moved == 0.0, "boundary {} neither snapped nor kept", s.start);
            } else {
                prop_assert_eq!(moved, 0.0);
            }
        }
    }

    #[test]
    fn every_usable_segment_belongs_to_exactly_one_section((duration, segs) in inputs(), opts in options()) {
        let t = build_timeline(&segs, duration, &opts).unwrap();
        let mut seen: Vec<usize> = t.sections.iter().flat_map(|s| s.segments.clone()).collect();
        seen.sort();
        let usable: Vec<usize> = (0..segs.len()).filter(|&i| segs[i].start < duration).collect();
        prop_assert_eq!(seen, usable);
        for s in &t.sections {
            prop_assert!((0.0..=1.0).contains(&s.confidence));
        }
    }

    #[test]
    fn is_deterministic_and_survives_json((duration, segs) in inputs(), opts in options()) {
        let a = build_timeline(&segs, duration, &opts).unwrap();
        let b = build_timeline(&segs, duration, &opts).unwrap();
        prop_assert_eq!(&a, &b);
        // The same segments in another order give the same sections.
        let reversed: Vec<_> = segs.iter().rev().cloned().collect();
        let r = build_timeline(&reversed, duration, &opts).unwrap();
        let shape = |t: &Timeline| t.sections.iter().map(|s| (s.start, s.end, s.emotion)).collect::<Vec<_>>();
        let distinct_starts = {
            let mut starts: Vec<f64> = segs.iter().map(|s| s.start).collect();
            starts.sort_by(f64::total_cmp);
            starts.windows(2).all(|w| w[0] != w[1])
        };
        if distinct_starts {
            prop_assert_eq!(shape(&a), shape(&r));
        }
        // JSON keeps the sections (floats to serde_json's printing precision).
        let json = serde_json::to_string(&a).unwrap();
        let back: Timeline = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(a.sections.len(), back.sections.len());
        for (x, y) in a.sections.iter().zip(&back.sections) {
            prop_assert!((x.start - y.start).abs() < 1e-9 && (x.end - y.end).abs() < 1e-9);
            prop_assert_eq!(x.emotion, y.emotion);
            prop_assert_eq!(&x.segments, &y.segments);
        }
    }
}

#[test]
fn a_video_without_speech_is_one_neutral_section() {
    let t = build_timeline(&[], 73.5, &TimelineOptions::default()).unwrap();
    assert_eq!(t.sections.len(), 1);
    assert_eq!(t.sections[0].emotion, Emotion::Neutral);
    assert_eq!((t.sections[0].start, t.sections[0].end), (0.0, 73.5));
    assert_eq!(t.sections[0].confidence, 0.0);
}

#[test]
fn short_emotion_between_same_emotions_joins_them() {
    use Emotion::*;
    let segs = [
        segment(0.5, 9.0, Joy),
        segment(10.0, 2.0, Fear), // 10..12.5: too short, no emotion of its own
        segment(12.5, 10.0, Joy),
    ];
    let t = build_timeline(&segs, 30.0, &TimelineOptions::default()).unwrap();
    assert_eq!(t.sections.len(), 1);
    assert_eq!(t.sections[0].emotion, Joy);
    assert_eq!(t.sections[0].segments, vec![0, 1, 2]);
}

#[test]
fn time_before_and_after_speech_belongs_to_the_nearest_section() {
    use Emotion::*;
    let segs = [segment(20.0, 8.0, Sadness), segment(40.0, 10.0, Anger)];
    let t = build_timeline(&segs, 90.0, &TimelineOptions::default()).unwrap();
    let got: Vec<_> = t
        .sections
        .iter()
        .map(|s| (s.start, s.end, s.emotion))
        .collect();
    // 40.0 snaps to 40.96 (7.8 clips -> 8).
    assert_eq!(got, vec![(0.0, 40.96, Sadness), (40.96, 90.0, Anger)]);
}

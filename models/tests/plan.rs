//! The music plan: prompts from templates, four distinct candidates, transitions, JSON and
//! validation with errors that name the field.

use bgm_models::emotion::{
    build_timeline, ClassifiedSegment, Emotion, EmotionScores, Timeline, TimelineOptions,
};
use bgm_models::plan::{MusicPlan, PlanError, PlanOptions, CANDIDATES, PLAN_VERSION};

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

fn timeline() -> Timeline {
    use Emotion::*;
    let segs = [
        segment(1.0, 12.0, Joy),
        segment(15.0, 30.0, Sadness),
        segment(31.0, 40.0, Neutral),
        segment(45.0, 58.0, Anger),
    ];
    build_timeline(&segs, 60.0, &TimelineOptions::default()).unwrap()
}

fn plan() -> MusicPlan {
    MusicPlan::from_timeline(&timeline(), &PlanOptions::default()).unwrap()
}

fn field_of(err: PlanError) -> String {
    match err {
        PlanError::Invalid { field, .. } => field,
        other => panic!("expected a field error, got {other}"),
    }
}

#[test]
fn sections_follow_the_timeline_with_prompts_written_for_music() {
    let p = plan();
    assert_eq!(p.version, PLAN_VERSION);
    let emotions: Vec<_> = p.sections.iter().map(|s| s.emotion).collect();
    assert_eq!(
        emotions,
        vec![Emotion::Joy, Emotion::Sadness, Emotion::Anger]
    );
    assert!(p.sections[1].candidates[0].prompt.contains("piano"));
    assert!(p.sections[1].candidates[0].prompt.contains("slow tempo"));
    assert!(p.sections[0].candidates[0].prompt.contains("joyful"));
    assert!(!p.negative_prompt.is_empty());
    assert_eq!(p.guidance_scale, 7.0);
    assert_eq!(p.strength, 0.75);
    assert_eq!(p.transitions.len(), 2);
    for (t, s) in p.transitions.iter().zip(&p.sections) {
        assert_eq!(t.at, s.end);
        assert!(t.seconds > 0.0);
    }
}

#[test]
fn the_four_candidates_really_differ() {
    let p = plan();
    assert_eq!(p.candidates.len(), CANDIDATES);
    for s in &p.sections {
        assert_eq!(s.candidates.len(), CANDIDATES);
        for i in 0..CANDIDATES {
            for j in i + 1..CANDIDATES {
                assert_ne!(s.candidates[i].seed, s.candidates[j].seed);
                assert_ne!(s.candidates[i].prompt, s.candidates[j].prompt);
            }
        }
    }
    // Another base seed gives other seeds; the same one the same plan.
    let other = MusicPlan::from_timeline(
        &timeline(),
        &PlanOptions {
            seed: 99,
            ..PlanOptions::default()
        },
    )
    .unwrap();
    assert_ne!(
        other.sections[0].candidates[0].seed,
        plan().sections[0].candidates[0].seed
    );
    assert_eq!(plan(), plan());
}

#[test]
fn user_overrides_change_the_prompt() {
    let mut t = timeline();
    t.override_emotion(0, Some(Emotion::Fear)).unwrap();
    let p = MusicPlan::from_timeline(&t, &PlanOptions::default()).unwrap();
    assert_eq!(p.sections[0].emotion, Emotion::Fear);
    assert!(p.sections[0].candidates[1]
        .prompt
        .contains("tremolo strings"));
}

#[test]
fn a_video_without_speech_gets_the_neutral_prompt() {
    let t = build_timeline(&[], 30.0, &TimelineOptions::default()).unwrap();
    let p = MusicPlan::from_timeline(&t, &PlanOptions::default()).unwrap();
    assert_eq!(p.sections.len(), 1);
    assert_eq!(p.sections[0].emotion, Emotion::Neutral);
    assert!(p.transitions.is_empty());
}

#[test]
fn json_round_trips() {
    let p = plan();
    let json = p.to_json().unwrap();
    assert!(json.contains("\"version\": 1"));
    assert_eq!(MusicPlan::from_json(&json).unwrap(), p);
}

type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;

fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<MusicPlan, PlanError> {
    let mut value: serde_json::Value = serde_json::from_str(&plan().to_json().unwrap()).unwrap();
    edit(&mut value);
    MusicPlan::from_json(&value.to_string())
}

#[test]
fn validation_names_the_field() {
    use serde_json::json;
    let cases: Vec<(&str, Edit)> = vec![
        ("version", Box::new(|v| v["version"] = json!(2))),
        (
            "version",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("version");
            }),
        ),
        (
            "guidance_scale",
            Box::new(|v| v["guidance_scale"] = json!(0.5)),
        ),
        ("strength", Box::new(|v| v["strength"] = json!(1.5))),
        ("steps", Box::new(|v| v["steps"] = json!(0))),
        ("duration", Box::new(|v| v["duration"] = json!(-1.0))),
        (
            "candidates",
            Box::new(|v| {
                v["candidates"].as_array_mut().unwrap().pop();
            }),
        ),
        ("sections", Box::new(|v| v["sections"] = json!([]))),
        (
            "sections[1].start",
            Box::new(|v| v["sections"][1]["start"] = json!(3.0)),
        ),
        (
            "sections[2].end",
            Box::new(|v| v["sections"][2]["end"] = json!(59.0)),
        ),
        (
            "sections[0].candidates",
            Box::new(|v| {
                v["sections"][0]["candidates"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "sections[1].candidates[2].prompt",
            Box::new(|v| v["sections"][1]["candidates"][2]["prompt"] = json!("  ")),
        ),
        (
            "sections[0].emotion",
            Box::new(|v| v["sections"][0]["emotion"] = json!("happy")),
        ),
        (
            "sections[0].candidates[0].seed",
            Box::new(|v| v["sections"][0]["candidates"][0]["seed"] = json!(-4)),
        ),
        (
            "transitions",
            Box::new(|v| {
                v["transitions"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "transitions[0].at",
            Box::new(|v| v["transitions"][0]["at"] = json!(1.0)),
        ),
        (
            "transitions[1].seconds",
            Box::new(|v| v["transitions"][1]["seconds"] = json!(500.0)),
        ),
        (
            "negative_prompt",
            Box::new(|v| v["negative_prompt"] = json!("x".repeat(1000))),
        ),
    ];
    for (field, edit) in cases {
        let err = edited(edit).expect_err(field);
        let message = err.to_string();
        assert_eq!(field_of(err), field, "{message}");
        assert!(message.contains(field), "{message}");
    }
}

#[test]
fn broken_json_says_where() {
    let err = MusicPlan::from_json("{\"version\": 1,\n  \"sections\": [").unwrap_err();
    assert!(matches!(err, PlanError::Json { line: 2, .. }), "{err}");
}

#[test]
fn one_section_or_one_candidate_can_be_regenerated() {
    let mut p = plan();
    let before = p.clone();
    p.reseed_section(1, 12345).unwrap();
    assert_eq!(p.sections[0], before.sections[0]);
    assert_ne!(
        p.sections[1].candidates[0].seed,
        before.sections[1].candidates[0].seed
    );
    p.set_seed(2, 3, 42).unwrap();
    assert_eq!(p.sections[2].candidates[3].seed, 42);
    p.set_prompt(2, 1, "  epic choir and drums  ").unwrap();
    assert_eq!(p.sections[2].candidates[1].prompt, "epic choir and drums");
    p.validate().unwrap();

    assert_eq!(field_of(p.set_seed(7, 0, 1).unwrap_err()), "sections[7]");
    assert_eq!(
        field_of(p.set_seed(0, 4, 1).unwrap_err()),
        "sections[0].candidates[4]"
    );
    assert_eq!(
        field_of(p.set_prompt(0, 0, "").unwrap_err()),
        "sections[0].candidates[0].prompt"
    );
}

#[test]
fn bad_options_are_refused() {
    let err = MusicPlan::from_timeline(
        &timeline(),
        &PlanOptions {
            strength: 0.0,
            ..PlanOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(field_of(err), "strength");
}

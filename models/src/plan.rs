//! The music plan: what Riffusion should play in each section of the emotion timeline, for each
//! of the four candidates. It is a JSON document (with a `version`) in the job folder that users
//! edit, so [`MusicPlan::from_json`] validates it and names the offending field.
//!
//! # Where the prompt words come from
//! - **Mood, tempo and texture words** per emotion follow the expressive cues that listeners
//!   associate with each emotion in music (Juslin & Laukka 2003, "Communication of emotions in
//!   vocal expression and music performance", Psychological Bulletin 129(5)): anger — fast, loud,
//!   sharp/distorted timbre; fear — irregular or pulsing tempo, low level, tremolo, dissonance;
//!   joy — fast, bright, major; sadness — slow, soft, dull timbre, legato, minor. Disgust and
//!   surprise are not among that review's basic musical emotions; their words follow common
//!   film-scoring practice (atonal, detuned, lurching textures for disgust; sudden accents,
//!   pizzicato and flourishes for surprise). Neutral (sections without an emotion of their own)
//!   is an unobtrusive underscore.
//! - **Genres and instruments** are written in the short "genre + instruments" caption style of
//!   Riffusion's own example prompts (e.g. "acoustic folk violin jam"), which is what the model
//!   was fine-tuned on, and grouped into four palettes — piano, orchestral, electronic, band — one
//!   per candidate, so the four candidates differ in instrumentation while following the same
//!   emotions, and each candidate keeps one palette across sections so its sections fit together.
//! - **Defaults** (guidance 7.0, denoising strength 0.75, 50 steps) are those of Riffusion's
//!   inference server.
//! - **The negative prompt** keeps vocals and speech out of the music, since the music plays under
//!   the video's own dialogue, and steers away from low-quality, noisy output.

use serde::{Deserialize, Serialize};

use crate::emotion::{Emotion, Timeline, CLIP_SECONDS};

/// The plan format this code writes and reads.
pub const PLAN_VERSION: u32 = 1;
/// Candidates per video.
pub const CANDIDATES: usize = 4;
pub const DEFAULT_GUIDANCE_SCALE: f32 = 7.0;
pub const DEFAULT_STRENGTH: f32 = 0.75;
/// DPM-Solver++ 2M (the pipeline's scheduler) at 25 steps matches DDIM at 50: twice the work
/// buys nothing.
pub const DEFAULT_STEPS: u32 = 25;
pub const DEFAULT_NEGATIVE_PROMPT: &str =
    "vocals, singing, speech, talking, low quality, muffled, noisy";
/// Prompts longer than this are surely a mistake (CLIP reads 77 tokens anyway).
pub const MAX_PROMPT_CHARS: usize = 400;

/// Everything that can go wrong with a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the plan is not valid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("plan field `{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("the timeline has no sections; build it again from the transcript")]
    EmptyTimeline,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> PlanError {
    PlanError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The words of one emotion's prompts.
#[derive(Clone, Copy, Debug)]
pub struct EmotionTemplate {
    pub emotion: Emotion,
    pub mood: &'static str,
    pub tempo: &'static str,
    pub texture: &'static str,
    /// Genre and instruments per palette, in [`PALETTES`] order.
    pub instrumentation: [&'static str; CANDIDATES],
    /// A tempo per palette for engines that take one in beats per minute (Stable Audio's
    /// prompts name a BPM, as its training captions did).
    pub bpm: [u16; CANDIDATES],
}

impl EmotionTemplate {
    /// The palette-free description: "mood, tempo, texture".
    pub fn description(&self) -> String {
        format!("{}, {}, {}", self.mood, self.tempo, self.texture)
    }

    /// The full prompt for one palette: "mood instrumentation, tempo, texture".
    pub fn prompt(&self, palette: usize) -> String {
        let instruments = self.instrumentation[palette % CANDIDATES];
        format!(
            "{} {}, {}, {}",
            self.mood, instruments, self.tempo, self.texture
        )
    }
}

/// The four candidates' palettes, by candidate index.
pub const PALETTES: [&str; CANDIDATES] = ["piano", "orchestral", "electronic", "band"];

const TEMPLATES: [EmotionTemplate; 7] = [
    EmotionTemplate {
        emotion: Emotion::Anger,
        mood: "aggressive, intense",
        tempo: "fast driving tempo",
        texture: "loud, heavy and distorted",
        instrumentation: [
            "pounding low piano chords with taiko drums",
            "epic orchestral brass and staccato strings",
            "industrial techno with distorted bass",
            "heavy metal with distorted electric guitars and double kick drums",
        ],
        bpm: [140, 150, 135, 160],
    },
    EmotionTemplate {
        emotion: Emotion::Disgust,
        mood: "uneasy, grotesque, unsettling",
        tempo: "slow lurching tempo",
        texture: "detuned and dissonant",
        instrumentation: [
            "detuned prepared piano clusters",
            "atonal string glissandi and low bassoon",
            "glitchy noise and warped synths",
            "sludgy detuned bass guitar and murky drums",
        ],
        bpm: [70, 66, 90, 72],
    },
    EmotionTemplate {
        emotion: Emotion::Fear,
        mood: "dark, suspenseful, tense",
        tempo: "slow pulsing tempo",
        texture: "dissonant minor key, quiet tremolo",
        instrumentation: [
            "eerie high piano notes over a low drone",
            "horror film score with tremolo strings",
            "dark ambient synth drones with a heartbeat pulse",
            "ominous bass and sparse percussion",
        ],
        bpm: [60, 70, 64, 68],
    },
    EmotionTemplate {
        emotion: Emotion::Joy,
        mood: "joyful, uplifting",
        tempo: "upbeat fast tempo",
        texture: "bright major key",
        instrumentation: [
            "bouncy pop piano with handclaps",
            "playful orchestra with pizzicato strings and glockenspiel",
            "sunny synth-pop with plucky synths",
            "feel-good indie folk with ukulele and tambourine",
        ],
        bpm: [120, 116, 124, 110],
    },
    EmotionTemplate {
        emotion: Emotion::Neutral,
        mood: "calm, unobtrusive background",
        tempo: "moderate tempo",
        texture: "warm and steady",
        instrumentation: [
            "gentle piano with soft pads",
            "light string ensemble",
            "lo-fi beat with mellow electric piano",
            "acoustic guitar and brushed drums",
        ],
        bpm: [90, 96, 84, 92],
    },
    EmotionTemplate {
        emotion: Emotion::Sadness,
        mood: "melancholic, tender",
        tempo: "slow tempo",
        texture: "minor key, soft reverb",
        instrumentation: [
            "solo piano ballad",
            "slow cello and string quartet",
            "ambient pads with distant echoes",
            "fingerpicked acoustic guitar",
        ],
        bpm: [66, 60, 72, 76],
    },
    EmotionTemplate {
        emotion: Emotion::Surprise,
        mood: "surprising, playful, curious",
        tempo: "lively tempo with sudden accents",
        texture: "bright and bouncy",
        instrumentation: [
            "whimsical ragtime piano",
            "quirky orchestra with pizzicato and woodwind flourishes",
            "sparkling arpeggiated synths",
            "funky bass and staccato brass stabs",
        ],
        bpm: [112, 120, 126, 104],
    },
];

/// The template of an emotion.
pub fn template(emotion: Emotion) -> &'static EmotionTemplate {
    TEMPLATES
        .iter()
        .find(|t| t.emotion == emotion)
        .unwrap_or(&TEMPLATES[4])
}

/// Settings for [`MusicPlan::from_timeline`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// Base seed; every section and candidate seed derives from it.
    pub seed: u32,
    pub guidance_scale: f32,
    pub strength: f32,
    pub steps: u32,
    pub negative_prompt: String,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            guidance_scale: DEFAULT_GUIDANCE_SCALE,
            strength: DEFAULT_STRENGTH,
            steps: DEFAULT_STEPS,
            negative_prompt: DEFAULT_NEGATIVE_PROMPT.to_string(),
        }
    }
}

/// One candidate of the whole video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateStyle {
    /// The palette name ("piano", "orchestral", …).
    pub palette: String,
}

/// What one candidate plays in one section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SectionCandidate {
    pub seed: u32,
    pub prompt: String,
}

/// One section of the video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanSection {
    pub start: f64,
    pub end: f64,
    pub emotion: Emotion,
    /// The palette-free description of the section's music (for display).
    pub description: String,
    /// One per candidate, in candidate order.
    pub candidates: Vec<SectionCandidate>,
}

/// The morph from section `index` to section `index + 1`, centred on their boundary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The boundary, seconds.
    pub at: f64,
    /// Length of the morph, seconds.
    pub seconds: f64,
    /// The boundary was moved onto a shot cut of the video.
    #[serde(default)]
    pub snapped: bool,
}

/// The plan for the four candidates of a video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MusicPlan {
    pub version: u32,
    pub duration: f64,
    /// Length of one spectrogram clip, seconds.
    pub clip_seconds: f64,
    pub seed: u32,
    pub guidance_scale: f32,
    /// Denoising strength when a seed image is used (0 keeps the image, 1 ignores it).
    pub strength: f32,
    pub steps: u32,
    pub negative_prompt: String,
    pub candidates: Vec<CandidateStyle>,
    pub sections: Vec<PlanSection>,
    /// One per boundary: `transitions[i]` joins `sections[i]` and `sections[i + 1]`.
    pub transitions: Vec<Transition>,
}

/// The seeds of one section's candidates: derived from (base, section, candidate), all distinct.
pub fn section_seeds(base: u32, section: usize) -> [u32; CANDIDATES] {
    let mut seeds = [0u32; CANDIDATES];
    for k in 0..CANDIDATES {
        let mut salt = 0u64;
        loop {
            let key = (u64::from(base) << 32) ^ ((section as u64) << 8) ^ (k as u64) ^ (salt << 40);
            let seed = (crate::seed::splitmix64(key) >> 32) as u32;
            if !seeds[..k].contains(&seed) {
                seeds[k] = seed;
                break;
            }
            salt += 1;
        }
    }
    seeds
}

/// How valence groups emotions, for transition lengths.
fn valence(emotion: Emotion) -> i8 {
    match emotion {
        Emotion::Joy | Emotion::Surprise => 1,
        Emotion::Neutral => 0,
        Emotion::Anger | Emotion::Disgust | Emotion::Fear | Emotion::Sadness => -1,
    }
}

/// Transition length between two sections: one clip (one interpolated image) normally; half a
/// clip between emotions of opposite valence, where a long morph would pass through a muddle of
/// both moods; never more than half of the shorter section, so each keeps music of its own.
pub fn transition_seconds(
    from: Emotion,
    to: Emotion,
    from_len: f64,
    to_len: f64,
    clip: f64,
) -> f64 {
    let base = if valence(from) * valence(to) < 0 {
        clip / 2.0
    } else {
        clip
    };
    base.min(from_len / 2.0).min(to_len / 2.0).max(0.0)
}

impl MusicPlan {
    /// Moves each section boundary (and the morph centred on it) onto the nearest shot cut
    /// within `within` seconds, so the music changes with the picture. A boundary with no cut
    /// that near stays where the speech put it: the emotion's timing wins. Each section keeps
    /// at least a second, and the morphs are shortened to fit the moved sections.
    pub fn snap_to_cuts(&mut self, cuts: &[f64], within: f64) {
        const MIN_SECTION: f64 = 1.0;
        for i in 0..self.transitions.len() {
            let (Some(before), Some(after)) = (self.sections.get(i), self.sections.get(i + 1))
            else {
                continue;
            };
            let at = self.transitions[i].at;
            let (lo, hi) = (before.start + MIN_SECTION, after.end - MIN_SECTION);
            let nearest = cuts
                .iter()
                .copied()
                .filter(|&c| (c - at).abs() <= within && c >= lo && c <= hi)
                .min_by(|a, b| (a - at).abs().total_cmp(&(b - at).abs()));
            let Some(cut) = nearest else { continue };
            self.sections[i].end = cut;
            self.sections[i + 1].start = cut;
            let (from, to) = (&self.sections[i], &self.sections[i + 1]);
            let fits = transition_seconds(
                from.emotion,
                to.emotion,
                from.end - from.start,
                to.end - to.start,
                self.clip_seconds,
            );
            let transition = &mut self.transitions[i];
            transition.at = cut;
            transition.seconds = transition.seconds.min(fits);
            transition.snapped = true;
        }
    }

    /// The plan for a timeline: per section the effective emotion's template, four candidates
    /// (one palette each) with distinct seeds, and a transition at each boundary.
    pub fn from_timeline(timeline: &Timeline, options: &PlanOptions) -> Result<Self, PlanError> {
        if timeline.sections.is_empty() {
            return Err(PlanError::EmptyTimeline);
        }
        let clip = CLIP_SECONDS;
        let sections: Vec<PlanSection> = timeline
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let emotion = s.effective_emotion();
                let t = template(emotion);
                let seeds = section_seeds(options.seed, i);
                PlanSection {
                    start: s.start,
                    end: s.end,
                    emotion,
                    description: t.description(),
                    candidates: (0..CANDIDATES)
                        .map(|k| SectionCandidate {
                            seed: seeds[k],
                            prompt: t.prompt(k),
                        })
                        .collect(),
                }
            })
            .collect();
        let transitions = sections
            .windows(2)
            .map(|w| Transition {
                at: w[0].end,
                seconds: transition_seconds(
                    w[0].emotion,
                    w[1].emotion,
                    w[0].end - w[0].start,
                    w[1].end - w[1].start,
                    clip,
                ),
                snapped: false,
            })
            .collect();
        let plan = Self {
            version: PLAN_VERSION,
            duration: timeline.duration,
            clip_seconds: clip,
            seed: options.seed,
            guidance_scale: options.guidance_scale,
            strength: options.strength,
            steps: options.steps,
            negative_prompt: options.negative_prompt.clone(),
            candidates: PALETTES
                .iter()
                .map(|p| CandidateStyle {
                    palette: p.to_string(),
                })
                .collect(),
            sections,
            transitions,
        };
        plan.validate()?;
        Ok(plan)
    }

    /// New seeds for every candidate of one section (to re-generate that section), derived
    /// from `base` as [`section_seeds`] does.
    pub fn reseed_section(&mut self, section: usize, base: u32) -> Result<(), PlanError> {
        let seeds = section_seeds(base, section);
        let s = self.section_mut(section)?;
        for (c, seed) in s.candidates.iter_mut().zip(seeds) {
            c.seed = seed;
        }
        Ok(())
    }

    /// The user's emotion for one section: its description and every candidate's prompt come
    /// from that emotion's template (seeds are kept), and the transitions at its edges follow.
    pub fn set_emotion(&mut self, section: usize, emotion: Emotion) -> Result<(), PlanError> {
        let t = template(emotion);
        let s = self.section_mut(section)?;
        s.emotion = emotion;
        s.description = t.description();
        for (k, c) in s.candidates.iter_mut().enumerate() {
            c.prompt = t.prompt(k);
        }
        for (i, transition) in self.transitions.iter_mut().enumerate() {
            let (a, b) = (&self.sections[i], &self.sections[i + 1]);
            transition.seconds = transition_seconds(
                a.emotion,
                b.emotion,
                a.end - a.start,
                b.end - b.start,
                self.clip_seconds,
            );
        }
        Ok(())
    }

    /// Sets one candidate's seed in one section (to re-generate just that candidate).
    pub fn set_seed(
        &mut self,
        section: usize,
        candidate: usize,
        seed: u32,
    ) -> Result<(), PlanError> {
        self.candidate_mut(section, candidate)?.seed = seed;
        Ok(())
    }

    /// Sets one candidate's prompt in one section; the prompt is checked like a loaded one.
    pub fn set_prompt(
        &mut self,
        section: usize,
        candidate: usize,
        prompt: &str,
    ) -> Result<(), PlanError> {
        check_prompt(
            &format!("sections[{section}].candidates[{candidate}].prompt"),
            prompt,
            false,
        )?;
        self.candidate_mut(section, candidate)?.prompt = prompt.trim().to_string();
        Ok(())
    }

    fn section_mut(&mut self, section: usize) -> Result<&mut PlanSection, PlanError> {
        let count = self.sections.len();
        self.sections.get_mut(section).ok_or_else(|| {
            invalid(
                format!("sections[{section}]"),
                format!("does not exist; the plan has {count} sections"),
            )
        })
    }

    fn candidate_mut(
        &mut self,
        section: usize,
        candidate: usize,
    ) -> Result<&mut SectionCandidate, PlanError> {
        let s = self.section_mut(section)?;
        let count = s.candidates.len();
        s.candidates.get_mut(candidate).ok_or_else(|| {
            invalid(
                format!("sections[{section}].candidates[{candidate}]"),
                format!("does not exist; the section has {count} candidates"),
            )
        })
    }

    /// Parses and validates a plan (e.g. one the user edited).
    pub fn from_json(text: &str) -> Result<Self, PlanError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(json_error)?;
        match value.get("version") {
            None => return Err(invalid("version", "missing; this app reads version 1")),
            Some(v) if v.as_u64() != Some(u64::from(PLAN_VERSION)) => {
                return Err(invalid(
                    "version",
                    format!("{v} is not supported; this app reads version {PLAN_VERSION}"),
                ))
            }
            Some(_) => {}
        }
        let plan: Self = serde_path_to_error::deserialize(value).map_err(|e| {
            let field = e.path().to_string();
            invalid(field, e.into_inner().to_string())
        })?;
        plan.validate()?;
        Ok(plan)
    }

    /// Pretty JSON, as stored in the job folder.
    pub fn to_json(&self) -> Result<String, PlanError> {
        serde_json::to_string_pretty(self).map_err(json_error)
    }

    /// Checks every field a user might have broken; the error names the field.
    pub fn validate(&self) -> Result<(), PlanError> {
        const EPS: f64 = 1e-6;
        if self.version != PLAN_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "{} is not supported; this app reads version {PLAN_VERSION}",
                    self.version
                ),
            ));
        }
        if !(self.duration.is_finite() && self.duration > 0.0) {
            return Err(invalid("duration", "must be a positive number of seconds"));
        }
        if !(self.clip_seconds.is_finite() && self.clip_seconds > 0.0) {
            return Err(invalid(
                "clip_seconds",
                "must be a positive number of seconds",
            ));
        }
        if !(self.guidance_scale.is_finite() && (1.0..=30.0).contains(&self.guidance_scale)) {
            return Err(invalid("guidance_scale", "must be between 1 and 30"));
        }
        if !(self.strength.is_finite() && self.strength > 0.0 && self.strength <= 1.0) {
            return Err(invalid("strength", "must be above 0 and at most 1"));
        }
        if !(1..=1000).contains(&self.steps) {
            return Err(invalid("steps", "must be between 1 and 1000"));
        }
        check_prompt("negative_prompt", &self.negative_prompt, true)?;
        if self.candidates.len() != CANDIDATES {
            return Err(invalid(
                "candidates",
                format!(
                    "must list {CANDIDATES} candidates, not {}",
                    self.candidates.len()
                ),
            ));
        }
        if self.sections.is_empty() {
            return Err(invalid("sections", "must not be empty"));
        }
        let mut expected_start = 0.0;
        for (i, s) in self.sections.iter().enumerate() {
            let field = |name: &str| format!("sections[{i}].{name}");
            if !(s.start.is_finite() && (s.start - expected_start).abs() <= EPS) {
                return Err(invalid(
                    field("start"),
                    format!(
                        "must be {expected_start} (where the previous section ends): sections cover the video without gaps or overlaps"
                    ),
                ));
            }
            if !(s.end.is_finite() && s.end > s.start + EPS) {
                return Err(invalid(field("end"), "must be after the section's start"));
            }
            if s.candidates.len() != CANDIDATES {
                return Err(invalid(
                    field("candidates"),
                    format!("must have {CANDIDATES} entries, not {}", s.candidates.len()),
                ));
            }
            for (k, c) in s.candidates.iter().enumerate() {
                check_prompt(
                    &format!("sections[{i}].candidates[{k}].prompt"),
                    &c.prompt,
                    false,
                )?;
            }
            expected_start = s.end;
        }
        if (expected_start - self.duration).abs() > EPS {
            return Err(invalid(
                format!("sections[{}].end", self.sections.len() - 1),
                format!("must be the video's duration, {}", self.duration),
            ));
        }
        if self.transitions.len() != self.sections.len() - 1 {
            return Err(invalid(
                "transitions",
                format!(
                    "must have one entry per boundary ({}), not {}",
                    self.sections.len() - 1,
                    self.transitions.len()
                ),
            ));
        }
        for (i, t) in self.transitions.iter().enumerate() {
            let (a, b) = (&self.sections[i], &self.sections[i + 1]);
            if !(t.at.is_finite() && (t.at - a.end).abs() <= EPS) {
                return Err(invalid(
                    format!("transitions[{i}].at"),
                    format!(
                        "must be the boundary between sections {i} and {}, {}",
                        i + 1,
                        a.end
                    ),
                ));
            }
            let limit = (a.end - a.start).min(b.end - b.start);
            if !(t.seconds.is_finite() && t.seconds >= 0.0 && t.seconds <= limit + EPS) {
                return Err(invalid(
                    format!("transitions[{i}].seconds"),
                    format!("must be between 0 and {limit:.2} (the shorter section's length)"),
                ));
            }
        }
        Ok(())
    }
}

fn check_prompt(field: &str, prompt: &str, may_be_empty: bool) -> Result<(), PlanError> {
    if !may_be_empty && prompt.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(invalid(
            field,
            format!("is longer than {MAX_PROMPT_CHARS} characters"),
        ));
    }
    Ok(())
}

fn json_error(e: serde_json::Error) -> PlanError {
    PlanError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_emotion_has_its_own_template() {
        for e in Emotion::ALL {
            assert_eq!(template(e).emotion, e);
        }
        assert_eq!(
            template(Emotion::Sadness).prompt(0),
            "melancholic, tender solo piano ballad, slow tempo, minor key, soft reverb"
        );
    }

    #[test]
    fn seeds_are_distinct_and_stable() {
        for section in 0..50 {
            let s = section_seeds(7, section);
            for i in 0..CANDIDATES {
                for j in i + 1..CANDIDATES {
                    assert_ne!(s[i], s[j]);
                }
            }
            assert_eq!(s, section_seeds(7, section));
        }
        assert_ne!(section_seeds(7, 0), section_seeds(8, 0));
    }

    #[test]
    fn a_users_emotion_gives_the_plan_that_timeline_would() {
        use crate::emotion::Section;
        let section = |start: f64, end: f64, emotion| Section {
            start,
            end,
            emotion,
            confidence: 0.8,
            segments: vec![],
            user_emotion: None,
        };
        let mut timeline = Timeline {
            duration: 30.0,
            options: Default::default(),
            sections: vec![
                section(0.0, 10.24, Emotion::Joy),
                section(10.24, 30.0, Emotion::Neutral),
            ],
        };
        let options = PlanOptions::default();
        let mut edited = MusicPlan::from_timeline(&timeline, &options).unwrap();
        edited.set_emotion(1, Emotion::Sadness).unwrap();
        timeline
            .override_emotion(1, Some(Emotion::Sadness))
            .unwrap();
        assert_eq!(
            edited,
            MusicPlan::from_timeline(&timeline, &options).unwrap()
        );
        assert!(edited.set_emotion(2, Emotion::Fear).is_err());
    }

    #[test]
    fn boundaries_snap_to_cuts_within_reach_and_the_speech_wins_beyond() {
        use crate::emotion::Section;
        let section = |start: f64, end: f64, emotion| Section {
            start,
            end,
            emotion,
            confidence: 0.8,
            segments: vec![],
            user_emotion: None,
        };
        let timeline = Timeline {
            duration: 40.0,
            options: Default::default(),
            sections: vec![
                section(0.0, 10.0, Emotion::Joy),
                section(10.0, 20.0, Emotion::Sadness),
                section(20.0, 40.0, Emotion::Neutral),
            ],
        };
        let mut plan = MusicPlan::from_timeline(&timeline, &PlanOptions::default()).unwrap();
        // 8.5 s is the nearest cut to 10 s (11.6 s is 0.1 s farther); none is within 2 s of 20 s.
        plan.snap_to_cuts(&[3.0, 8.5, 11.6, 23.0, 39.5], 2.0);
        assert_eq!((plan.sections[0].end, plan.sections[1].start), (8.5, 8.5));
        assert!(plan.transitions[0].snapped && plan.transitions[0].at == 8.5);
        assert_eq!(plan.sections[1].end, 20.0);
        assert!(!plan.transitions[1].snapped);
        // The morph still fits the sections on either side.
        let t = &plan.transitions[0];
        assert!(t.seconds <= (plan.sections[0].end - plan.sections[0].start) / 2.0);
        // A cut that would leave a section under a second is not taken.
        let mut short = MusicPlan::from_timeline(&timeline, &PlanOptions::default()).unwrap();
        short.snap_to_cuts(&[19.5], 2.0);
        assert!(short.transitions[1].snapped);
        short.snap_to_cuts(&[0.5], 10.0);
        assert_eq!(short.sections[0].end, 10.0);
        let json = short.to_json().unwrap();
        assert_eq!(MusicPlan::from_json(&json).unwrap(), short);
    }

    #[test]
    fn transitions_fit_their_sections() {
        let t = transition_seconds(Emotion::Joy, Emotion::Sadness, 20.0, 20.0, CLIP_SECONDS);
        assert_eq!(t, CLIP_SECONDS / 2.0);
        let t = transition_seconds(Emotion::Neutral, Emotion::Sadness, 3.0, 20.0, CLIP_SECONDS);
        assert_eq!(t, 1.5);
    }
}

//! Stage 1b: the emotion of every transcript segment, and the emotion timeline built from them.
//!
//! - [`EmotionClassifier`] runs `j-hartmann/emotion-english-distilroberta-base` (RoBERTa, 7 labels)
//!   through candle-transformers' XLM-RoBERTa sequence classifier and gives every segment all
//!   seven softmax scores ([`ClassifiedSegment`]).
//! - [`build_timeline`] turns classified segments into [`Timeline`] sections by the rules of
//!   DESIGN.md §3 (see the `timeline` module docs).

mod classifier;
mod error;
mod timeline;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use classifier::{
    EmotionClassifier, RobertaSettings, DEFAULT_BATCH_SIZE, MAX_TOKENS, MODEL_NAME,
};
pub use error::EmotionError;
pub use timeline::{
    build_timeline, Section, Timeline, TimelineOptions, CLIP_SECONDS, DEFAULT_MIN_SECTION_SECONDS,
};

/// What the `emotions` stage produces: every segment with its scores, and the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmotionReport {
    pub segments: Vec<ClassifiedSegment>,
    pub timeline: Timeline,
}

/// The whole stage: classifies `segments` (in batches of [`DEFAULT_BATCH_SIZE`]) and builds the
/// timeline of a video `duration` seconds long. With no segments the model is not run and the
/// timeline is one neutral section.
pub fn analyse_transcript(
    classifier: &EmotionClassifier,
    segments: &[TranscriptSegment],
    duration: f64,
    options: &TimelineOptions,
    progress: &mut dyn crate::task::Progress,
    cancel: &crate::task::CancelToken,
) -> Result<EmotionReport, EmotionError> {
    let classified =
        classifier.classify_segments(segments, DEFAULT_BATCH_SIZE, progress, cancel)?;
    let timeline = build_timeline(&classified, duration, options)?;
    Ok(EmotionReport {
        segments: classified,
        timeline,
    })
}

/// One of the classifier's seven emotions. `Neutral` also marks a section without an emotion of
/// its own (it gets the plan's neutral prompt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Anger,
    Disgust,
    Fear,
    Joy,
    Neutral,
    Sadness,
    Surprise,
}

impl Emotion {
    /// All seven, in the reference model's label order.
    pub const ALL: [Emotion; 7] = [
        Emotion::Anger,
        Emotion::Disgust,
        Emotion::Fear,
        Emotion::Joy,
        Emotion::Neutral,
        Emotion::Sadness,
        Emotion::Surprise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Anger => "anger",
            Emotion::Disgust => "disgust",
            Emotion::Fear => "fear",
            Emotion::Joy => "joy",
            Emotion::Neutral => "neutral",
            Emotion::Sadness => "sadness",
            Emotion::Surprise => "surprise",
        }
    }

    /// Position in [`Emotion::ALL`].
    pub fn index(self) -> usize {
        Emotion::ALL
            .iter()
            .position(|&e| e == self)
            .unwrap_or_default()
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Emotion {
    type Err = EmotionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Emotion::ALL
            .into_iter()
            .find(|e| e.as_str() == lower)
            .ok_or_else(|| EmotionError::UnknownEmotion(s.to_string()))
    }
}

/// A transcript segment: absolute times in seconds in the video, and its (English) text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptSegment {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

impl From<&crate::stt::Segment> for TranscriptSegment {
    fn from(s: &crate::stt::Segment) -> Self {
        Self {
            start: s.start,
            end: s.end,
            text: s.text.clone(),
        }
    }
}

/// The seven softmax scores of one segment (they sum to 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmotionScores {
    pub anger: f32,
    pub disgust: f32,
    pub fear: f32,
    pub joy: f32,
    pub neutral: f32,
    pub sadness: f32,
    pub surprise: f32,
}

impl EmotionScores {
    pub fn get(&self, emotion: Emotion) -> f32 {
        match emotion {
            Emotion::Anger => self.anger,
            Emotion::Disgust => self.disgust,
            Emotion::Fear => self.fear,
            Emotion::Joy => self.joy,
            Emotion::Neutral => self.neutral,
            Emotion::Sadness => self.sadness,
            Emotion::Surprise => self.surprise,
        }
    }

    pub fn set(&mut self, emotion: Emotion, value: f32) {
        let slot = match emotion {
            Emotion::Anger => &mut self.anger,
            Emotion::Disgust => &mut self.disgust,
            Emotion::Fear => &mut self.fear,
            Emotion::Joy => &mut self.joy,
            Emotion::Neutral => &mut self.neutral,
            Emotion::Sadness => &mut self.sadness,
            Emotion::Surprise => &mut self.surprise,
        };
        *slot = value;
    }

    /// A one-hot score set (for tests and for user-labelled segments).
    pub fn one_hot(emotion: Emotion) -> Self {
        let mut scores = Self::default();
        scores.set(emotion, 1.0);
        scores
    }

    /// The highest-scoring emotion and its score; ties go to the earlier label. Non-finite
    /// scores never win.
    pub fn top(&self) -> (Emotion, f32) {
        let mut best = (Emotion::Neutral, f32::NEG_INFINITY);
        for emotion in Emotion::ALL {
            let score = self.get(emotion);
            if score.is_finite() && score > best.1 {
                best = (emotion, score);
            }
        }
        if best.1.is_finite() {
            best
        } else {
            (Emotion::Neutral, 0.0)
        }
    }
}

/// A transcript segment with its scores and its top emotion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifiedSegment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// The top-scoring emotion.
    pub emotion: Emotion,
    /// The top emotion's score.
    pub confidence: f32,
    pub scores: EmotionScores,
}

impl ClassifiedSegment {
    pub fn new(segment: &TranscriptSegment, scores: EmotionScores) -> Self {
        let (emotion, confidence) = scores.top();
        Self {
            start: segment.start,
            end: segment.end,
            text: segment.text.clone(),
            emotion,
            confidence,
            scores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emotions_parse_and_order() {
        assert_eq!("Joy".parse::<Emotion>().unwrap(), Emotion::Joy);
        assert!("happy".parse::<Emotion>().is_err());
        assert_eq!(Emotion::Sadness.index(), 5);
    }

    #[test]
    fn top_ignores_nan() {
        let mut s = EmotionScores::one_hot(Emotion::Fear);
        s.anger = f32::NAN;
        assert_eq!(s.top(), (Emotion::Fear, 1.0));
        let nan = EmotionScores {
            anger: f32::NAN,
            disgust: f32::NAN,
            fear: f32::NAN,
            joy: f32::NAN,
            neutral: f32::NAN,
            sadness: f32::NAN,
            surprise: f32::NAN,
        };
        assert_eq!(nan.top(), (Emotion::Neutral, 0.0));
    }
}

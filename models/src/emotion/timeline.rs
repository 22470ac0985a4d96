//! The emotion timeline: sections of the video, each with one emotion (or none, shown as neutral).
//!
//! Rules (DESIGN.md §3, the original system's, made precise), applied in this order:
//! 1. Segments are taken in order of start time (invalid ones — non-finite times, end before start,
//!    outside the video — are clamped or skipped). A section starts at the start of a segment whose
//!    emotion is not neutral and differs from the current section's; neutral segments (and silence)
//!    extend the current section. The first section starts at 0 and the last ends at the video's
//!    duration: time before the first speech and after the last belongs to the nearest section.
//! 2. A section shorter than the minimum (default 5 s) has no emotion of its own: it becomes
//!    neutral. Adjacent sections with the same emotion merge.
//! 3. A short (below the minimum) emotionless section between two sections of the same emotion
//!    takes that emotion, and the three merge.
//! 4. Interior boundaries snap to the 5.12 s clip grid when the nearest grid point is at most half
//!    a clip away, stays strictly after the previous boundary and before the duration, and leaves
//!    every emotional section at least the minimum long; otherwise the boundary stays.
//!
//! A video without speech is one neutral section. The result is deterministic.

use serde::{Deserialize, Serialize};

use super::{ClassifiedSegment, Emotion, EmotionError};

/// One Riffusion spectrogram image: 512 columns of 10 ms.
pub const CLIP_SECONDS: f64 = 5.12;
/// Sections shorter than this have no emotion of their own.
pub const DEFAULT_MIN_SECTION_SECONDS: f64 = 5.0;

/// Boundaries closer than this are the same boundary.
const EPS: f64 = 1e-6;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineOptions {
    /// Minimum length of a section with an emotion of its own, seconds.
    pub min_section_seconds: f64,
    /// The clip grid boundaries snap to, seconds (0 disables snapping).
    pub clip_seconds: f64,
}

impl Default for TimelineOptions {
    fn default() -> Self {
        Self {
            min_section_seconds: DEFAULT_MIN_SECTION_SECONDS,
            clip_seconds: CLIP_SECONDS,
        }
    }
}

/// A section of the video with one emotion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub start: f64,
    pub end: f64,
    /// The emotion the rules gave the section (`Neutral`: no emotion of its own).
    pub emotion: Emotion,
    /// Duration-weighted mean score of `emotion` over the section's segments (0 without speech).
    pub confidence: f32,
    /// Indices (into the classified segments given to [`build_timeline`]) of the segments that
    /// start in this section.
    pub segments: Vec<usize>,
    /// The user's choice, which wins over `emotion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_emotion: Option<Emotion>,
}

impl Section {
    /// The emotion the music should follow: the user's override, else the detected one.
    pub fn effective_emotion(&self) -> Emotion {
        self.user_emotion.unwrap_or(self.emotion)
    }

    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

/// Sections covering `0..duration` without gaps or overlaps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub duration: f64,
    pub options: TimelineOptions,
    pub sections: Vec<Section>,
}

impl Timeline {
    /// Sets (or with `None` clears) the user's emotion for section `index`.
    pub fn override_emotion(
        &mut self,
        index: usize,
        emotion: Option<Emotion>,
    ) -> Result<(), EmotionError> {
        let count = self.sections.len();
        let section = self
            .sections
            .get_mut(index)
            .ok_or(EmotionError::NoSuchSection { index, count })?;
        section.user_emotion = emotion;
        Ok(())
    }

    /// The section that contains time `t` (the last one for `t >= duration`).
    pub fn section_at(&self, t: f64) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| t < s.end)
            .or(self.sections.last())
    }
}

/// A section while the rules run: its start, emotion and segments (its end is the next start).
#[derive(Clone, Debug)]
struct Draft {
    start: f64,
    emotion: Emotion,
    segments: Vec<usize>,
}

/// Builds the timeline of a video `duration` seconds long from its classified segments.
pub fn build_timeline(
    segments: &[ClassifiedSegment],
    duration: f64,
    options: &TimelineOptions,
) -> Result<Timeline, EmotionError> {
    if !(duration.is_finite() && duration > 0.0) {
        return Err(EmotionError::BadDuration(duration));
    }
    let min = options.min_section_seconds;
    if !(min.is_finite() && min >= 0.0) {
        return Err(EmotionError::BadMinimum(min));
    }

    // Usable segments, clamped to the video, in start order (ties by index: deterministic).
    let mut order: Vec<(usize, f64, f64)> = segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.start.is_finite() && s.end.is_finite() && s.end >= s.start)
        .map(|(i, s)| (i, s.start.clamp(0.0, duration), s.end.clamp(0.0, duration)))
        .filter(|&(_, start, _)| start < duration)
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));

    // Rule 1: raw sections.
    let mut drafts: Vec<Draft> = Vec::new();
    for &(index, start, _) in &order {
        let emotion = segments[index].emotion;
        match drafts.last_mut() {
            Some(current) if emotion == Emotion::Neutral || emotion == current.emotion => {
                current.segments.push(index)
            }
            Some(current) if start <= current.start + EPS => {
                // Same start as the current section: nothing of it would remain; it takes the
                // new emotion and keeps its segments.
                current.emotion = emotion;
                current.segments.push(index);
            }
            _ => drafts.push(Draft {
                start,
                emotion,
                segments: vec![index],
            }),
        }
    }
    if drafts.is_empty() {
        drafts.push(Draft {
            start: 0.0,
            emotion: Emotion::Neutral,
            segments: Vec::new(),
        });
    }
    drafts[0].start = 0.0;
    drafts = coalesce(drafts);

    // Rule 2: short sections have no emotion of their own.
    let lengths = draft_lengths(&drafts, duration);
    for (draft, &len) in drafts.iter_mut().zip(&lengths) {
        if len < min {
            draft.emotion = Emotion::Neutral;
        }
    }
    drafts = coalesce(drafts);

    // Rule 3: a short emotionless gap between two sections of one emotion takes that emotion.
    let lengths = draft_lengths(&drafts, duration);
    let emotions: Vec<Emotion> = drafts.iter().map(|d| d.emotion).collect();
    for i in 1..drafts.len().saturating_sub(1) {
        if emotions[i] == Emotion::Neutral
            && lengths[i] < min
            && emotions[i - 1] == emotions[i + 1]
            && emotions[i - 1] != Emotion::Neutral
        {
            drafts[i].emotion = emotions[i - 1];
        }
    }
    drafts = coalesce(drafts);

    // Rule 4: snap interior boundaries to the clip grid.
    let mut bounds: Vec<f64> = drafts.iter().map(|d| d.start).collect();
    bounds.push(duration);
    let clip = options.clip_seconds;
    if clip.is_finite() && clip > 0.0 {
        let emotional = |i: usize| drafts[i].emotion != Emotion::Neutral;
        for b in 1..bounds.len() - 1 {
            let original = bounds[b];
            let grid = (original / clip).round() * clip;
            let (prev, next) = (bounds[b - 1], bounds[b + 1]);
            let moves_little = (grid - original).abs() <= clip / 2.0 + EPS;
            let ordered = grid > prev + EPS && grid < next - EPS;
            let left_ok = !emotional(b - 1) || grid - prev >= min - EPS;
            let right_ok = !emotional(b) || next - grid >= min - EPS;
            if moves_little && ordered && left_ok && right_ok {
                bounds[b] = grid;
            }
        }
    }

    let sections = drafts
        .into_iter()
        .enumerate()
        .map(|(i, draft)| Section {
            start: bounds[i],
            end: bounds[i + 1],
            confidence: confidence(segments, &draft, duration),
            emotion: draft.emotion,
            segments: draft.segments,
            user_emotion: None,
        })
        .collect();
    Ok(Timeline {
        duration,
        options: options.clone(),
        sections,
    })
}

/// Merges neighbours with the same emotion.
fn coalesce(drafts: Vec<Draft>) -> Vec<Draft> {
    let mut out: Vec<Draft> = Vec::with_capacity(drafts.len());
    for draft in drafts {
        match out.last_mut() {
            Some(last) if last.emotion == draft.emotion => last.segments.extend(draft.segments),
            _ => out.push(draft),
        }
    }
    out
}

fn draft_lengths(drafts: &[Draft], duration: f64) -> Vec<f64> {
    (0..drafts.len())
        .map(|i| {
            let end = drafts.get(i + 1).map_or(duration, |d| d.start);
            end - drafts[i].start
        })
        .collect()
}

fn confidence(segments: &[ClassifiedSegment], draft: &Draft, duration: f64) -> f32 {
    let mut weighted = 0.0f64;
    let mut total = 0.0f64;
    for &i in &draft.segments {
        let s = &segments[i];
        // Zero-length segments still count, a little.
        let weight = (s.end.min(duration) - s.start.max(0.0)).max(0.0) + 1e-3;
        let score = s.scores.get(draft.emotion);
        if score.is_finite() {
            weighted += weight * f64::from(score);
            total += weight;
        }
    }
    if total > 0.0 {
        (weighted / total) as f32
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emotion::EmotionScores;

    fn seg(start: f64, end: f64, emotion: Emotion) -> ClassifiedSegment {
        ClassifiedSegment {
            start,
            end,
            text: String::new(),
            emotion,
            confidence: 1.0,
            scores: EmotionScores::one_hot(emotion),
        }
    }

    fn summary(t: &Timeline) -> Vec<(f64, f64, Emotion)> {
        t.sections
            .iter()
            .map(|s| {
                (
                    (s.start * 100.0).round() / 100.0,
                    (s.end * 100.0).round() / 100.0,
                    s.emotion,
                )
            })
            .collect()
    }

    #[test]
    fn no_speech_is_one_neutral_section() {
        let t = build_timeline(&[], 42.0, &TimelineOptions::default()).unwrap();
        assert_eq!(summary(&t), vec![(0.0, 42.0, Emotion::Neutral)]);
    }

    #[test]
    fn sections_follow_emotions_and_snap() {
        use Emotion::*;
        let segs = [
            seg(1.0, 4.0, Joy),
            seg(4.5, 9.0, Neutral),
            seg(10.0, 14.0, Sadness),
            seg(14.0, 22.0, Sadness),
            seg(22.5, 24.0, Anger), // short: becomes neutral
            seg(25.0, 30.0, Sadness),
        ];
        let t = build_timeline(&segs, 40.0, &TimelineOptions::default()).unwrap();
        // 10.0 snaps to 10.24; the short anger between two sadness sections becomes sadness.
        assert_eq!(summary(&t), vec![(0.0, 10.24, Joy), (10.24, 40.0, Sadness)]);
        assert_eq!(t.sections[1].segments, vec![2, 3, 4, 5]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(build_timeline(&[], 0.0, &TimelineOptions::default()).is_err());
        assert!(build_timeline(&[], f64::NAN, &TimelineOptions::default()).is_err());
        let segs = [
            seg(f64::NAN, 3.0, Emotion::Joy),
            seg(50.0, 60.0, Emotion::Fear),
        ];
        let t = build_timeline(&segs, 10.0, &TimelineOptions::default()).unwrap();
        assert_eq!(summary(&t), vec![(0.0, 10.0, Emotion::Neutral)]);
    }

    #[test]
    fn user_override_wins() {
        let mut t = build_timeline(&[], 10.0, &TimelineOptions::default()).unwrap();
        t.override_emotion(0, Some(Emotion::Fear)).unwrap();
        assert_eq!(t.sections[0].effective_emotion(), Emotion::Fear);
        assert!(t.override_emotion(3, None).is_err());
    }
}

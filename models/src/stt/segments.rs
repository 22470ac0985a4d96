//! Turning one window's tokens into timed segments, and deciding where the next window starts:
//! at the last complete timestamp, not a fixed 30 s later, so no speech is cut in half.

/// Seconds per timestamp step (`<|0.02|>` is one step after `<|0.00|>`).
pub const TIME_PRECISION: f64 = 0.02;
/// Mel frames per timestamp step (the encoder halves the frame rate).
pub const FRAMES_PER_STEP: usize = 2;

/// A span of tokens with its window-relative timing, before text decoding.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenSpan {
    /// Seconds from the window's start.
    pub start: f64,
    pub end: f64,
    pub tokens: Vec<u32>,
}

/// The spans of one window and how many mel frames to advance past it.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowSplit {
    pub spans: Vec<TokenSpan>,
    pub advance_frames: usize,
}

/// Splits `tokens` (without prompt or end-of-text) at consecutive timestamp pairs.
/// `content_frames` is how much of the window is real audio (the rest is padding).
pub fn split_window(tokens: &[u32], timestamp_begin: u32, content_frames: usize) -> WindowSplit {
    let is_ts = |t: u32| t >= timestamp_begin;
    let step_of = |t: u32| (t - timestamp_begin) as usize;
    let window_seconds =
        content_frames as f64 * super::mel::HOP_LENGTH as f64 / super::mel::SAMPLE_RATE as f64;
    let single_timestamp_ending =
        tokens.len() >= 2 && !is_ts(tokens[tokens.len() - 2]) && is_ts(tokens[tokens.len() - 1]);
    // Index just after each pair of consecutive timestamps: a segment ends there.
    let mut cuts: Vec<usize> = (1..tokens.len())
        .filter(|&i| is_ts(tokens[i - 1]) && is_ts(tokens[i]))
        .collect();
    if !cuts.is_empty() {
        if single_timestamp_ending {
            cuts.push(tokens.len());
        }
        let mut spans = Vec::new();
        let mut from = 0;
        for &to in &cuts {
            let slice = &tokens[from..to];
            spans.push(TokenSpan {
                start: step_of(slice[0]) as f64 * TIME_PRECISION,
                end: step_of(slice[slice.len() - 1]) as f64 * TIME_PRECISION,
                tokens: slice.to_vec(),
            });
            from = to;
        }
        let advance_frames = if single_timestamp_ending {
            // Nothing is said after the last timestamp: the whole window is used.
            content_frames
        } else {
            step_of(tokens[from - 1]) * FRAMES_PER_STEP
        };
        return WindowSplit {
            spans: clamp_spans(spans, window_seconds),
            advance_frames: advance_frames.clamp(1, content_frames.max(1)),
        };
    }
    // No complete pair: one segment for the window, ending at its last timestamp if any.
    let mut end = window_seconds;
    if let Some(&last) = tokens.iter().rev().find(|&&t| is_ts(t)) {
        if last != timestamp_begin {
            end = step_of(last) as f64 * TIME_PRECISION;
        }
    }
    WindowSplit {
        spans: clamp_spans(
            vec![TokenSpan {
                start: 0.0,
                end,
                tokens: tokens.to_vec(),
            }],
            window_seconds,
        ),
        advance_frames: content_frames.max(1),
    }
}

/// Padding is not content: no span may reach past the window's real audio.
fn clamp_spans(spans: Vec<TokenSpan>, window_seconds: f64) -> Vec<TokenSpan> {
    spans
        .into_iter()
        .map(|mut s| {
            s.end = s.end.min(window_seconds);
            s.start = s.start.min(s.end);
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TB: u32 = 1000;

    fn ts(seconds: f64) -> u32 {
        TB + (seconds / TIME_PRECISION).round() as u32
    }

    #[test]
    fn pairs_split_segments_and_seek_to_the_last_timestamp() {
        // <0.0> a b <1.0><1.0> c <2.4>  ... then the model stopped mid-sentence with <3.0> d
        let tokens = [ts(0.0), 1, 2, ts(1.0), ts(1.0), 3, ts(2.4), ts(2.4), 4];
        let split = split_window(&tokens, TB, 3000);
        assert_eq!(split.spans.len(), 2);
        assert_eq!(split.spans[0].start, 0.0);
        assert_eq!(split.spans[0].end, 1.0);
        assert_eq!(split.spans[1].tokens, vec![ts(1.0), 3, ts(2.4)]);
        // The unfinished "4" is decoded again in the next window, which starts at 2.4 s.
        assert_eq!(split.advance_frames, 240);
    }

    #[test]
    fn single_timestamp_ending_consumes_the_window() {
        let tokens = [ts(0.0), 1, ts(1.0), ts(1.0), 2, ts(2.0)];
        let split = split_window(&tokens, TB, 3000);
        assert_eq!(split.spans.len(), 2);
        assert_eq!(split.spans[1].end, 2.0);
        assert_eq!(split.advance_frames, 3000);
    }

    #[test]
    fn no_pairs_one_segment_to_the_last_timestamp() {
        let tokens = [ts(0.0), 1, 2, ts(4.2)];
        let split = split_window(&tokens, TB, 3000);
        assert_eq!(split.spans.len(), 1);
        assert_eq!((split.spans[0].start, split.spans[0].end), (0.0, 4.2));
        assert_eq!(split.advance_frames, 3000);
    }

    #[test]
    fn no_timestamps_spans_the_content_only() {
        // A 5 s tail window: the segment ends at 5 s, not 30 s of padding.
        let split = split_window(&[1, 2, 3], TB, 500);
        assert_eq!(split.spans[0].end, 5.0);
        assert_eq!(split.advance_frames, 500);
    }

    #[test]
    fn timestamps_past_the_content_are_clamped() {
        let tokens = [ts(0.0), 1, ts(8.0), ts(8.0), 2, ts(9.0)];
        let split = split_window(&tokens, TB, 600);
        assert!(split.spans.iter().all(|s| s.end <= 6.0 && s.start <= s.end));
    }

    #[test]
    fn seeking_always_moves_forward() {
        // A degenerate window whose last pair is at 0.00 must not loop forever.
        let tokens = [ts(0.0), ts(0.0), 1];
        assert!(split_window(&tokens, TB, 3000).advance_frames >= 1);
    }
}

//! The rules applied to the decoder's logits before each token is chosen, as OpenAI's decoding
//! applies them (in this order): no blank or end-of-text as the first token, the suppressed
//! tokens, then the timestamp rules.

/// Which tokens are allowed at each step of one window's decoding.
#[derive(Clone, Debug)]
pub struct LogitRules {
    pub eot: u32,
    pub no_timestamps: u32,
    pub timestamp_begin: u32,
    /// Never emitted (`suppress_tokens` plus the task/start specials).
    pub suppress: Vec<u32>,
    /// Not allowed as the first sampled token (a space and end-of-text).
    pub begin_suppress: Vec<u32>,
    /// Timestamps on: the timestamp rules apply.
    pub timestamps: bool,
    /// The first timestamp may be at most this many 0.02 s steps (OpenAI: 1.0 s).
    pub max_initial_timestamp_index: Option<u32>,
}

impl LogitRules {
    /// Sets disallowed tokens of one row to -inf. `sampled` are the tokens chosen so far in
    /// this window (after the prompt).
    pub fn apply(&self, logits: &mut [f32], sampled: &[u32]) {
        let vocab = logits.len();
        let mut forbid = |id: u32| {
            if let Some(v) = logits.get_mut(id as usize) {
                *v = f32::NEG_INFINITY;
            }
        };
        if sampled.is_empty() {
            self.begin_suppress.iter().for_each(|&t| forbid(t));
        }
        self.suppress.iter().for_each(|&t| forbid(t));
        if self.timestamps {
            self.apply_timestamp_rules(logits, sampled, vocab);
        }
    }

    fn apply_timestamp_rules(&self, logits: &mut [f32], sampled: &[u32], vocab: usize) {
        let tb = (self.timestamp_begin as usize).min(vocab);
        let eot = (self.eot as usize).min(vocab);
        let is_ts = |t: u32| t >= self.timestamp_begin;
        logits[self.no_timestamps as usize] = f32::NEG_INFINITY;

        // Timestamps come in pairs (end of one segment, start of the next), except the last.
        let last_was_ts = sampled.last().is_some_and(|&t| is_ts(t));
        let penultimate_was_ts = sampled.len() < 2 || is_ts(sampled[sampled.len() - 2]);
        if last_was_ts {
            if penultimate_was_ts {
                logits[tb..].fill(f32::NEG_INFINITY);
            } else {
                logits[..eot].fill(f32::NEG_INFINITY);
            }
        }

        // Timestamps never go back, and a segment cannot be empty.
        if let Some(&last_ts) = sampled.iter().rev().find(|&&t| is_ts(t)) {
            let floor = if last_was_ts && !penultimate_was_ts {
                last_ts
            } else {
                last_ts + 1
            };
            logits[tb..(floor as usize).min(vocab)].fill(f32::NEG_INFINITY);
        }

        if sampled.is_empty() {
            // The window starts with a timestamp, and not a late one.
            logits[..tb].fill(f32::NEG_INFINITY);
            if let Some(max) = self.max_initial_timestamp_index {
                let last_allowed = tb + max as usize;
                if last_allowed + 1 < vocab {
                    logits[last_allowed + 1..].fill(f32::NEG_INFINITY);
                }
            }
        }

        // When all timestamps together are likelier than any single text token, take one.
        let ts_mass = log_sum_exp(&logits[tb..]);
        let best_text = logits[..tb]
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        if ts_mass > best_text {
            logits[..tb].fill(f32::NEG_INFINITY);
        }
    }
}

pub fn log_sum_exp(values: &[f32]) -> f32 {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    let sum: f64 = values.iter().map(|&v| f64::from(v - max).exp()).sum();
    max + sum.ln() as f32
}

/// `log_softmax` of one row, in place.
pub fn log_softmax(logits: &mut [f32]) {
    let norm = log_sum_exp(logits);
    logits.iter_mut().for_each(|v| *v -= norm);
}

#[cfg(test)]
mod tests {
    use super::*;

    const EOT: u32 = 10;
    const NO_TS: u32 = 12;
    const TB: u32 = 13;
    const VOCAB: usize = 30;

    fn rules() -> LogitRules {
        LogitRules {
            eot: EOT,
            no_timestamps: NO_TS,
            timestamp_begin: TB,
            suppress: vec![11],
            begin_suppress: vec![3, EOT],
            timestamps: true,
            max_initial_timestamp_index: Some(5),
        }
    }

    fn allowed(sampled: &[u32], logits: &[f32]) -> Vec<u32> {
        let mut l = logits.to_vec();
        rules().apply(&mut l, sampled);
        (0..VOCAB as u32)
            .filter(|&i| l[i as usize].is_finite())
            .collect()
    }

    fn flat() -> Vec<f32> {
        vec![0.0; VOCAB]
    }

    #[test]
    fn first_token_is_an_early_timestamp() {
        assert_eq!(allowed(&[], &flat()), (TB..=TB + 5).collect::<Vec<_>>());
    }

    #[test]
    fn after_the_opening_timestamp_text() {
        // The first timestamp counts as a pair: text must follow.
        let got = allowed(&[TB + 5], &flat());
        assert!(got.iter().all(|&t| t <= EOT), "{got:?}");
    }

    #[test]
    fn after_text_and_a_timestamp_a_timestamp_or_the_end() {
        // <|0.00|> text <|0.10|>: the segment closed; another timestamp ≥ it, or EOT when
        // that is likelier than all timestamps together.
        let got = allowed(&[TB, 4, TB + 5], &flat());
        assert_eq!(got, (TB + 5..VOCAB as u32).collect::<Vec<_>>());
        let mut logits = flat();
        logits[EOT as usize] = 5.0;
        assert!(allowed(&[TB, 4, TB + 5], &logits).contains(&EOT));
    }

    #[test]
    fn after_a_pair_no_timestamp() {
        // text, then <|1.00|><|1.00|>: a segment closed and the next opened; now text only.
        let got = allowed(&[TB, 4, TB + 7, TB + 7], &flat());
        assert!(got.iter().all(|&t| t < TB), "{got:?}");
    }

    #[test]
    fn after_text_timestamps_must_grow() {
        let got = allowed(&[TB + 2, 4, 5], &flat());
        assert!(
            !got.contains(&(TB + 2)),
            "a segment cannot be empty: {got:?}"
        );
        assert!(got.contains(&(TB + 3)));
    }

    #[test]
    fn timestamp_mass_beats_best_text() {
        // Text token 4 is the single likeliest, but the 17 timestamps together outweigh it.
        let mut logits = flat();
        logits[4] = 2.0;
        let got = allowed(&[TB, 4], &logits);
        assert!(got.iter().all(|&t| t >= EOT), "{got:?}");
        logits[4] = 5.0;
        assert!(allowed(&[TB, 4], &logits).contains(&4));
    }

    #[test]
    fn suppressed_and_no_timestamps_never_appear() {
        let got = allowed(&[TB, 4], &flat());
        assert!(!got.contains(&11) && !got.contains(&NO_TS));
    }

    #[test]
    fn without_timestamps_only_suppression() {
        let mut r = rules();
        r.timestamps = false;
        let mut l = flat();
        r.apply(&mut l, &[]);
        assert!(l[3].is_infinite() && l[EOT as usize].is_infinite() && l[11].is_infinite());
        assert!(l[TB as usize + 10].is_finite());
    }

    #[test]
    fn log_softmax_normalises() {
        let mut l = vec![1.0, 2.0, 3.0];
        log_softmax(&mut l);
        let total: f32 = l.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }
}

//! Decoding one 30 s window: greedy, sampling with a temperature (best of N) or beam search,
//! all over the cached decoder, with the logit rules applied at every step.

use std::collections::HashMap;
use std::io::Write;

use candle_core::{IndexOp, Tensor};

use super::error::{Result, SttError};
use super::model::WhisperModel;
use super::rules::{log_softmax, LogitRules};
use crate::seed::SplitMix64;

/// How tokens are chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strategy {
    /// The likeliest token (temperature 0).
    Greedy,
    /// `best_of` independent samples at `temperature`; the likeliest wins.
    Sample { temperature: f32, best_of: usize },
    /// Beam search with `beam_size` beams (OpenAI's, patience 1).
    Beam { beam_size: usize },
}

/// The outcome of one window.
#[derive(Clone, Debug)]
pub struct WindowDecoding {
    /// Chosen tokens after the prompt, without the final end-of-text.
    pub tokens: Vec<u32>,
    pub sum_logprob: f64,
    /// Sum of log-probabilities over the tokens and the end-of-text.
    pub avg_logprob: f64,
    /// Probability of `<|nospeech|>` at the start-of-transcript position.
    pub no_speech_prob: f32,
}

/// One window's decoding job.
pub struct WindowDecoder<'a> {
    pub model: &'a WhisperModel,
    pub rules: &'a LogitRules,
    /// The most tokens sampled per window (OpenAI: 224).
    pub sample_len: usize,
    pub no_speech: Option<u32>,
    /// Seed for sampling; each row gets its own stream.
    pub seed: u64,
}

impl WindowDecoder<'_> {
    /// Decodes after `prompt` (previous text, SOT sequence) over `audio` `[1, frames, d]`;
    /// `sot_index` is the position of SOT in `prompt`.
    pub fn decode(
        &self,
        audio: &Tensor,
        prompt: &[u32],
        sot_index: usize,
        strategy: Strategy,
    ) -> Result<WindowDecoding> {
        let room = self
            .model
            .config()
            .max_target_positions
            .saturating_sub(prompt.len());
        let sample_len = self.sample_len.min(room);
        if sample_len == 0 {
            return Err(SttError::Options(format!(
                "a prompt of {} tokens leaves no room to decode",
                prompt.len()
            )));
        }
        match strategy {
            Strategy::Greedy => self.sample(audio, prompt, sot_index, 0.0, 1, sample_len),
            Strategy::Sample {
                temperature,
                best_of,
            } => self.sample(
                audio,
                prompt,
                sot_index,
                temperature,
                best_of.max(1),
                sample_len,
            ),
            Strategy::Beam { beam_size } => {
                self.beam(audio, prompt, sot_index, beam_size.max(1), sample_len)
            }
        }
    }

    /// Feeds the prompt to `rows` identical rows; returns the cache, the last position's
    /// logits and the no-speech probability.
    fn start(
        &self,
        audio: &Tensor,
        prompt: &[u32],
        sot_index: usize,
        rows: usize,
    ) -> Result<(super::model::DecoderCache, Vec<Vec<f32>>, f32)> {
        let model = self.model;
        let mut cache = model.start(audio, rows)?;
        let ids = Tensor::new(prompt, model.device())?
            .unsqueeze(0)?
            .repeat((rows, 1))?;
        let hidden = model.decode(&ids, &mut cache)?;
        let no_speech_prob = match self.no_speech {
            Some(id) => {
                let at_sot = model.logits(&hidden.i((0..1, sot_index))?.contiguous()?)?;
                let mut row = at_sot.squeeze(0)?.to_vec1::<f32>()?;
                log_softmax(&mut row);
                row.get(id as usize).map_or(0.0, |lp| lp.exp())
            }
            None => 0.0,
        };
        let logits = model.last_logits(&hidden)?.to_vec2::<f32>()?;
        Ok((cache, logits, no_speech_prob))
    }

    fn step(&self, cache: &mut super::model::DecoderCache, next: &[u32]) -> Result<Vec<Vec<f32>>> {
        let ids = Tensor::new(next, self.model.device())?.unsqueeze(1)?;
        let hidden = self.model.decode(&ids, cache)?;
        Ok(self.model.last_logits(&hidden)?.to_vec2::<f32>()?)
    }

    fn sample(
        &self,
        audio: &Tensor,
        prompt: &[u32],
        sot_index: usize,
        temperature: f32,
        rows: usize,
        sample_len: usize,
    ) -> Result<WindowDecoding> {
        let eot = self.rules.eot;
        let (mut cache, mut logits, no_speech_prob) = self.start(audio, prompt, sot_index, rows)?;
        let mut rngs: Vec<SplitMix64> = (0..rows)
            .map(|row| SplitMix64::keyed(self.seed, row, prompt.len()))
            .collect();
        let mut sampled: Vec<Vec<u32>> = vec![Vec::new(); rows];
        let mut sums = vec![0f64; rows];
        let mut done = vec![false; rows];
        for step in 0..sample_len {
            let mut next = Vec::with_capacity(rows);
            for row in 0..rows {
                if done[row] {
                    next.push(eot);
                    continue;
                }
                let scores = &mut logits[row];
                self.rules.apply(scores, &sampled[row]);
                let token = if temperature > 0.0 {
                    sample_from(scores, temperature, &mut rngs[row])
                } else {
                    argmax(scores)
                };
                log_softmax(scores);
                sums[row] += f64::from(scores[token as usize]);
                done[row] = token == eot;
                sampled[row].push(token);
                next.push(token);
            }
            if done.iter().all(|&d| d) || step + 1 == sample_len {
                break;
            }
            logits = self.step(&mut cache, &next)?;
        }
        let candidates = sampled
            .into_iter()
            .zip(sums)
            .map(|(mut tokens, sum)| {
                if tokens.last() == Some(&eot) {
                    tokens.pop();
                }
                (tokens, sum)
            })
            .collect();
        Ok(best_candidate(candidates, no_speech_prob))
    }

    fn beam(
        &self,
        audio: &Tensor,
        prompt: &[u32],
        sot_index: usize,
        beam_size: usize,
        sample_len: usize,
    ) -> Result<WindowDecoding> {
        let eot = self.rules.eot;
        let (mut cache, mut logits, no_speech_prob) =
            self.start(audio, prompt, sot_index, beam_size)?;
        let mut beams: Vec<Vec<u32>> = vec![Vec::new(); beam_size];
        let mut sums = vec![0f64; beam_size];
        let mut finished: Vec<(Vec<u32>, f64)> = Vec::new();
        for step in 0..sample_len {
            // Every beam proposes its beam_size + 1 best continuations; identical sequences
            // (all beams are equal at the start) count once.
            let mut proposals: HashMap<Vec<u32>, (f64, usize)> = HashMap::new();
            for (row, beam) in beams.iter().enumerate() {
                let scores = &mut logits[row];
                self.rules.apply(scores, beam);
                log_softmax(scores);
                for token in top_k(scores, beam_size + 1) {
                    let mut seq = beam.clone();
                    seq.push(token);
                    let score = sums[row] + f64::from(scores[token as usize]);
                    proposals.entry(seq).or_insert((score, row));
                }
            }
            let mut ranked: Vec<(Vec<u32>, (f64, usize))> = proposals.into_iter().collect();
            ranked.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
            let mut next_beams = Vec::with_capacity(beam_size);
            let mut next_sums = Vec::with_capacity(beam_size);
            let mut sources = Vec::with_capacity(beam_size);
            let mut newly_finished = Vec::new();
            for (seq, (score, row)) in ranked {
                if seq.last() == Some(&eot) {
                    newly_finished.push((seq, score));
                } else if next_beams.len() < beam_size {
                    next_beams.push(seq);
                    next_sums.push(score);
                    sources.push(row as u32);
                }
            }
            for (mut seq, score) in newly_finished {
                if finished.len() >= beam_size {
                    break;
                }
                seq.pop();
                finished.push((seq, score));
            }
            if finished.len() >= beam_size || step + 1 == sample_len || next_beams.is_empty() {
                beams = next_beams;
                sums = next_sums;
                break;
            }
            cache.reorder(&sources)?;
            let last: Vec<u32> = next_beams
                .iter()
                .map(|b| *b.last().expect("non-empty"))
                .collect();
            beams = next_beams;
            sums = next_sums;
            logits = self.step(&mut cache, &last)?;
        }
        // Not enough beams ended: the unfinished ones compete too, best first.
        let mut rest: Vec<(Vec<u32>, f64)> = beams.into_iter().zip(sums).collect();
        rest.sort_by(|a, b| b.1.total_cmp(&a.1));
        for candidate in rest {
            if finished.len() >= beam_size {
                break;
            }
            finished.push(candidate);
        }
        Ok(best_candidate(finished, no_speech_prob))
    }
}

/// OpenAI's maximum-likelihood ranking without a length penalty: sum of log-probs / length.
fn best_candidate(candidates: Vec<(Vec<u32>, f64)>, no_speech_prob: f32) -> WindowDecoding {
    let score = |(tokens, sum): &(Vec<u32>, f64)| sum / tokens.len().max(1) as f64;
    let (tokens, sum_logprob) = candidates
        .into_iter()
        .fold(None::<(Vec<u32>, f64)>, |best, c| match best {
            Some(b) if score(&b) >= score(&c) => Some(b),
            _ => Some(c),
        })
        .unwrap_or_default();
    WindowDecoding {
        avg_logprob: sum_logprob / (tokens.len() + 1) as f64,
        tokens,
        sum_logprob,
        no_speech_prob,
    }
}

fn argmax(scores: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in scores.iter().enumerate() {
        if v > scores[best] {
            best = i;
        }
    }
    best as u32
}

/// The `k` highest-scoring finite tokens, best first.
fn top_k(scores: &[f32], k: usize) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..scores.len() as u32)
        .filter(|&i| scores[i as usize].is_finite())
        .collect();
    let k = k.min(ids.len());
    if k == 0 {
        return ids;
    }
    let by_score = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    ids.select_nth_unstable_by(k - 1, by_score);
    ids.truncate(k);
    ids.sort_by(by_score);
    ids
}

/// Draws from `softmax(scores / temperature)`.
fn sample_from(scores: &[f32], temperature: f32, rng: &mut SplitMix64) -> u32 {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = scores
        .iter()
        .map(|&s| f64::from((s - max) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut target = f64::from(rng.next_f32()) * total;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i as u32;
        }
        target -= w;
    }
    argmax(scores)
}

/// How much zlib shrinks the text: repetitive (hallucinated) text compresses a lot.
pub fn compression_ratio(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder
        .write_all(text.as_bytes())
        .and_then(|_| encoder.finish())
        .map_or(text.len(), |c| c.len());
    text.len() as f64 / compressed as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_and_skips_forbidden() {
        let s = [0.1, f32::NEG_INFINITY, 3.0, 2.0, 2.0];
        assert_eq!(top_k(&s, 3), vec![2, 3, 4]);
        assert_eq!(top_k(&s, 10), vec![2, 3, 4, 0]);
    }

    #[test]
    fn repetitive_text_compresses_more() {
        let varied = "The quick brown fox jumps over the lazy dog while we watch.";
        let repeated = "thank you ".repeat(30);
        assert!(compression_ratio(varied) < 1.5);
        assert!(compression_ratio(&repeated) > 2.4);
    }

    #[test]
    fn sampling_follows_the_distribution() {
        let mut rng = SplitMix64::keyed(7, 0, 0);
        let scores = [0.0f32, (3.0f32).ln(), f32::NEG_INFINITY];
        let mut counts = [0usize; 3];
        for _ in 0..4000 {
            counts[sample_from(&scores, 1.0, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[2], 0);
        let ratio = counts[1] as f64 / counts[0] as f64;
        assert!((ratio - 3.0).abs() < 0.4, "{counts:?}");
    }

    #[test]
    fn ranking_divides_by_length() {
        let best = best_candidate(vec![(vec![1], -0.9), (vec![1, 2, 3], -1.5)], 0.0);
        assert_eq!(best.tokens, vec![1, 2, 3]);
        assert!((best.avg_logprob - (-1.5 / 4.0)).abs() < 1e-12);
    }
}

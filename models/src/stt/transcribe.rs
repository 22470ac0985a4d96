//! Long-form transcription as OpenAI's `transcribe` does it: windows of 30 s starting where the
//! previous window's last complete segment ended, the previous text as prompt, temperature
//! fallback when the output looks wrong, and skipping windows without speech.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::decode::{compression_ratio, Strategy, WindowDecoder};
use super::error::{Result, SttError};
use super::mel::{HOP_LENGTH, N_FRAMES, N_SAMPLES, SAMPLE_RATE};
use super::rules::LogitRules;
use super::segments::split_window;
use super::source::SpeechSource;
use super::tokenizer::Task;
use super::Whisper;
use crate::task::{CancelToken, Progress};

/// Options of a transcription; the defaults are OpenAI's.
#[derive(Clone, Debug)]
pub struct TranscribeOptions {
    pub task: Task,
    /// ISO code such as `en`; `None` detects it from the first window.
    pub language: Option<String>,
    /// Beam search with this many beams at temperature 0; `None` is greedy.
    pub beam_size: Option<usize>,
    /// Samples per window when falling back to a temperature above 0.
    pub best_of: usize,
    pub temperatures: Vec<f32>,
    pub compression_ratio_threshold: Option<f64>,
    pub logprob_threshold: Option<f64>,
    pub no_speech_threshold: Option<f64>,
    pub condition_on_previous_text: bool,
    pub timestamps: bool,
    pub seed: u64,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self {
            task: Task::Transcribe,
            language: None,
            beam_size: None,
            best_of: 5,
            temperatures: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            compression_ratio_threshold: Some(2.4),
            logprob_threshold: Some(-1.0),
            no_speech_threshold: Some(0.6),
            condition_on_previous_text: true,
            timestamps: true,
            seed: 0,
        }
    }
}

/// One timed piece of speech. Times are seconds from the start of the audio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub avg_logprob: f64,
    pub no_speech_prob: f64,
    pub temperature: f32,
    pub compression_ratio: f64,
    pub tokens: Vec<u32>,
}

/// A transcript: the detected (or given) language and the segments in time order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub language: String,
    pub task: Task,
    /// Seconds of audio transcribed.
    pub duration: f64,
    pub segments: Vec<Segment>,
}

impl Transcript {
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What one window's decoding produced, after fallback.
struct WindowResult {
    tokens: Vec<u32>,
    avg_logprob: f64,
    no_speech_prob: f64,
    temperature: f32,
    compression_ratio: f64,
}

impl Whisper {
    /// The log-mel window of the speech from `start_frame`, as `[1, n_mels, 3000]`, and its
    /// real frame count.
    fn mel_window(
        &self,
        speech: &mut dyn SpeechSource,
        start_frame: usize,
    ) -> Result<(Tensor, usize)> {
        let len = speech.sample_count();
        let from = (start_frame * HOP_LENGTH).min(len);
        let to = (from + N_SAMPLES).min(len);
        let mel = self.front_end.window(&speech.read(from, to)?);
        let content_frames = ((to - from) / HOP_LENGTH).min(N_FRAMES);
        let n_mels = self.front_end.n_mels();
        let tensor = Tensor::from_vec(mel, (1, n_mels, N_FRAMES), self.model.device())?;
        Ok((tensor, content_frames))
    }

    /// Transcribes 16 kHz mono samples. Progress is reported per window.
    pub fn transcribe(
        &self,
        mut pcm: &[f32],
        options: &TranscribeOptions,
        progress: &mut dyn Progress,
        cancel: &CancelToken,
    ) -> Result<Transcript> {
        self.transcribe_from(&mut pcm, options, progress, cancel)
    }

    /// Transcribes 16 kHz mono speech read a window at a time.
    pub fn transcribe_from(
        &self,
        speech: &mut dyn SpeechSource,
        options: &TranscribeOptions,
        progress: &mut dyn Progress,
        cancel: &CancelToken,
    ) -> Result<Transcript> {
        let samples = speech.sample_count();
        let total_frames = samples / HOP_LENGTH;
        let duration = samples as f64 / SAMPLE_RATE as f64;
        progress.report(0.0);
        // The first window's encoding, when language detection needed it: the loop reuses it
        // rather than running the encoder on the same audio again.
        let mut first_window_audio = None;
        let language = match (&options.language, self.tokenizer.is_multilingual()) {
            (Some(code), true) => {
                self.tokenizer.language_id(code)?;
                code.clone()
            }
            (None, true) if total_frames > 0 => {
                let (mel, _) = self.mel_window(speech, 0)?;
                let audio = self.model.encode(&mel)?;
                let language = self
                    .detect_language(&audio)?
                    .first()
                    .map(|(code, _)| code.clone())
                    .unwrap_or_else(|| "en".into());
                first_window_audio = Some(audio);
                language
            }
            _ => "en".into(),
        };
        let sot_sequence =
            self.tokenizer
                .sot_sequence(Some(&language), options.task, options.timestamps)?;
        let rules = self.logit_rules(options.timestamps);
        let mut segments = Vec::new();
        let mut all_tokens: Vec<u32> = Vec::new();
        let mut prompt_reset_since = 0;
        let mut seek = 0usize;
        let mut window_index = 0u64;
        while seek < total_frames {
            if cancel.is_cancelled() {
                return Err(SttError::Cancelled);
            }
            let (mel, content_frames) = self.mel_window(speech, seek)?;
            let content_frames = content_frames.min(total_frames - seek);
            let audio = match first_window_audio.take() {
                Some(audio) if seek == 0 => audio,
                _ => self.model.encode(&mel)?,
            };
            let previous = &all_tokens[prompt_reset_since..];
            let prompt = self.window_prompt(previous, &sot_sequence);
            let sot_index = prompt.len() - sot_sequence.len();
            let seed = options.seed ^ window_index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let result =
                self.decode_with_fallback(&audio, &prompt, sot_index, &rules, options, seed)?;
            window_index += 1;

            let silent = options
                .no_speech_threshold
                .is_some_and(|t| result.no_speech_prob > t)
                && !options
                    .logprob_threshold
                    .is_some_and(|t| result.avg_logprob > t);
            if silent {
                seek += content_frames.max(1);
                progress.report(seek as f64 / total_frames as f64);
                continue;
            }

            let offset = seek as f64 * HOP_LENGTH as f64 / SAMPLE_RATE as f64;
            let split = split_window(&result.tokens, rules.timestamp_begin, content_frames);
            for span in split.spans {
                let text = self.tokenizer.decode_text(&span.tokens);
                if span.end <= span.start || text.trim().is_empty() {
                    continue;
                }
                segments.push(Segment {
                    start: round_ms(offset + span.start),
                    end: round_ms(offset + span.end),
                    text,
                    avg_logprob: result.avg_logprob,
                    no_speech_prob: result.no_speech_prob,
                    temperature: result.temperature,
                    compression_ratio: result.compression_ratio,
                    tokens: span.tokens,
                });
            }
            all_tokens.extend(&result.tokens);
            if !options.condition_on_previous_text || result.temperature > 0.5 {
                // A high-temperature window is unreliable: do not let it steer the next one.
                prompt_reset_since = all_tokens.len();
            }
            seek += split.advance_frames;
            progress.report((seek as f64 / total_frames as f64).min(1.0));
        }
        progress.report(1.0);
        Ok(Transcript {
            language,
            task: options.task,
            duration,
            segments,
        })
    }

    /// `<|startofprev|>` and the last 223 tokens of earlier text (when there is any), then the
    /// SOT sequence.
    fn window_prompt(&self, previous: &[u32], sot_sequence: &[u32]) -> Vec<u32> {
        let max_previous = self.model.config().max_target_positions / 2 - 1;
        let mut prompt = Vec::new();
        if !previous.is_empty() {
            prompt.push(self.tokenizer.special.sot_prev);
            prompt.extend(&previous[previous.len().saturating_sub(max_previous)..]);
        }
        prompt.extend(sot_sequence);
        prompt
    }

    /// The logit rules of this model's tokens and generation config.
    pub fn logit_rules(&self, timestamps: bool) -> LogitRules {
        let special = &self.tokenizer.special;
        let mut suppress = self.generation.suppress_tokens.clone();
        suppress.extend(self.tokenizer.always_suppressed());
        suppress.sort_unstable();
        suppress.dedup();
        let begin_suppress = if self.generation.begin_suppress_tokens.is_empty() {
            let mut b = self.tokenizer.encode(" ").unwrap_or_default();
            b.push(special.eot);
            b
        } else {
            self.generation.begin_suppress_tokens.clone()
        };
        LogitRules {
            eot: special.eot,
            no_timestamps: special.no_timestamps,
            timestamp_begin: special.timestamp_begin,
            suppress,
            begin_suppress,
            timestamps,
            max_initial_timestamp_index: Some(
                self.generation.max_initial_timestamp_index.unwrap_or(50),
            ),
        }
    }

    /// Decodes at temperature 0 first and retries hotter while the result is repetitive
    /// (compression ratio) or unlikely (average log-prob), unless the window is silence.
    fn decode_with_fallback(
        &self,
        audio: &Tensor,
        prompt: &[u32],
        sot_index: usize,
        rules: &LogitRules,
        options: &TranscribeOptions,
        seed: u64,
    ) -> Result<WindowResult> {
        let decoder = WindowDecoder {
            model: &self.model,
            rules,
            sample_len: self.model.config().max_target_positions / 2,
            no_speech: self.tokenizer.special.no_speech,
            seed,
        };
        let temperatures: &[f32] = if options.temperatures.is_empty() {
            &[0.0]
        } else {
            &options.temperatures
        };
        let mut last = None;
        for &temperature in temperatures {
            let strategy = match (temperature > 0.0, options.beam_size) {
                (true, _) => Strategy::Sample {
                    temperature,
                    best_of: options.best_of,
                },
                (false, Some(beam_size)) if beam_size > 1 => Strategy::Beam { beam_size },
                (false, _) => Strategy::Greedy,
            };
            let decoded = decoder.decode(audio, prompt, sot_index, strategy)?;
            let text = self.tokenizer.decode_text(&decoded.tokens);
            let result = WindowResult {
                compression_ratio: compression_ratio(&text),
                tokens: decoded.tokens,
                avg_logprob: decoded.avg_logprob,
                no_speech_prob: f64::from(decoded.no_speech_prob),
                temperature,
            };
            let fallback = needs_fallback(&result, options);
            last = Some(result);
            if !fallback {
                break;
            }
        }
        Ok(last.expect("at least one temperature"))
    }

    /// Language probabilities from the SOT position over one window's audio `[1, frames, d]`,
    /// likeliest first.
    pub fn detect_language(&self, audio: &Tensor) -> Result<Vec<(String, f32)>> {
        let languages = self.tokenizer.languages();
        if languages.is_empty() {
            return Ok(vec![("en".into(), 1.0)]);
        }
        let mut cache = self.model.start(audio, 1)?;
        let sot = Tensor::new(&[self.tokenizer.special.sot], self.model.device())?.unsqueeze(0)?;
        let hidden = self.model.decode(&sot, &mut cache)?;
        let logits = self
            .model
            .last_logits(&hidden)?
            .squeeze(0)?
            .to_vec1::<f32>()?;
        let scores: Vec<f32> = languages
            .iter()
            .map(|&(_, id)| logits[id as usize])
            .collect();
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let total: f32 = scores.iter().map(|s| (s - max).exp()).sum();
        let mut probs: Vec<(String, f32)> = languages
            .iter()
            .zip(&scores)
            .map(|((code, _), s)| (code.clone(), (s - max).exp() / total))
            .collect();
        probs.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(probs)
    }
}

/// OpenAI's test: too repetitive or too unlikely needs a hotter retry, unless it is silence.
fn needs_fallback(result: &WindowResult, options: &TranscribeOptions) -> bool {
    let repetitive = options
        .compression_ratio_threshold
        .is_some_and(|t| result.compression_ratio > t);
    let unlikely = options
        .logprob_threshold
        .is_some_and(|t| result.avg_logprob < t);
    let silence = options
        .no_speech_threshold
        .is_some_and(|t| result.no_speech_prob > t)
        && unlikely;
    (repetitive || unlikely) && !silence
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(compression_ratio: f64, avg_logprob: f64, no_speech_prob: f64) -> WindowResult {
        WindowResult {
            tokens: vec![],
            avg_logprob,
            no_speech_prob,
            temperature: 0.0,
            compression_ratio,
        }
    }

    #[test]
    fn fallback_on_repetition_or_low_likelihood() {
        let o = TranscribeOptions::default();
        assert!(!needs_fallback(&result(1.5, -0.3, 0.1), &o));
        assert!(needs_fallback(&result(2.6, -0.3, 0.1), &o));
        assert!(needs_fallback(&result(1.5, -1.4, 0.1), &o));
    }

    #[test]
    fn no_fallback_for_silence() {
        let o = TranscribeOptions::default();
        assert!(!needs_fallback(&result(1.0, -1.4, 0.9), &o));
        // Likely text is not silence even when no-speech is high.
        assert!(needs_fallback(&result(3.0, -0.2, 0.9), &o));
    }

    #[test]
    fn thresholds_can_be_turned_off() {
        let o = TranscribeOptions {
            compression_ratio_threshold: None,
            logprob_threshold: None,
            ..Default::default()
        };
        assert!(!needs_fallback(&result(9.0, -5.0, 0.0), &o));
    }
}

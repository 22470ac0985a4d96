//! Whisper's input, 16 kHz mono samples, handed over a window at a time: from memory, or read
//! from a file by the caller, so that an hour of speech (230 MB as f32) is never held whole.

use std::borrow::Cow;

use super::error::SttError;

/// 16 kHz mono samples that the transcriber reads one 30 s window at a time.
pub trait SpeechSource {
    /// How many samples there are.
    fn sample_count(&self) -> usize;

    /// Samples `from..to`; the transcriber never asks for more than `sample_count`.
    fn read(&mut self, from: usize, to: usize) -> Result<Cow<'_, [f32]>, SttError>;
}

impl SpeechSource for &[f32] {
    fn sample_count(&self) -> usize {
        self.len()
    }

    fn read(&mut self, from: usize, to: usize) -> Result<Cow<'_, [f32]>, SttError> {
        Ok(Cow::Borrowed(&self[from..to]))
    }
}

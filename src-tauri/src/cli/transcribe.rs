//! `transcribe`: any media file → timestamped Whisper segments.

use std::path::Path;

use anyhow::Context;
use bgm_models::device::ComputeDevice;
use bgm_models::stt::{SpeechTranscript, Task, TranscribeOptions, Whisper};
use bgm_models::task::CancelToken;
use bgm_models::weights::WeightsConfig;

use super::{print_json, progress};
use crate::media::decode_audio;

/// Whisper's input: 16 kHz mono.
const WHISPER_RATE: u32 = 16_000;

/// What `transcribe` was asked for.
pub(super) struct TranscribeRequest<'a> {
    pub model: &'a str,
    pub language: Option<String>,
    pub task: Task,
    pub beam_size: Option<usize>,
    /// Also translate non-English speech to English (a second pass).
    pub english: bool,
}

/// Decodes `file`'s audio and transcribes it.
pub(super) fn transcribe_file(
    file: &Path,
    request: &TranscribeRequest,
    weights: &WeightsConfig,
    device: &ComputeDevice,
) -> anyhow::Result<SpeechTranscript> {
    let cancel = CancelToken::new();
    let bar = progress::bar("decoding audio");
    let pcm = decode_audio(file, WHISPER_RATE, 1, &mut progress::follow(&bar), &cancel)
        .with_context(|| format!("reading the audio of \"{}\"", file.display()))?;
    bar.finish_and_clear();
    let whisper = Whisper::load_named(request.model, weights, device)?;
    let options = TranscribeOptions {
        task: request.task,
        language: request.language.clone(),
        beam_size: request.beam_size,
        ..Default::default()
    };
    let bar = progress::bar("transcribing");
    let transcript = whisper.transcribe_for_emotions(
        &mut pcm.samples.as_slice(),
        &options,
        request.english,
        &mut progress::follow(&bar),
        &cancel,
    )?;
    bar.finish_and_clear();
    Ok(transcript)
}

pub(super) fn print_transcript(transcript: &SpeechTranscript, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(transcript);
    }
    println!(
        "language: {}, {:.2} s, {} segment(s)",
        transcript.language,
        transcript.duration,
        transcript.segments.len()
    );
    for s in &transcript.segments {
        println!(
            "[{} --> {}] {}",
            clock(s.start),
            clock(s.end),
            s.text.trim()
        );
    }
    if let Some(english) = &transcript.english {
        println!("English:");
        for s in english {
            println!(
                "[{} --> {}] {}",
                clock(s.start),
                clock(s.end),
                s.text.trim()
            );
        }
    }
    Ok(())
}

/// `mm:ss.mmm`, or `h:mm:ss.mmm` past an hour.
fn clock(seconds: f64) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, ms) = (
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000,
    );
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{ms:03}")
    } else {
        format!("{m:02}:{s:02}.{ms:03}")
    }
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_formats() {
        assert_eq!(clock(0.0), "00:00.000");
        assert_eq!(clock(61.5), "01:01.500");
        assert_eq!(clock(3723.004), "1:02:03.004");
    }
}

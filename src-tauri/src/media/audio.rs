//! Decoding the first audio stream of any file into interleaved f32 PCM at a chosen rate and
//! channel count, as a stream of chunks so that long files never sit in memory as packets.

use std::path::{Path, PathBuf};

use bgm_models::task::{CancelToken, Progress};
use ffmpeg_next::codec::context::Context as CodecContext;
use ffmpeg_next::codec::decoder;
use ffmpeg_next::format::context::Input;
use ffmpeg_next::media::Type as MediaType;
use ffmpeg_next::{frame, Packet, Rational};

use super::error::MediaError;
use super::input::{open_input, read_packet};
use super::probe::{container_duration_seconds, seconds, stream_duration_seconds};
use super::resample::{InputSignature, Resampler};
use super::wav::WavSink;

/// Interleaved f32 samples.
#[derive(Clone, Debug, PartialEq)]
pub struct PcmAudio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub channels: u16,
}

impl PcmAudio {
    /// Samples per channel.
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    pub fn duration_seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate)
    }
}

/// Pulls decoded, resampled audio from a file chunk by chunk.
pub struct AudioReader {
    path: PathBuf,
    input: Input,
    stream_index: usize,
    time_base: Rational,
    decoder: decoder::Audio,
    resampler: Option<Resampler>,
    frame: frame::Audio,
    rate: u32,
    channels: u16,
    duration_seconds: f64,
    /// Where the stream starts relative to the file's start, so output lines up with the video.
    start_offset_seconds: Option<f64>,
    position_seconds: f64,
    frames_decoded: u64,
    input_finished: bool,
    finished: bool,
}

impl AudioReader {
    pub fn open(path: &Path, rate: u32, channels: u16) -> Result<Self, MediaError> {
        assert!(
            rate > 0 && channels > 0,
            "output rate and channels must be positive"
        );
        let input = open_input(path)?;
        let stream = input
            .streams()
            .find(|s| s.parameters().medium() == MediaType::Audio)
            .ok_or_else(|| MediaError::NoAudio {
                path: path.to_path_buf(),
            })?;
        let stream_index = stream.index();
        let time_base = stream.time_base();
        let duration_seconds =
            stream_duration_seconds(&stream).unwrap_or_else(|| container_duration_seconds(&input));
        let codec_name = stream.parameters().id().name().to_string();
        let context = CodecContext::from_parameters(stream.parameters()).map_err(
            MediaError::ffmpeg(path, "reading the audio stream parameters"),
        )?;
        let decoder = context
            .decoder()
            .audio()
            .map_err(|_| MediaError::UnsupportedCodec {
                path: path.to_path_buf(),
                codec: codec_name,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            input,
            stream_index,
            time_base,
            decoder,
            resampler: None,
            frame: frame::Audio::empty(),
            rate,
            channels,
            duration_seconds,
            start_offset_seconds: None,
            position_seconds: 0.0,
            frames_decoded: 0,
            input_finished: false,
            finished: false,
        })
    }

    /// The stream's duration as the file declares it.
    pub fn duration_seconds(&self) -> f64 {
        self.duration_seconds
    }

    /// How far into the stream decoding has got.
    pub fn position_seconds(&self) -> f64 {
        self.position_seconds
    }

    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// The next chunk of interleaved samples, or `None` at the end of the stream.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, MediaError> {
        let mut out = Vec::new();
        while !self.finished {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) => {
                    self.convert_frame(&mut out)?;
                    if !out.is_empty() {
                        return Ok(Some(out));
                    }
                }
                Err(ffmpeg_next::Error::Eof) => {
                    if let Some(resampler) = self.resampler.as_mut() {
                        resampler
                            .flush(&mut out)
                            .map_err(MediaError::ffmpeg(&self.path, "resampling audio"))?;
                    }
                    self.finished = true;
                    if self.frames_decoded == 0 {
                        return Err(MediaError::Damaged {
                            path: self.path.clone(),
                            container: "a media file",
                            detail: "its audio track holds no decodable sound".into(),
                        });
                    }
                }
                Err(ffmpeg_next::Error::Other { errno }) if errno == libc_eagain() => {
                    self.feed_decoder();
                }
                // A corrupt frame: skip it, as players do, rather than lose the whole file.
                Err(err) => {
                    tracing::warn!("{}: skipping undecodable audio: {err}", self.path.display());
                    if self.input_finished {
                        self.finished = true;
                    } else {
                        self.feed_decoder();
                    }
                }
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// Sends the next packet of our stream to the decoder, or end-of-stream.
    fn feed_decoder(&mut self) {
        if self.input_finished {
            return;
        }
        let mut packet = Packet::empty();
        loop {
            match read_packet(&mut packet, &mut self.input) {
                Ok(()) if packet.stream() == self.stream_index => {
                    if let Err(err) = self.decoder.send_packet(&packet) {
                        tracing::warn!(
                            "{}: skipping damaged audio packet: {err}",
                            self.path.display()
                        );
                        continue;
                    }
                    return;
                }
                Ok(()) => continue,
                Err(ffmpeg_next::Error::Eof) => break,
                Err(err) => {
                    // Truncated files end in a read error: keep what was decoded.
                    tracing::warn!("{}: stopped reading early: {err}", self.path.display());
                    break;
                }
            }
        }
        self.input_finished = true;
        let _ = self.decoder.send_eof();
    }

    fn convert_frame(&mut self, out: &mut Vec<f32>) -> Result<(), MediaError> {
        let raw = unsafe { self.frame.as_ptr() };
        let samples = unsafe { (*raw).nb_samples };
        if samples <= 0 {
            return Ok(());
        }
        let signature = unsafe { InputSignature::of(raw) };
        if !self
            .resampler
            .as_ref()
            .is_some_and(|r| r.accepts(signature))
        {
            // The format changed mid-stream: drain the old resampler before replacing it.
            if let Some(old) = self.resampler.as_mut() {
                old.flush(out)
                    .map_err(MediaError::ffmpeg(&self.path, "resampling audio"))?;
            }
            self.resampler = Some(
                unsafe { Resampler::for_frame(raw, self.rate, self.channels) }.map_err(
                    MediaError::ffmpeg(&self.path, "setting up the audio resampler"),
                )?,
            );
        }

        let timestamp = self.frame.timestamp().or(self.frame.pts());
        if let Some(ts) = timestamp {
            let start = seconds(ts, self.time_base);
            self.position_seconds =
                start + f64::from(samples) / f64::from(self.frame.rate().max(1));
            if self.start_offset_seconds.is_none() {
                self.start_offset_seconds = Some(start - self.container_start_seconds());
                self.pad_leading_silence(out);
            }
        }
        self.start_offset_seconds.get_or_insert(0.0);
        self.frames_decoded += samples as u64;

        let resampler = self.resampler.as_mut().expect("set above");
        unsafe { resampler.convert(raw, out) }
            .map_err(MediaError::ffmpeg(&self.path, "resampling audio"))
    }

    fn container_start_seconds(&self) -> f64 {
        // SAFETY: reading a field of the live format context.
        let start = unsafe { (*self.input.as_ptr()).start_time };
        if start == ffmpeg_next::ffi::AV_NOPTS_VALUE {
            0.0
        } else {
            start as f64 / f64::from(ffmpeg_next::ffi::AV_TIME_BASE)
        }
    }

    /// Audio that starts after the file's start (a late audio track) is preceded by silence,
    /// so sample 0 is time 0 of the video.
    fn pad_leading_silence(&self, out: &mut Vec<f32>) {
        let offset = self.start_offset_seconds.unwrap_or(0.0);
        if offset > 0.001 {
            let frames = (offset * f64::from(self.rate)).round() as usize;
            out.resize(out.len() + frames * usize::from(self.channels), 0.0);
        }
    }
}

fn libc_eagain() -> i32 {
    ffmpeg_next::util::error::EAGAIN
}

/// Decodes the first audio stream of `path` to interleaved f32 at `rate` Hz and `channels`.
pub fn decode_audio(
    path: &Path,
    rate: u32,
    channels: u16,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<PcmAudio, MediaError> {
    let mut reader = AudioReader::open(path, rate, channels)?;
    let expected = reader.duration_seconds();
    let mut samples =
        Vec::with_capacity((expected.max(0.0) * f64::from(rate)) as usize * usize::from(channels));
    each_chunk(&mut reader, progress, cancel, |chunk| {
        samples.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(PcmAudio {
        samples,
        sample_rate: rate,
        channels,
    })
}

/// Decodes like `decode_audio` straight into a 32-bit float WAV at `dest`, a chunk at a time:
/// memory stays the same however long the file is.
pub fn decode_audio_to_wav(
    path: &Path,
    dest: &Path,
    rate: u32,
    channels: u16,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<(), MediaError> {
    let mut reader = AudioReader::open(path, rate, channels)?;
    let mut sink = WavSink::create(dest, rate, channels)?;
    each_chunk(&mut reader, progress, cancel, |chunk| sink.write(chunk))?;
    sink.finish()
}

/// Feeds every chunk of `reader` to `use_chunk`, reporting progress and stopping on cancel.
fn each_chunk(
    reader: &mut AudioReader,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
    mut use_chunk: impl FnMut(&[f32]) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let expected = reader.duration_seconds();
    while let Some(chunk) = reader.next_chunk()? {
        if cancel.is_cancelled() {
            return Err(MediaError::Cancelled);
        }
        use_chunk(&chunk)?;
        if expected > 0.0 {
            progress.report(reader.position_seconds() / expected);
        }
    }
    progress.report(1.0);
    Ok(())
}

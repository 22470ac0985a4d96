//! Export: the original video stream copied untouched, the new audio encoded and fitted to the
//! video's exact length, written beside the destination and renamed into place when complete.

use std::path::{Path, PathBuf};

use bgm_models::task::{CancelToken, Progress};
use ffmpeg_next::codec::context::Context as CodecContext;
use ffmpeg_next::format::context::Output;
use ffmpeg_next::format::Sample;
use ffmpeg_next::media::Type as MediaType;
use ffmpeg_next::{codec, encoder, ffi, frame, Packet, Rational};

use super::audio::AudioReader;
use super::destination::{check_destination, output_kind, OutputKind};
use super::error::MediaError;
use super::input::{open_input, open_output, read_packet};
use super::probe::{is_cover_art, primary_video_stream, probe, seconds, stream_duration_seconds};
use super::verify::{check_written, VideoDigest};
use crate::atomic_file::PartialFile;

#[derive(Clone, Debug, Default)]
pub struct MuxOptions {
    /// Replace an existing file at the destination (never an input).
    pub overwrite: bool,
    /// Audio bitrate in bits per second; by default 96 kb/s per channel for AAC, 80 for Opus.
    pub audio_bitrate: Option<usize>,
    /// Container tags to add or replace (the input's own tags are kept otherwise).
    pub metadata: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MuxReport {
    pub dest: PathBuf,
    pub video_duration_seconds: f64,
    pub audio_codec: String,
    pub audio_sample_rate: u32,
    pub audio_channels: u16,
    /// Streams of the video copied without re-encoding (video, subtitles).
    pub copied_streams: usize,
}

/// Writes `dest`: the streams of `video` except its audio, plus `audio` encoded for the container.
pub fn mux(
    video: &Path,
    audio: &Path,
    dest: &Path,
    options: &MuxOptions,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<MuxReport, MediaError> {
    let dest = check_destination(dest, &[video, audio], options.overwrite)?;
    let kind = output_kind(&dest)?;
    let audio_info = probe(audio)?;
    let source_audio = audio_info
        .audio_streams
        .first()
        .ok_or_else(|| MediaError::NoAudio {
            path: audio.to_path_buf(),
        })?;

    probe(video)?.check_usable(video)?;
    let mut input = open_input(video)?;
    let partial = PartialFile::beside(&dest);
    // The partial file is our detail: an error names the file the user asked for.
    let mut output = open_output(partial.path(), kind.muxer).map_err(|e| match e {
        MediaError::Destination { problem, .. } => MediaError::destination(&dest, problem),
        other => other,
    })?;
    let write_err =
        |e: ffmpeg_next::Error| MediaError::destination(&dest, format!("writing failed: {e}"));

    let plan = copy_streams(video, &dest, &input, &mut output)?;
    let channels = source_audio.channels.clamp(1, 2) as u16;
    let mut audio_out = AudioEncoder::new(
        &dest,
        &kind,
        source_audio.sample_rate,
        channels,
        options,
        &mut output,
    )?;
    let mut tags = input.metadata().to_owned();
    for (key, value) in &options.metadata {
        tags.set(key, value);
    }
    output.set_metadata(tags);
    output.write_header().map_err(write_err)?;
    let audio_tb = output
        .stream(audio_out.stream_index)
        .expect("added above")
        .time_base();
    let out_time_bases: Vec<Rational> = output.streams().map(|s| s.time_base()).collect();

    let mut reader = AudioReader::open(audio, audio_out.rate, channels)?;
    audio_out.start_samples = (plan.video_start_seconds * f64::from(audio_out.rate)).round() as i64;
    audio_out.total_samples =
        (plan.video_duration_seconds * f64::from(audio_out.rate)).round() as i64;

    let mut copied = VideoDigest::default();
    let mut packet = Packet::empty();
    loop {
        if cancel.is_cancelled() {
            return Err(MediaError::Cancelled);
        }
        match read_packet(&mut packet, &mut input) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) => {
                tracing::warn!("{}: stopped reading early: {e}", video.display());
                break;
            }
        }
        let Some((out_index, in_tb)) = plan.mapping.get(packet.stream()).copied().flatten() else {
            continue;
        };
        // Interleave: audio is written up to the time of each copied packet.
        if let Some(ts) = packet.dts().or(packet.pts()) {
            let until = seconds(ts, in_tb);
            audio_out.encode_until(until, &mut reader, &mut output, audio_tb)?;
            let done = (until - plan.video_start_seconds) / plan.video_duration_seconds.max(1e-9);
            progress.report(done);
        }
        if packet.stream() == plan.video_index {
            copied.add(packet.data().unwrap_or_default());
        }
        packet.rescale_ts(in_tb, out_time_bases[out_index]);
        packet.set_stream(out_index);
        packet.set_position(-1);
        packet.write_interleaved(&mut output).map_err(write_err)?;
    }
    audio_out.encode_until(f64::INFINITY, &mut reader, &mut output, audio_tb)?;
    audio_out.finish(&mut output, audio_tb)?;
    output.write_trailer().map_err(write_err)?;
    drop(output);
    check_written(partial.path(), &dest, copied, plan.video_duration_seconds)?;
    partial
        .commit()
        .map_err(|e| MediaError::destination(&dest, e.to_string()))?;
    progress.report(1.0);

    Ok(MuxReport {
        dest,
        video_duration_seconds: plan.video_duration_seconds,
        audio_codec: audio_out.codec_name.to_string(),
        audio_sample_rate: audio_out.rate,
        audio_channels: channels,
        copied_streams: plan.mapping.iter().flatten().count(),
    })
}

struct CopyPlan {
    /// For each input stream: its output index and input time base, if it is copied.
    mapping: Vec<Option<(usize, Rational)>>,
    /// The input's video (not a cover picture): its packets are checked in the output.
    video_index: usize,
    video_start_seconds: f64,
    video_duration_seconds: f64,
}

/// Adds an output stream for the video and every other stream the container can hold, except
/// the original audio (the new audio replaces it).
fn copy_streams(
    video: &Path,
    dest: &Path,
    input: &ffmpeg_next::format::context::Input,
    output: &mut Output,
) -> Result<CopyPlan, MediaError> {
    let primary = primary_video_stream(input, video)?;
    let video_duration_seconds = stream_duration_seconds(&primary)
        .unwrap_or_else(|| super::probe::container_duration_seconds(input));
    let video_start_seconds = match primary.start_time() {
        ffi::AV_NOPTS_VALUE => 0.0,
        start => seconds(start, primary.time_base()),
    };

    let output_format = unsafe { (*output.as_ptr()).oformat };
    let mut mapping = vec![None; input.nb_streams() as usize];
    for stream in input.streams() {
        let params = stream.parameters();
        let medium = params.medium();
        let is_primary = stream.index() == primary.index();
        let wanted =
            matches!(medium, MediaType::Video | MediaType::Subtitle) && !is_cover_art(&stream);
        if !wanted {
            continue;
        }
        let storable = unsafe {
            ffi::avformat_query_codec(output_format, params.id().into(), ffi::FF_COMPLIANCE_NORMAL)
        } == 1;
        if !storable {
            if is_primary {
                return Err(MediaError::destination(
                    dest,
                    format!(
                        "the video is {}, which this file type cannot hold without re-encoding; choose .mkv (holds any codec) or .mp4",
                        params.id().name()
                    ),
                ));
            }
            tracing::info!(
                "not copying stream {} ({}): the container cannot hold it",
                stream.index(),
                params.id().name()
            );
            continue;
        }
        let mut out_stream = output
            .add_stream(encoder::find(codec::Id::None))
            .map_err(MediaError::ffmpeg(dest, "adding a stream"))?;
        out_stream.set_parameters(params);
        out_stream.set_time_base(stream.time_base());
        out_stream.set_metadata(stream.metadata().to_owned());
        unsafe {
            // The input's codec tag may mean nothing in another container; let the muxer choose.
            (*(*out_stream.as_mut_ptr()).codecpar).codec_tag = 0;
            (*out_stream.as_mut_ptr()).disposition = (*stream.as_ptr()).disposition;
            copy_side_data(stream.as_ptr(), out_stream.as_mut_ptr());
        }
        mapping[stream.index()] = Some((out_stream.index(), stream.time_base()));
    }
    Ok(CopyPlan {
        mapping,
        video_index: primary.index(),
        video_start_seconds,
        video_duration_seconds,
    })
}

/// Carries stream side data (the display matrix of phone videos) over. FFmpeg 7 keeps it in the
/// codec parameters, which are already copied; older versions keep it on the stream.
#[cfg(ffmpeg_stream_side_data)]
unsafe fn copy_side_data(from: *const ffi::AVStream, to: *mut ffi::AVStream) {
    #[allow(deprecated)]
    for i in 0..(*from).nb_side_data.max(0) as usize {
        let sd = &*(*from).side_data.add(i);
        let dst = ffi::av_stream_new_side_data(to, sd.type_, sd.size);
        if !dst.is_null() {
            std::ptr::copy_nonoverlapping(sd.data, dst, sd.size);
        }
    }
}

#[cfg(not(ffmpeg_stream_side_data))]
unsafe fn copy_side_data(_from: *const ffi::AVStream, _to: *mut ffi::AVStream) {}

/// Encodes the new audio track frame by frame, exactly `total_samples` long.
struct AudioEncoder {
    /// Where the export goes, for errors while writing.
    dest: PathBuf,
    encoder: encoder::Audio,
    codec_name: &'static str,
    stream_index: usize,
    rate: u32,
    channels: u16,
    format: Sample,
    frame_size: usize,
    /// The encoder accepts a short last frame, so the track ends exactly where the video ends.
    small_last_frame: bool,
    start_samples: i64,
    total_samples: i64,
    sent_samples: i64,
    /// Decoded, interleaved samples not yet encoded.
    pending: Vec<f32>,
    pending_offset: usize,
    source_done: bool,
}

impl AudioEncoder {
    fn new(
        dest: &Path,
        kind: &OutputKind,
        source_rate: u32,
        channels: u16,
        options: &MuxOptions,
        output: &mut Output,
    ) -> Result<Self, MediaError> {
        let (codec_name, codec) = kind
            .audio_encoders
            .iter()
            .find_map(|name| encoder::find_by_name(name).map(|c| (*name, c)))
            .ok_or(MediaError::EncoderMissing {
                codec: kind.audio_encoders[0],
            })?;
        let setup_err = |source| MediaError::Encoder {
            codec: codec_name,
            source,
        };
        let audio = codec.audio().map_err(setup_err)?;
        let format = [
            Sample::F32(frame_planar()),
            Sample::F32(frame_packed()),
            Sample::I16(frame_packed()),
            Sample::I16(frame_planar()),
        ]
        .into_iter()
        .find(|f| audio.formats().is_none_or(|mut all| all.any(|g| g == *f)))
        .ok_or(MediaError::EncoderMissing { codec: codec_name })?;
        let rate = choose_sample_rate(source_rate, audio.rates().map(|r| r.collect()));

        let mut context = CodecContext::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(setup_err)?;
        context.set_rate(rate as i32);
        context.set_format(format);
        context.set_time_base(Rational::new(1, rate as i32));
        context.set_bit_rate(
            options
                .audio_bitrate
                .unwrap_or(kind.bitrate_per_channel * usize::from(channels)),
        );
        let global_header = output
            .format()
            .flags()
            .contains(ffmpeg_next::format::Flags::GLOBAL_HEADER);
        if global_header {
            context.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        unsafe {
            let raw = context.as_mut_ptr();
            ffi::av_channel_layout_default(&mut (*raw).ch_layout, i32::from(channels));
            // FFmpeg's own Opus encoder is marked experimental; it is only the fallback.
            (*raw).strict_std_compliance = ffi::FF_COMPLIANCE_EXPERIMENTAL;
        }
        let encoder = context.open_as(codec).map_err(setup_err)?;
        let mut stream = output
            .add_stream(codec)
            .map_err(MediaError::ffmpeg(dest, "adding the audio stream"))?;
        stream.set_parameters(&encoder);
        stream.set_time_base(Rational::new(1, rate as i32));
        let stream_index = stream.index();
        let capabilities = codec.capabilities();
        let frame_size = match encoder.frame_size() {
            0 => 1024,
            n => n as usize,
        };
        Ok(Self {
            dest: dest.to_path_buf(),
            encoder,
            codec_name,
            stream_index,
            rate,
            channels,
            format,
            frame_size,
            small_last_frame: capabilities.contains(codec::Capabilities::SMALL_LAST_FRAME)
                || capabilities.contains(codec::Capabilities::VARIABLE_FRAME_SIZE),
            start_samples: 0,
            total_samples: 0,
            sent_samples: 0,
            pending: Vec::new(),
            pending_offset: 0,
            source_done: false,
        })
    }

    fn time_seconds(&self) -> f64 {
        (self.start_samples + self.sent_samples) as f64 / f64::from(self.rate)
    }

    /// Encodes frames until the track reaches `until` seconds or its full length.
    fn encode_until(
        &mut self,
        until: f64,
        reader: &mut AudioReader,
        output: &mut Output,
        stream_tb: Rational,
    ) -> Result<(), MediaError> {
        while self.sent_samples < self.total_samples && self.time_seconds() <= until {
            let remaining = (self.total_samples - self.sent_samples) as usize;
            let mut samples = self.frame_size.min(remaining);
            if samples < self.frame_size && !self.small_last_frame {
                samples = self.frame_size;
            }
            let interleaved = self.take_samples(samples, reader)?;
            let frame = self.make_frame(&interleaved, samples);
            let codec = self.codec_name;
            self.encoder
                .send_frame(&frame)
                .map_err(|source| MediaError::Encoder { codec, source })?;
            self.sent_samples += samples as i64;
            self.drain(output, stream_tb)?;
        }
        Ok(())
    }

    /// `samples` frames of interleaved audio from the source, padded with silence past its end
    /// (the track always lasts exactly as long as the video).
    fn take_samples(
        &mut self,
        samples: usize,
        reader: &mut AudioReader,
    ) -> Result<Vec<f32>, MediaError> {
        let wanted = samples * usize::from(self.channels);
        while self.pending.len() - self.pending_offset < wanted && !self.source_done {
            match reader.next_chunk()? {
                Some(chunk) => {
                    self.pending.drain(..self.pending_offset);
                    self.pending_offset = 0;
                    self.pending.extend_from_slice(&chunk);
                }
                None => self.source_done = true,
            }
        }
        let available = (self.pending.len() - self.pending_offset).min(wanted);
        let mut out = Vec::with_capacity(wanted);
        out.extend_from_slice(&self.pending[self.pending_offset..self.pending_offset + available]);
        out.resize(wanted, 0.0);
        self.pending_offset += available;
        Ok(out)
    }

    fn make_frame(&self, interleaved: &[f32], samples: usize) -> frame::Audio {
        let mut frame = frame::Audio::empty();
        let channels = usize::from(self.channels);
        unsafe {
            let raw = frame.as_mut_ptr();
            (*raw).format = ffi::AVSampleFormat::from(self.format) as i32;
            (*raw).nb_samples = samples as i32;
            (*raw).sample_rate = self.rate as i32;
            ffi::av_channel_layout_copy(&mut (*raw).ch_layout, &(*self.encoder.as_ptr()).ch_layout);
            let status = ffi::av_frame_get_buffer(raw, 0);
            assert!(status >= 0, "out of memory allocating an audio frame");
            (*raw).pts = self.start_samples + self.sent_samples;
            let planes = (*raw).extended_data;
            match self.format {
                Sample::F32(t) if t == frame_planar() => {
                    for c in 0..channels {
                        let plane =
                            std::slice::from_raw_parts_mut(*planes.add(c) as *mut f32, samples);
                        for (i, s) in plane.iter_mut().enumerate() {
                            *s = interleaved[i * channels + c];
                        }
                    }
                }
                Sample::F32(_) => {
                    std::slice::from_raw_parts_mut(*planes as *mut f32, samples * channels)
                        .copy_from_slice(interleaved);
                }
                Sample::I16(t) if t == frame_planar() => {
                    for c in 0..channels {
                        let plane =
                            std::slice::from_raw_parts_mut(*planes.add(c) as *mut i16, samples);
                        for (i, s) in plane.iter_mut().enumerate() {
                            *s = to_i16(interleaved[i * channels + c]);
                        }
                    }
                }
                _ => {
                    let plane =
                        std::slice::from_raw_parts_mut(*planes as *mut i16, samples * channels);
                    for (s, v) in plane.iter_mut().zip(interleaved) {
                        *s = to_i16(*v);
                    }
                }
            }
        }
        frame
    }

    fn drain(&mut self, output: &mut Output, stream_tb: Rational) -> Result<(), MediaError> {
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(self.stream_index);
            packet.rescale_ts(Rational::new(1, self.rate as i32), stream_tb);
            packet
                .write_interleaved(output)
                .map_err(|e| MediaError::destination(&self.dest, format!("writing failed: {e}")))?;
        }
        Ok(())
    }

    fn finish(&mut self, output: &mut Output, stream_tb: Rational) -> Result<(), MediaError> {
        let codec = self.codec_name;
        self.encoder
            .send_eof()
            .map_err(|source| MediaError::Encoder { codec, source })?;
        self.drain(output, stream_tb)
    }
}

/// The source's rate when it is a full-band rate the encoder takes; otherwise 48 kHz (what
/// Opus always uses), so a low-rate source never makes a low-rate export.
fn choose_sample_rate(source_rate: u32, supported: Option<Vec<i32>>) -> u32 {
    let takes = |rate: u32| {
        supported
            .as_ref()
            .is_none_or(|r| r.contains(&(rate as i32)))
    };
    if source_rate >= 44_100 && takes(source_rate) {
        source_rate
    } else if takes(48_000) {
        48_000
    } else {
        supported
            .and_then(|r| r.iter().copied().max())
            .map_or(48_000, |r| r as u32)
    }
}

fn frame_planar() -> ffmpeg_next::format::sample::Type {
    ffmpeg_next::format::sample::Type::Planar
}

fn frame_packed() -> ffmpeg_next::format::sample::Type {
    ffmpeg_next::format::sample::Type::Packed
}

fn to_i16(v: f32) -> i16 {
    (v.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

#[cfg(test)]
mod tests {
    use super::choose_sample_rate;

    #[test]
    fn sample_rates_are_full_band() {
        assert_eq!(choose_sample_rate(44_100, None), 44_100);
        assert_eq!(choose_sample_rate(22_050, None), 48_000);
        let opus = Some(vec![48_000, 24_000, 16_000, 12_000, 8_000]);
        assert_eq!(choose_sample_rate(44_100, opus.clone()), 48_000);
        assert_eq!(choose_sample_rate(48_000, opus), 48_000);
        assert_eq!(
            choose_sample_rate(96_000, Some(vec![96_000, 48_000])),
            96_000
        );
    }
}

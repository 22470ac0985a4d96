//! What a media file contains: container, duration, streams, size.

use std::collections::BTreeMap;
use std::path::Path;

use ffmpeg_next::format::context::Input;
use ffmpeg_next::format::stream::Disposition;
use ffmpeg_next::media::Type as MediaType;
use ffmpeg_next::{Rational, Stream};
use serde::{Deserialize, Serialize};

use super::error::MediaError;
use super::input::open_input;
use super::rotation::stream_rotation_degrees;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MediaInfo {
    /// The path as given, for display.
    pub path: String,
    /// FFmpeg's short name of the container, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
    pub container: String,
    /// A readable name of the container, e.g. "QuickTime / MOV".
    pub container_long_name: String,
    pub duration_seconds: f64,
    pub size_bytes: u64,
    pub video_streams: Vec<VideoStreamInfo>,
    pub audio_streams: Vec<AudioStreamInfo>,
    /// Container-level tags (title, creation time, ...).
    pub metadata: BTreeMap<String, String>,
    /// Why BGM Studio cannot give this file music (no video, a still image, under a second);
    /// null when it can.
    #[serde(default)]
    pub problem: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct VideoStreamInfo {
    pub index: u32,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Clockwise rotation to apply for display (phone videos): 0, 90, 180 or 270.
    pub rotation_degrees: u32,
    pub duration_seconds: Option<f64>,
    /// Frames the container declares for the stream, when it does.
    #[serde(default)]
    pub frames: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AudioStreamInfo {
    pub index: u32,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    pub duration_seconds: Option<f64>,
    pub language: Option<String>,
}

impl MediaInfo {
    pub fn has_video(&self) -> bool {
        !self.video_streams.is_empty()
    }

    pub fn has_audio(&self) -> bool {
        !self.audio_streams.is_empty()
    }

    /// Refuses what is not a video BGM Studio can give music to: no video track, a still
    /// picture (an image file, whatever its name says), or under [`MIN_VIDEO_SECONDS`].
    pub fn check_usable(&self, path: &Path) -> Result<(), MediaError> {
        let path = path.to_path_buf();
        let Some(video) = self.video_streams.first() else {
            return Err(MediaError::NoVideo { path });
        };
        let image_container = IMAGE_CONTAINERS
            .iter()
            .any(|c| self.container.split(',').any(|name| name == *c));
        let one_picture =
            video.frames.is_some_and(|n| n <= 1) && IMAGE_CODECS.contains(&video.codec.as_str());
        if image_container || one_picture {
            return Err(MediaError::StillImage { path });
        }
        let seconds = video.duration_seconds.unwrap_or(self.duration_seconds);
        if seconds < MIN_VIDEO_SECONDS {
            return Err(MediaError::TooShort { path, seconds });
        }
        Ok(())
    }
}

/// The shortest video worth music: under a second there is nothing to score.
pub const MIN_VIDEO_SECONDS: f64 = 1.0;

/// FFmpeg's demuxers of single pictures and image sequences.
const IMAGE_CONTAINERS: &[&str] = &[
    "image2",
    "png_pipe",
    "jpeg_pipe",
    "bmp_pipe",
    "webp_pipe",
    "tiff_pipe",
    "gif",
    "gif_pipe",
    "svg_pipe",
    "jpegxl_pipe",
    "qoi_pipe",
];

/// Picture codecs: one frame of these is a still image in a video container.
const IMAGE_CODECS: &[&str] = &["png", "mjpeg", "bmp", "gif", "webp", "tiff", "jpeg2000"];

impl VideoStreamInfo {
    /// Width and height as the picture is shown, after rotation.
    pub fn display_size(&self) -> (u32, u32) {
        if self.rotation_degrees % 180 == 90 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// Reads a file's container and stream information without decoding it.
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    let input = open_input(path)?;
    let size_bytes = std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|source| MediaError::Io {
            path: path.to_path_buf(),
            source,
        })?;

    let mut video_streams = Vec::new();
    let mut audio_streams = Vec::new();
    for stream in input.streams() {
        let params = stream.parameters();
        let codec = params.id().name().to_string();
        match params.medium() {
            MediaType::Video if !is_cover_art(&stream) => {
                // SAFETY: the parameters belong to a live stream of `input`.
                let (width, height) = unsafe {
                    let p = params.as_ptr();
                    ((*p).width.max(0) as u32, (*p).height.max(0) as u32)
                };
                video_streams.push(VideoStreamInfo {
                    index: stream.index() as u32,
                    codec,
                    width,
                    height,
                    fps: frame_rate(&stream),
                    rotation_degrees: stream_rotation_degrees(&stream),
                    duration_seconds: stream_duration_seconds(&stream),
                    frames: u64::try_from(stream.frames()).ok().filter(|&n| n > 0),
                });
            }
            MediaType::Audio => {
                let (sample_rate, channels) = unsafe {
                    let p = params.as_ptr();
                    (
                        (*p).sample_rate.max(0) as u32,
                        (*p).ch_layout.nb_channels.max(0) as u32,
                    )
                };
                audio_streams.push(AudioStreamInfo {
                    index: stream.index() as u32,
                    codec,
                    sample_rate,
                    channels,
                    duration_seconds: stream_duration_seconds(&stream),
                    language: stream.metadata().get("language").map(str::to_string),
                });
            }
            _ => {}
        }
    }

    if video_streams.is_empty() && audio_streams.is_empty() {
        return Err(MediaError::NotMedia {
            path: path.to_path_buf(),
        });
    }

    let format = input.format();
    let mut info = MediaInfo {
        path: path.display().to_string(),
        container: format.name().to_string(),
        container_long_name: format.description().to_string(),
        duration_seconds: container_duration_seconds(&input),
        size_bytes,
        video_streams,
        audio_streams,
        metadata: input
            .metadata()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        problem: None,
    };
    info.problem = info.check_usable(path).err().map(|e| e.to_string());
    Ok(info)
}

/// The video: the first video stream that is not a cover picture.
pub(crate) fn primary_video_stream<'a>(
    input: &'a Input,
    path: &Path,
) -> Result<Stream<'a>, MediaError> {
    input
        .streams()
        .find(|s| s.parameters().medium() == MediaType::Video && !is_cover_art(s))
        .ok_or_else(|| MediaError::NoVideo {
            path: path.to_path_buf(),
        })
}

/// An embedded cover picture is a "video" stream to FFmpeg, but not the video.
pub(crate) fn is_cover_art(stream: &Stream) -> bool {
    stream.disposition().contains(Disposition::ATTACHED_PIC)
}

pub(crate) fn seconds(value: i64, time_base: Rational) -> f64 {
    value as f64 * f64::from(time_base)
}

pub(crate) fn stream_duration_seconds(stream: &Stream) -> Option<f64> {
    let duration = stream.duration();
    if duration > 0 {
        return Some(seconds(duration, stream.time_base()));
    }
    // Matroska keeps per-stream durations in a tag instead ("00:00:02.000000000").
    let tag = stream.metadata().get("DURATION").map(str::to_string)?;
    parse_clock(&tag)
}

fn parse_clock(text: &str) -> Option<f64> {
    let mut total = 0.0;
    for part in text.trim().split(':') {
        total = total * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(total)
}

pub(crate) fn container_duration_seconds(input: &Input) -> f64 {
    let duration = input.duration();
    if duration > 0 {
        return duration as f64 / f64::from(ffmpeg_next::ffi::AV_TIME_BASE);
    }
    input
        .streams()
        .filter_map(|s| stream_duration_seconds(&s))
        .fold(0.0, f64::max)
}

fn frame_rate(stream: &Stream) -> f64 {
    [stream.avg_frame_rate(), stream.rate()]
        .into_iter()
        .find(|r| r.numerator() > 0 && r.denominator() > 0)
        .map(f64::from)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_matroska_duration_tags() {
        assert_eq!(parse_clock("00:00:02.500000000"), Some(2.5));
        assert_eq!(parse_clock("01:02:03"), Some(3723.0));
        assert_eq!(parse_clock("n/a"), None);
    }
}

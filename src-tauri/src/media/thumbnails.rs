//! Evenly spaced, upright preview frames of a video, for the UI's poster and thumbnail strip.

use std::path::Path;

use ffmpeg_next::codec::context::Context as CodecContext;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling::{Context as Scaler, Flags};
use ffmpeg_next::{frame, Packet};
use image::RgbImage;

use super::error::MediaError;
use super::input::{open_input, read_packet};
use super::probe::{container_duration_seconds, primary_video_stream, seconds};
use super::rotation::stream_rotation_degrees;

#[derive(Clone, Debug)]
pub struct Thumbnail {
    /// The time the frame is shown, in seconds from the start of the video.
    pub time_seconds: f64,
    pub image: RgbImage,
}

/// `count` frames at the middles of equal slices of the video, each `width` pixels wide as
/// displayed (after rotation).
pub fn thumbnails(path: &Path, count: usize, width: u32) -> Result<Vec<Thumbnail>, MediaError> {
    if count == 0 || width < 2 {
        return Ok(Vec::new());
    }
    let mut input = open_input(path)?;
    let stream = primary_video_stream(&input, path)?;
    let stream_index = stream.index();
    let time_base = stream.time_base();
    let rotation = stream_rotation_degrees(&stream);
    let codec_name = stream.parameters().id().name().to_string();
    let mut decoder = CodecContext::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(|_| MediaError::UnsupportedCodec {
            path: path.to_path_buf(),
            codec: codec_name,
        })?;
    let duration = container_duration_seconds(&input);

    let mut scaler: Option<Scaler> = None;
    let mut decoded = frame::Video::empty();
    let mut thumbs = Vec::with_capacity(count);
    for i in 0..count {
        let target = duration * (i as f64 + 0.5) / count as f64;
        let target_ts = (target * f64::from(ffmpeg_next::ffi::AV_TIME_BASE)) as i64;
        // Seeking lands on the keyframe before the target; decode forward from there.
        if input.seek(target_ts, ..target_ts).is_err() {
            tracing::debug!("{}: seek to {target:.2}s failed", path.display());
        }
        decoder.flush();
        let Some(picture) = decode_frame_at(
            &mut input,
            &mut decoder,
            &mut decoded,
            stream_index,
            |pts| seconds(pts, time_base) >= target - 0.02,
        ) else {
            break;
        };
        let shown_at = picture
            .timestamp()
            .map_or(target, |pts| seconds(pts, time_base));
        let image = to_rgb(picture, &mut scaler, width, rotation)
            .map_err(MediaError::ffmpeg(path, "scaling a video frame"))?;
        thumbs.push(Thumbnail {
            time_seconds: shown_at,
            image,
        });
    }
    if thumbs.is_empty() {
        return Err(MediaError::Damaged {
            path: path.to_path_buf(),
            container: "a video",
            detail: "no frame of its video could be decoded".into(),
        });
    }
    Ok(thumbs)
}

/// Decodes until a frame satisfies `reached`, or returns the last frame at the end of the file.
fn decode_frame_at<'f>(
    input: &mut ffmpeg_next::format::context::Input,
    decoder: &mut ffmpeg_next::decoder::Video,
    frame: &'f mut frame::Video,
    stream_index: usize,
    reached: impl Fn(i64) -> bool,
) -> Option<&'f frame::Video> {
    let mut have_frame = false;
    let mut packet = Packet::empty();
    let mut eof_sent = false;
    loop {
        while decoder.receive_frame(frame).is_ok() {
            have_frame = true;
            if frame.timestamp().is_none_or(&reached) {
                return Some(frame);
            }
        }
        if eof_sent {
            return have_frame.then_some(frame);
        }
        match read_packet(&mut packet, input) {
            Ok(()) if packet.stream() == stream_index => {
                let _ = decoder.send_packet(&packet);
            }
            Ok(()) => {}
            Err(_) => {
                let _ = decoder.send_eof();
                eof_sent = true;
            }
        }
    }
}

/// swscale asserts (aborting the whole process) on a pixel format it has no descriptor for,
/// which a damaged stream can make the decoder report: such a frame is refused instead.
pub(crate) fn scalable(picture: &frame::Video) -> bool {
    // SAFETY: reads a field of a live frame; the format is range-checked before it is used as
    // the enum, and the descriptor lookup and support test only read static tables.
    unsafe {
        let raw = (*picture.as_ptr()).format;
        if !(0..ffmpeg_next::ffi::AVPixelFormat::AV_PIX_FMT_NB as i32).contains(&raw) {
            return false;
        }
        let format: ffmpeg_next::ffi::AVPixelFormat = std::mem::transmute(raw);
        !ffmpeg_next::ffi::av_pix_fmt_desc_get(format).is_null()
            && ffmpeg_next::ffi::sws_isSupportedInput(format) > 0
            && picture.width() > 0
            && picture.height() > 0
    }
}

fn to_rgb(
    picture: &frame::Video,
    scaler: &mut Option<Scaler>,
    display_width: u32,
    rotation: u32,
) -> Result<RgbImage, ffmpeg_next::Error> {
    let (src_w, src_h) = (picture.width().max(1), picture.height().max(1));
    let sideways = rotation % 180 == 90;
    let (shown_w, shown_h) = if sideways {
        (src_h, src_w)
    } else {
        (src_w, src_h)
    };
    let shown_height =
        ((u64::from(display_width) * u64::from(shown_h) / u64::from(shown_w)) as u32).max(2);
    let (dst_w, dst_h) = if sideways {
        (shown_height, display_width)
    } else {
        (display_width, shown_height)
    };

    if !scalable(picture) {
        return Err(ffmpeg_next::Error::InvalidData);
    }
    let reusable = scaler.as_ref().is_some_and(|s| {
        s.input().width == src_w
            && s.input().height == src_h
            && s.input().format == picture.format()
    });
    if !reusable {
        *scaler = Some(Scaler::get(
            picture.format(),
            src_w,
            src_h,
            Pixel::RGB24,
            dst_w,
            dst_h,
            Flags::BILINEAR,
        )?);
    }
    let mut rgb = frame::Video::empty();
    scaler.as_mut().expect("set above").run(picture, &mut rgb)?;

    let stride = rgb.stride(0);
    let data = rgb.data(0);
    let row_bytes = dst_w as usize * 3;
    let mut pixels = Vec::with_capacity(row_bytes * dst_h as usize);
    for row in 0..dst_h as usize {
        pixels.extend_from_slice(&data[row * stride..row * stride + row_bytes]);
    }
    let image = RgbImage::from_raw(dst_w, dst_h, pixels).expect("buffer sized to the image");
    Ok(match rotation {
        90 => image::imageops::rotate90(&image),
        180 => image::imageops::rotate180(&image),
        270 => image::imageops::rotate270(&image),
        _ => image,
    })
}

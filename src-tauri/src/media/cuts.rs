//! Shot cuts: where the picture changes at once. Every frame is decoded and shrunk to a small
//! grey image; a cut is where the brightness histogram of a frame differs from the previous
//! frame's by more than a threshold, at least a minimum shot length after the last cut.

use std::path::Path;

use bgm_models::task::{CancelToken, Progress};
use ffmpeg_next::codec::context::Context as CodecContext;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling::{Context as Scaler, Flags};
use ffmpeg_next::{frame, Packet};
use serde::{Deserialize, Serialize};

use super::error::MediaError;
use super::input::{open_input, read_packet};
use super::probe::{container_duration_seconds, primary_video_stream, seconds};
use super::thumbnails::scalable;

/// Small frames are enough to see a cut and keep decoding the cost.
const WIDTH: u32 = 64;
const HEIGHT: u32 = 36;
const BINS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CutOptions {
    /// Histogram distance (0 = same picture, 1 = nothing in common) that makes a cut.
    pub threshold: f32,
    /// Cuts closer than this to the previous one are flashes, not shots.
    pub min_shot_seconds: f64,
}

impl Default for CutOptions {
    fn default() -> Self {
        Self {
            threshold: 0.4,
            min_shot_seconds: 0.5,
        }
    }
}

/// A cut: the time of the first frame of the new shot, and how different it is (0..=1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Cut {
    pub time_seconds: f64,
    pub score: f32,
}

/// The cuts of `path`'s video, in order.
pub fn detect_cuts(
    path: &Path,
    options: &CutOptions,
    progress: &mut dyn Progress,
    cancel: &CancelToken,
) -> Result<Vec<Cut>, MediaError> {
    let mut input = open_input(path)?;
    let stream = primary_video_stream(&input, path)?;
    let (index, time_base) = (stream.index(), stream.time_base());
    let start = match stream.start_time() {
        ffmpeg_next::ffi::AV_NOPTS_VALUE => 0.0,
        ts => seconds(ts, time_base),
    };
    let codec = stream.parameters().id().name().to_string();
    let mut decoder = CodecContext::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(|_| MediaError::UnsupportedCodec {
            path: path.to_path_buf(),
            codec,
        })?;
    let duration = container_duration_seconds(&input).max(1e-9);
    let mut detector = Detector::new(*options);
    let (mut scaler, mut decoded) = (None::<Scaler>, frame::Video::empty());
    let mut packet = Packet::empty();
    let mut draining = false;
    loop {
        while decoder.receive_frame(&mut decoded).is_ok() {
            let Some(pts) = decoded.timestamp() else {
                continue;
            };
            let time = seconds(pts, time_base) - start;
            let grey = shrink(&decoded, &mut scaler)
                .map_err(MediaError::ffmpeg(path, "shrinking a video frame"))?;
            detector.push(time, &grey);
            progress.report((time / duration).clamp(0.0, 1.0));
        }
        if draining {
            break;
        }
        if cancel.is_cancelled() {
            return Err(MediaError::Cancelled);
        }
        match read_packet(&mut packet, &mut input) {
            Ok(()) if packet.stream() == index => {
                let _ = decoder.send_packet(&packet);
            }
            Ok(()) => {}
            Err(_) => {
                let _ = decoder.send_eof();
                draining = true;
            }
        }
    }
    Ok(detector.cuts)
}

/// The frame as `WIDTH`×`HEIGHT` grey pixels.
fn shrink(
    picture: &frame::Video,
    scaler: &mut Option<Scaler>,
) -> Result<Vec<u8>, ffmpeg_next::Error> {
    if !scalable(picture) {
        return Err(ffmpeg_next::Error::InvalidData);
    }
    let reusable = scaler.as_ref().is_some_and(|s| {
        s.input().width == picture.width()
            && s.input().height == picture.height()
            && s.input().format == picture.format()
    });
    if !reusable {
        *scaler = Some(Scaler::get(
            picture.format(),
            picture.width(),
            picture.height(),
            Pixel::GRAY8,
            WIDTH,
            HEIGHT,
            Flags::AREA,
        )?);
    }
    let mut grey = frame::Video::empty();
    if let Some(scaler) = scaler.as_mut() {
        scaler.run(picture, &mut grey)?;
    }
    let stride = grey.stride(0);
    let data = grey.data(0);
    Ok((0..HEIGHT as usize)
        .flat_map(|row| {
            data[row * stride..row * stride + WIDTH as usize]
                .iter()
                .copied()
        })
        .collect())
}

/// Frame-to-frame histogram distance, thresholded, with a minimum shot length.
struct Detector {
    options: CutOptions,
    previous: Option<[f32; BINS]>,
    last_cut: f64,
    cuts: Vec<Cut>,
}

impl Detector {
    fn new(options: CutOptions) -> Self {
        Self {
            options,
            previous: None,
            last_cut: 0.0,
            cuts: Vec::new(),
        }
    }

    fn push(&mut self, time: f64, grey: &[u8]) {
        let mut histogram = [0f32; BINS];
        for &v in grey {
            histogram[usize::from(v) * BINS / 256] += 1.0 / grey.len() as f32;
        }
        if let Some(previous) = self.previous.replace(histogram) {
            let score = 0.5
                * histogram
                    .iter()
                    .zip(&previous)
                    .map(|(a, b)| (a - b).abs())
                    .sum::<f32>();
            if score >= self.options.threshold
                && time - self.last_cut >= self.options.min_shot_seconds
            {
                self.cuts.push(Cut {
                    time_seconds: time,
                    score,
                });
                self.last_cut = time;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_of_picture_is_a_cut_and_a_flash_is_not() {
        let mut detector = Detector::new(CutOptions::default());
        let flat = |v: u8| vec![v; (WIDTH * HEIGHT) as usize];
        for (i, v) in [10, 10, 10, 200, 200, 20, 200, 200].into_iter().enumerate() {
            detector.push(1.0 + i as f64 * 0.04, &flat(v));
        }
        // 10 → 200 at 1.12 s is a cut; 200 → 20 → 200 within 0.5 s of it is not.
        assert_eq!(detector.cuts.len(), 1);
        assert!((detector.cuts[0].time_seconds - 1.12).abs() < 1e-9);
        assert!((detector.cuts[0].score - 1.0).abs() < 1e-3);
    }
}

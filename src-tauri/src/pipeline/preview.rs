//! A small waveform picture of each candidate's mix for the UI's audition list.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, Rgba, RgbaImage};

use crate::jobs::write_atomic;
use crate::media::PcmAudio;

pub const PREVIEW_WIDTH: u32 = 480;
pub const PREVIEW_HEIGHT: u32 = 64;
const WAVE: Rgba<u8> = Rgba([0x5b, 0x8d, 0xef, 0xff]);

/// Column `x`'s lowest and highest sample over all channels, in -1..=1.
fn column_extent(pcm: &PcmAudio, x: u32, width: u32) -> (f32, f32) {
    let frames = pcm.frames();
    let channels = usize::from(pcm.channels.max(1));
    let from = frames * x as usize / width as usize;
    let to = (frames * (x as usize + 1) / width as usize)
        .max(from + 1)
        .min(frames);
    pcm.samples[from * channels..to * channels]
        .iter()
        .fold((0f32, 0f32), |(lo, hi), &s| (lo.min(s), hi.max(s)))
}

/// Draws the waveform (transparent background) and writes it as PNG, atomically.
pub fn write_waveform(path: &Path, pcm: &PcmAudio) -> std::io::Result<()> {
    let mut image = RgbaImage::new(PREVIEW_WIDTH, PREVIEW_HEIGHT);
    let mid = (PREVIEW_HEIGHT / 2) as f32;
    if pcm.frames() > 0 {
        for x in 0..PREVIEW_WIDTH {
            let (lo, hi) = column_extent(pcm, x, PREVIEW_WIDTH);
            let top = (mid - hi.clamp(-1.0, 1.0) * mid).floor().max(0.0) as u32;
            let bottom = (mid - lo.clamp(-1.0, 1.0) * mid).ceil() as u32;
            for y in top..=bottom.min(PREVIEW_HEIGHT - 1) {
                image.put_pixel(x, y, WAVE);
            }
        }
    }
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(std::io::Error::other)?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loud_columns_are_taller_than_quiet_ones() {
        let mut samples = vec![0.05f32; 44_100];
        samples[22_050..].iter_mut().enumerate().for_each(|(i, s)| {
            *s = if i % 2 == 0 { 0.9 } else { -0.9 };
        });
        let pcm = PcmAudio {
            samples,
            sample_rate: 44_100,
            channels: 1,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        write_waveform(&path, &pcm).unwrap();
        let img = image::open(&path).unwrap().to_rgba8();
        let height = |x: u32| {
            (0..PREVIEW_HEIGHT)
                .filter(|&y| img.get_pixel(x, y)[3] > 0)
                .count()
        };
        assert!(height(10) < 6, "quiet half");
        assert!(height(PREVIEW_WIDTH - 10) > 50, "loud half");
    }
}

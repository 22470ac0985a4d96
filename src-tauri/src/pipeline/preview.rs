//! A small waveform picture of each candidate's mix for the UI's audition list.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, Rgba, RgbaImage};

use crate::jobs::write_atomic;

pub const PREVIEW_WIDTH: u32 = 480;
pub const PREVIEW_HEIGHT: u32 = 64;
const WAVE: Rgba<u8> = Rgba([0x5b, 0x8d, 0xef, 0xff]);

/// A waveform picture built from audio that arrives a block at a time: each column keeps the
/// lowest and highest sample of its stretch of frames.
pub struct Waveform {
    frames: usize,
    channels: usize,
    extents: Vec<(f32, f32)>,
    /// Frames seen so far.
    position: usize,
    /// The first column whose stretch has not ended yet.
    column: usize,
}

impl Waveform {
    /// For audio `frames` long.
    pub fn new(frames: usize, channels: u16) -> Self {
        Self {
            frames,
            channels: usize::from(channels.max(1)),
            extents: vec![(0.0, 0.0); PREVIEW_WIDTH as usize],
            position: 0,
            column: 0,
        }
    }

    /// Column `x`'s frames: an equal share, at least one.
    fn stretch(&self, x: usize) -> std::ops::Range<usize> {
        let width = PREVIEW_WIDTH as usize;
        let from = self.frames * x / width;
        let to = (self.frames * (x + 1) / width)
            .max(from + 1)
            .min(self.frames);
        from..to
    }

    /// Adds the next interleaved samples.
    pub fn add(&mut self, samples: &[f32]) {
        for frame in samples.chunks_exact(self.channels) {
            let n = self.position;
            self.position += 1;
            while self.column < self.extents.len() && self.stretch(self.column).end <= n {
                self.column += 1;
            }
            let (lo, hi) = frame
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
            // Short audio gives neighbouring columns the same frames.
            let mut x = self.column;
            while x < self.extents.len() && self.stretch(x).contains(&n) {
                let extent = &mut self.extents[x];
                *extent = (extent.0.min(lo), extent.1.max(hi));
                x += 1;
            }
        }
    }

    /// Draws it and writes it as PNG, atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut image = RgbaImage::new(PREVIEW_WIDTH, PREVIEW_HEIGHT);
        let mid = (PREVIEW_HEIGHT / 2) as f32;
        if self.frames > 0 {
            for (x, &(lo, hi)) in self.extents.iter().enumerate() {
                let top = (mid - hi.clamp(-1.0, 1.0) * mid).floor().max(0.0) as u32;
                let bottom = (mid - lo.clamp(-1.0, 1.0) * mid).ceil() as u32;
                for y in top..=bottom.min(PREVIEW_HEIGHT - 1) {
                    image.put_pixel(x as u32, y, WAVE);
                }
            }
        }
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(std::io::Error::other)?;
        write_atomic(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::PcmAudio;

    /// Draws the waveform (transparent background) and writes it as PNG, atomically.
    pub fn write_waveform(path: &Path, pcm: &PcmAudio) -> std::io::Result<()> {
        let mut waveform = Waveform::new(pcm.frames(), pcm.channels);
        waveform.add(&pcm.samples);
        waveform.write(path)
    }

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

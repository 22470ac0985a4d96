//! Pixels <-> mel amplitudes, Riffusion's `spectrogram_from_image` / `image_from_spectrogram`.
//!
//! Mel data is laid out frame-major: `mel[t * n_mels + m]`, with `m = 0` the lowest band (the
//! image's bottom row). Black is loud, white is silence.

use image::{DynamicImage, RgbImage};

use super::error::{Result, SpectrogramError};
use super::params::SpectrogramParams;

/// Channel planes an image yields: `[R]` for mono, `[G, B]` for stereo. Greyscale images act
/// as RGB with three equal channels, as Riffusion's `convert("RGB")` makes them.
pub fn channel_planes(image: &DynamicImage, params: &SpectrogramParams) -> Result<Vec<Vec<u8>>> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if h != params.n_mels {
        return Err(SpectrogramError::ImageHeight {
            expected: params.n_mels,
            got: h,
        });
    }
    if w < params.min_frames() {
        return Err(SpectrogramError::ImageWidth {
            min: params.min_frames(),
            got: w,
        });
    }
    let channels: &[usize] = if params.stereo { &[1, 2] } else { &[0] };
    let plane = |c: usize| -> Vec<u8> {
        match image {
            DynamicImage::ImageLuma8(img) => img.as_raw().clone(),
            DynamicImage::ImageLumaA8(img) => img.pixels().map(|p| p.0[0]).collect(),
            DynamicImage::ImageRgb8(img) => img.pixels().map(|p| p.0[c]).collect(),
            DynamicImage::ImageRgba8(img) => img.pixels().map(|p| p.0[c]).collect(),
            other => other.to_rgb8().pixels().map(|p| p.0[c]).collect(),
        }
    };
    Ok(channels.iter().map(|&c| plane(c)).collect())
}

/// Amplitude of each pixel level, in f32 as Riffusion's numpy code computes it.
pub fn level_table(params: &SpectrogramParams) -> [f32; 256] {
    let inv_power = 1.0 / params.power_for_image;
    std::array::from_fn(|p| ((255.0 - p as f32) / 255.0).powf(inv_power) * params.max_value)
}

/// Mel amplitudes (frame-major) of one row-major `width x n_mels` plane.
pub fn plane_to_mel(plane: &[u8], width: usize, table: &[f32; 256]) -> Vec<f32> {
    let height = plane.len() / width;
    let mut mel = vec![0.0; plane.len()];
    for (t, frame) in mel.chunks_mut(height).enumerate() {
        for (m, v) in frame.iter_mut().enumerate() {
            // Bottom row is band 0.
            *v = table[plane[(height - 1 - m) * width + t] as usize];
        }
    }
    mel
}

/// Pixel level of a mel amplitude given the image's maximum (Riffusion truncates, not rounds).
pub fn level_of(v: f32, max: f32, power: f32) -> u8 {
    if max.is_nan() || max <= 0.0 {
        return 255;
    }
    let x = (v / max).powf(power) * 255.0;
    let level = 255.0 - x;
    // `as u8` saturates and maps NaN to 0, the same truncation numpy's astype does in range.
    level as u8
}

/// RGB image from frame-major mel planes (1 = mono, 2 = stereo) and their common maximum.
pub fn mel_to_image(planes: &[Vec<f32>], n_mels: usize, max: f32, power: f32) -> RgbImage {
    let width = planes[0].len() / n_mels;
    let mut img = RgbImage::new(width as u32, n_mels as u32);
    for t in 0..width {
        for m in 0..n_mels {
            let lv = |p: &Vec<f32>| level_of(p[t * n_mels + m], max, power);
            let px = if planes.len() == 1 {
                let l = lv(&planes[0]);
                [l, l, l]
            } else {
                // Riffusion's stereo images keep red at zero.
                [0, lv(&planes[0]), lv(&planes[1])]
            };
            img.put_pixel(t as u32, (n_mels - 1 - m) as u32, image::Rgb(px));
        }
    }
    img
}

//! PNG files with the conversion parameters and the image's max value in tEXt chunks (the role
//! EXIF plays in Riffusion's images).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, GrayAlphaImage, GrayImage, RgbImage, RgbaImage};

use super::error::{Result, SpectrogramError};
use super::params::SpectrogramParams;

const PREFIX: &str = "bgm-spectrogram:";

/// What a spectrogram PNG says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrogramMetadata {
    pub params: SpectrogramParams,
    /// Largest mel amplitude of the audio the image was made from (black = this value).
    pub max_value: f32,
}

fn entries(meta: &SpectrogramMetadata) -> Vec<(&'static str, String)> {
    let p = &meta.params;
    vec![
        ("sample_rate", p.sample_rate.to_string()),
        ("hop_length", p.hop_length.to_string()),
        ("win_length", p.win_length.to_string()),
        ("n_fft", p.n_fft.to_string()),
        ("n_mels", p.n_mels.to_string()),
        ("min_frequency", p.min_frequency.to_string()),
        ("max_frequency", p.max_frequency.to_string()),
        ("power_for_image", p.power_for_image.to_string()),
        ("griffin_lim_iters", p.griffin_lim_iters.to_string()),
        ("momentum", p.momentum.to_string()),
        ("stereo", p.stereo.to_string()),
        ("mel_scale", "htk".to_string()),
        ("max_value", meta.max_value.to_string()),
    ]
}

/// Encodes an 8-bit image as PNG, with the metadata as tEXt chunks when given.
pub fn encode_png(image: &DynamicImage, meta: Option<&SpectrogramMetadata>) -> Result<Vec<u8>> {
    let (color, data): (png::ColorType, Vec<u8>) = match image {
        DynamicImage::ImageLuma8(i) => (png::ColorType::Grayscale, i.as_raw().clone()),
        DynamicImage::ImageLumaA8(i) => (png::ColorType::GrayscaleAlpha, i.as_raw().clone()),
        DynamicImage::ImageRgba8(i) => (png::ColorType::Rgba, i.as_raw().clone()),
        other => (png::ColorType::Rgb, other.to_rgb8().into_raw()),
    };
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, image.width(), image.height());
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    if let Some(meta) = meta {
        for (key, value) in entries(meta) {
            enc.add_text_chunk(format!("{PREFIX}{key}"), value)?;
        }
    }
    let mut writer = enc.write_header()?;
    writer.write_image_data(&data)?;
    writer.finish()?;
    Ok(out)
}

/// Decodes a PNG to an 8-bit image and, if it carries our tEXt chunks, its metadata.
pub fn decode_png(bytes: &[u8]) -> Result<(DynamicImage, Option<SpectrogramMetadata>)> {
    let mut dec = png::Decoder::new(Cursor::new(bytes));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info()?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| SpectrogramError::PngFormat("image too large".into()))?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf)?;
    buf.truncate(frame.buffer_size());
    let (w, h) = (frame.width, frame.height);
    let bad = || SpectrogramError::PngFormat("pixel buffer does not match the header".into());
    let image = match frame.color_type {
        png::ColorType::Grayscale => {
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, buf).ok_or_else(bad)?)
        }
        png::ColorType::GrayscaleAlpha => {
            DynamicImage::ImageLumaA8(GrayAlphaImage::from_raw(w, h, buf).ok_or_else(bad)?)
        }
        png::ColorType::Rgb => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, buf).ok_or_else(bad)?)
        }
        png::ColorType::Rgba => {
            DynamicImage::ImageRgba8(RgbaImage::from_raw(w, h, buf).ok_or_else(bad)?)
        }
        other => return Err(SpectrogramError::PngFormat(format!("{other:?} output"))),
    };
    let texts: Vec<(String, String)> = reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .filter_map(|c| {
            c.keyword
                .strip_prefix(PREFIX)
                .map(|k| (k.to_string(), c.text.clone()))
        })
        .collect();
    let meta = if texts.is_empty() {
        None
    } else {
        Some(parse_metadata(&texts)?)
    };
    Ok((image, meta))
}

fn parse_metadata(texts: &[(String, String)]) -> Result<SpectrogramMetadata> {
    let get = |key: &str| {
        texts
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    fn field<T: std::str::FromStr>(key: &str, raw: Option<&str>, default: T) -> Result<T> {
        match raw {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| SpectrogramError::Metadata {
                key: key.to_string(),
                value: v.to_string(),
            }),
        }
    }
    let d = SpectrogramParams::default();
    let params = SpectrogramParams {
        sample_rate: field("sample_rate", get("sample_rate"), d.sample_rate)?,
        hop_length: field("hop_length", get("hop_length"), d.hop_length)?,
        win_length: field("win_length", get("win_length"), d.win_length)?,
        n_fft: field("n_fft", get("n_fft"), d.n_fft)?,
        n_mels: field("n_mels", get("n_mels"), d.n_mels)?,
        min_frequency: field("min_frequency", get("min_frequency"), d.min_frequency)?,
        max_frequency: field("max_frequency", get("max_frequency"), d.max_frequency)?,
        power_for_image: field("power_for_image", get("power_for_image"), d.power_for_image)?,
        max_value: d.max_value,
        griffin_lim_iters: field(
            "griffin_lim_iters",
            get("griffin_lim_iters"),
            d.griffin_lim_iters,
        )?,
        momentum: field("momentum", get("momentum"), d.momentum)?,
        stereo: field("stereo", get("stereo"), d.stereo)?,
    };
    let max_value: f32 = field("max_value", get("max_value"), d.max_value)?;
    if !(max_value.is_finite() && max_value >= 0.0) {
        return Err(SpectrogramError::Metadata {
            key: "max_value".into(),
            value: max_value.to_string(),
        });
    }
    if let Some(scale) = get("mel_scale") {
        if scale != "htk" {
            return Err(SpectrogramError::Metadata {
                key: "mel_scale".into(),
                value: scale.into(),
            });
        }
    }
    params.validate()?;
    Ok(SpectrogramMetadata { params, max_value })
}

pub fn write_png(
    path: &Path,
    image: &DynamicImage,
    meta: Option<&SpectrogramMetadata>,
) -> Result<()> {
    let bytes = encode_png(image, meta)?;
    std::fs::write(path, bytes).map_err(|source| SpectrogramError::Io {
        path: path.to_path_buf(),
        source,
    })
}

pub fn read_png(path: &Path) -> Result<(DynamicImage, Option<SpectrogramMetadata>)> {
    let bytes = std::fs::read(path).map_err(|source| SpectrogramError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_png(&bytes)
}

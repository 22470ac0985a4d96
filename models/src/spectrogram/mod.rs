//! Spectrogram images <-> audio with Riffusion's conventions (see DESIGN.md, section 3):
//! HTK mel bank (512 bands, 0-10 kHz), inverse mel by non-negative minimum-norm least squares,
//! Griffin-Lim with torchaudio's semantics, and PNGs that carry their parameters.
//!
//! ```no_run
//! use bgm_models::spectrogram::{ImageToAudioOptions, SpectrogramConverter, SpectrogramParams};
//!
//! # fn main() -> bgm_models::spectrogram::Result<()> {
//! // Build once per parameter set: filterbank, inverse and FFT plans are precomputed.
//! let conv = SpectrogramConverter::new(SpectrogramParams::default())?;
//! let (image, _meta) = bgm_models::spectrogram::read_png("clip.png".as_ref())?;
//! let audio = conv.image_to_audio(&image, &ImageToAudioOptions::default())?;
//! let seed_image = conv.audio_to_image(&audio.channels)?;
//! seed_image.write_png("seed.png".as_ref())?;
//! # Ok(())
//! # }
//! ```

mod converter;
mod error;
mod griffin_lim;
mod headroom;
mod image_codec;
mod inverse_mel;
mod mel;
mod params;
mod png_meta;
pub(crate) mod stft;

pub use converter::{
    Audio, ImageToAudioOptions, SpectrogramConverter, SpectrogramImage, INT16_SCALE,
};
pub use error::{Result, SpectrogramError};
pub use griffin_lim::PhaseInit;
pub use headroom::{gain_to_fit, peak, PEAK_CEILING};
pub use image_codec::level_of;
pub use mel::{hz_to_mel_htk, mel_to_hz_htk, MelFilter, MelFilterbank};
pub use params::SpectrogramParams;
pub use png_meta::{decode_png, encode_png, read_png, write_png, SpectrogramMetadata};
pub use stft::hann_periodic;

//! `SpectrogramConverter`: everything precomputed for one parameter set (filterbank, its
//! banded pseudo-inverse, FFT plans, window, pixel table), and the two conversions.

use image::DynamicImage;
use rayon::prelude::*;

use super::error::{Result, SpectrogramError};
use super::griffin_lim::{griffin_lim, Magnitudes, PhaseInit};
use super::headroom::{gain_to_fit, peak};
use super::image_codec::{channel_planes, level_table, mel_to_image, plane_to_mel};
use super::inverse_mel::InverseMel;
use super::mel::MelFilterbank;
use super::params::SpectrogramParams;
use super::png_meta::{write_png, SpectrogramMetadata};
use super::stft::FramePlan;

/// Riffusion feeds pydub's integer samples to the STFT; scaling our [-1, 1] floats to the
/// 16-bit range keeps max values comparable with its 30e6.
pub const INT16_SCALE: f32 = 32768.0;

/// PCM audio, one `Vec` per channel, samples nominally in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub channels: Vec<Vec<f32>>,
    pub sample_rate: u32,
}

impl Audio {
    pub fn len(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Scales every channel by the one gain that keeps it from clipping in an integer
    /// format (1 when no sample is beyond full scale). Returns the gain.
    pub fn fit_full_scale(&mut self) -> f32 {
        let peak = self.channels.iter().map(|c| peak(c)).fold(0.0f32, f32::max);
        let gain = gain_to_fit(peak);
        if gain != 1.0 {
            self.channels.iter_mut().flatten().for_each(|x| *x *= gain);
        }
        gain
    }
}

/// Options for image -> audio.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageToAudioOptions {
    pub phase_init: PhaseInit,
}

impl Default for ImageToAudioOptions {
    fn default() -> Self {
        Self {
            phase_init: PhaseInit::Random { seed: 0 },
        }
    }
}

/// An image made from audio, with the max mel amplitude its black level stands for.
#[derive(Debug, Clone)]
pub struct SpectrogramImage {
    pub image: DynamicImage,
    pub max_value: f32,
    pub params: SpectrogramParams,
}

impl SpectrogramImage {
    pub fn metadata(&self) -> SpectrogramMetadata {
        SpectrogramMetadata {
            params: self.params.clone(),
            max_value: self.max_value,
        }
    }

    pub fn write_png(&self, path: &std::path::Path) -> Result<()> {
        write_png(path, &self.image, Some(&self.metadata()))
    }
}

pub struct SpectrogramConverter {
    params: SpectrogramParams,
    fb: MelFilterbank,
    inverse: InverseMel,
    plan: FramePlan,
    table: [f32; 256],
}

impl SpectrogramConverter {
    pub fn new(params: SpectrogramParams) -> Result<Self> {
        params.validate()?;
        let fb = MelFilterbank::new(&params);
        Self::with_filterbank(params, fb)
    }

    /// Converter on a given filterbank, e.g. one built from a reference implementation's
    /// break frequencies to compare the rest of the chain without their rounding.
    pub fn with_filterbank(params: SpectrogramParams, fb: MelFilterbank) -> Result<Self> {
        params.validate()?;
        if fb.n_mels() != params.n_mels || fb.n_freqs() != params.n_freqs() {
            return Err(SpectrogramError::InvalidParams(format!(
                "filterbank is {} mels x {} bins, parameters need {} x {}",
                fb.n_mels(),
                fb.n_freqs(),
                params.n_mels,
                params.n_freqs()
            )));
        }
        let inverse = InverseMel::new(&fb);
        let plan = FramePlan::new(&params);
        let table = level_table(&params);
        Ok(Self {
            params,
            fb,
            inverse,
            plan,
            table,
        })
    }

    pub fn params(&self) -> &SpectrogramParams {
        &self.params
    }

    pub fn filterbank(&self) -> &MelFilterbank {
        &self.fb
    }

    /// Half bandwidth of the filterbank's Gram matrix that the inverse mel factors (1 for
    /// Riffusion's bank: each triangle overlaps only its neighbours).
    pub fn inverse_mel_bandwidth(&self) -> usize {
        self.inverse.bandwidth()
    }

    /// Mel amplitudes of each channel of an image, frame-major (`mel[t * n_mels + m]`).
    pub fn mel_from_image(&self, image: &DynamicImage) -> Result<Vec<Vec<f32>>> {
        let width = image.width() as usize;
        let planes = channel_planes(image, &self.params)?;
        Ok(planes
            .iter()
            .map(|p| plane_to_mel(p, width, &self.table))
            .collect())
    }

    /// Linear magnitudes (`n_frames x active_bins`, frame-major) from frame-major mel data.
    pub fn linear_from_mel(&self, mel: &[f32]) -> Vec<f32> {
        let n_mels = self.params.n_mels;
        let k = self.fb.active_bins();
        let n_frames = mel.len() / n_mels;
        let mut linear = vec![0.0f32; n_frames * k];
        if k == 0 {
            return linear;
        }
        linear
            .par_chunks_mut(k)
            .zip(mel.par_chunks(n_mels))
            .for_each_init(
                || vec![0.0f64; n_mels],
                |y, (out, m)| self.inverse.frame(&self.fb, m, y, out),
            );
        linear
    }

    /// Griffin-Lim on one channel's linear magnitudes; raw output in the 16-bit sample scale.
    pub fn griffin_lim(&self, linear: &[f32], init: PhaseInit, channel: usize) -> Vec<f32> {
        let k = self.fb.active_bins();
        let n_frames = linear.len().checked_div(k).unwrap_or(0);
        if k == 0 || n_frames == 0 {
            return vec![0.0; self.params.hop_length * n_frames.saturating_sub(1)];
        }
        let mags = Magnitudes {
            data: linear,
            n_frames,
            active_bins: k,
        };
        griffin_lim(
            &self.plan,
            &mags,
            self.params.griffin_lim_iters,
            self.params.momentum,
            init,
            channel,
        )
    }

    /// Spectrogram image -> PCM at `params.sample_rate`; `width` columns give
    /// `hop * (width - 1)` samples per channel. The samples are Griffin-Lim's, unlevelled
    /// (16-bit scale / 32768), so they may pass full scale: see `Audio::fit_full_scale`.
    pub fn image_to_audio(
        &self,
        image: &DynamicImage,
        opts: &ImageToAudioOptions,
    ) -> Result<Audio> {
        let mels = self.mel_from_image(image)?;
        let channels: Vec<Vec<f32>> = mels
            .iter()
            .enumerate()
            .map(|(c, mel)| {
                let linear = self.linear_from_mel(mel);
                let mut pcm = self.griffin_lim(&linear, opts.phase_init, c);
                for x in &mut pcm {
                    *x /= INT16_SCALE;
                }
                pcm
            })
            .collect();
        Ok(Audio {
            channels,
            sample_rate: self.params.sample_rate,
        })
    }

    /// Fewest samples per channel `audio_to_image` accepts.
    pub fn min_audio_len(&self) -> usize {
        self.params.hop_length * (self.params.min_frames() - 1)
    }

    /// Mel amplitudes (frame-major) of one channel of [-1, 1] samples, in the 16-bit scale.
    pub fn mel_from_audio(&self, samples: &[f32]) -> Result<Vec<f32>> {
        self.check_samples(samples)?;
        let n_mels = self.params.n_mels;
        let k = self.fb.active_bins();
        let scaled: Vec<f32> = samples.iter().map(|&x| x * INT16_SCALE).collect();
        let n_frames = self.plan.n_frames(samples.len());
        let mut mel = vec![0.0f32; n_frames * n_mels];
        mel.par_chunks_mut(n_mels).enumerate().for_each_init(
            || (self.plan.scratch(), vec![0.0f32; k]),
            |(scratch, mag), (t, out)| {
                self.plan.forward_frame(&scaled, t, scratch);
                for (m, c) in mag.iter_mut().zip(&scratch.spec[..k]) {
                    *m = c.norm();
                }
                self.fb.apply(mag, out);
            },
        );
        Ok(mel)
    }

    fn check_samples(&self, samples: &[f32]) -> Result<()> {
        if samples.len() < self.min_audio_len() {
            return Err(SpectrogramError::AudioTooShort {
                min: self.min_audio_len(),
                got: samples.len(),
            });
        }
        if samples.iter().any(|x| !x.is_finite()) {
            return Err(SpectrogramError::NonFiniteAudio);
        }
        Ok(())
    }

    /// PCM (one `Vec` per channel, as many channels as the parameters say) -> spectrogram image.
    pub fn audio_to_image<C: AsRef<[f32]>>(&self, channels: &[C]) -> Result<SpectrogramImage> {
        let channels: Vec<&[f32]> = channels.iter().map(AsRef::as_ref).collect();
        let expected = self.params.channels();
        if channels.len() != expected {
            return Err(SpectrogramError::ChannelCount {
                expected,
                got: channels.len(),
            });
        }
        let len = channels[0].len();
        if let Some(other) = channels.iter().find(|c| c.len() != len) {
            return Err(SpectrogramError::ChannelLengths(len, other.len()));
        }
        let mels = channels
            .iter()
            .map(|c| self.mel_from_audio(c))
            .collect::<Result<Vec<_>>>()?;
        let max = mels.iter().flatten().fold(0.0f32, |m, &v| m.max(v));
        let image = mel_to_image(&mels, self.params.n_mels, max, self.params.power_for_image);
        Ok(SpectrogramImage {
            image: DynamicImage::ImageRgb8(image),
            max_value: max,
            params: self.params.clone(),
        })
    }
}

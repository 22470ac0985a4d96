//! HTDemucs (Demucs v4, "Hybrid Transformer Demucs") on one segment: a U-Net over the
//! spectrogram and another over the waveform, joined at the bottom by the cross-domain
//! transformer; each source is the sum of both branches' outputs.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Conv1d, VarBuilder};

use super::config::HtDemucsConfig;
use super::layers::{Branch, DecoderLayer, EncoderLayer, LayerShape};
use super::spec::DemucsStft;
use super::transformer::{CrossTransformer, TransformerShape};

/// 1×1 convolutions into and out of the transformer's width (`bottom_channels`).
struct Bottom {
    up: Conv1d,
    down: Conv1d,
    up_t: Conv1d,
    down_t: Conv1d,
}

pub struct HtDemucs {
    config: HtDemucsConfig,
    stft: DemucsStft,
    encoder: Vec<EncoderLayer>,
    tencoder: Vec<EncoderLayer>,
    /// Innermost first, as they run.
    decoder: Vec<DecoderLayer>,
    tdecoder: Vec<DecoderLayer>,
    /// The frequency embedding added after the first layer, scaled, as `[1, C, F, 1]`.
    frequency_embedding: Option<Tensor>,
    bottom: Option<Bottom>,
    transformer: Option<CrossTransformer>,
    device: Device,
}

impl HtDemucs {
    /// Builds the model of `config` (already checked) from weights named as in the reference.
    pub fn load(config: &HtDemucsConfig, vb: VarBuilder) -> Result<Self> {
        let c = config;
        let dconv = |on: bool| on.then_some((c.dconv_comp, c.dconv_depth));
        let (mut encoder, mut tencoder, mut decoder, mut tdecoder) =
            (vec![], vec![], vec![], vec![]);
        let sources = c.sources.len();
        for index in 0..c.depth {
            let shape = |i, o, dconv| LayerShape {
                in_channels: i,
                out_channels: o,
                kernel: c.kernel_size,
                stride: c.stride,
                dconv,
            };
            let chout = c.layer_channels(index);
            // The outermost layers take and give audio: real and imaginary planes per channel
            // in the frequency branch; inner layers take the previous layer's width.
            let (chin, chin_z, out, out_z) = if index == 0 {
                let (audio, stems) = (c.audio_channels, c.audio_channels * sources);
                (audio, 2 * audio, stems, 2 * stems)
            } else {
                let previous = c.layer_channels(index - 1);
                (previous, previous, previous, previous)
            };
            let enc_dconv = dconv(c.dconv_mode & 1 != 0);
            encoder.push(EncoderLayer::load(
                Branch::Frequency,
                shape(chin_z, chout, enc_dconv),
                c.context_enc,
                vb.pp(format!("encoder.{index}")),
            )?);
            tencoder.push(EncoderLayer::load(
                Branch::Time,
                shape(chin, chout, enc_dconv),
                c.context_enc,
                vb.pp(format!("tencoder.{index}")),
            )?);
            // The reference inserts decoders at the front: decoder.0 is the innermost.
            let name = c.depth - 1 - index;
            let dec_dconv = dconv(c.dconv_mode & 2 != 0);
            let last = index == 0;
            decoder.push(DecoderLayer::load(
                Branch::Frequency,
                shape(chout, out_z, dec_dconv),
                c.context,
                last,
                vb.pp(format!("decoder.{name}")),
            )?);
            tdecoder.push(DecoderLayer::load(
                Branch::Time,
                shape(chout, out, dec_dconv),
                c.context,
                last,
                vb.pp(format!("tdecoder.{name}")),
            )?);
        }
        decoder.reverse();
        tdecoder.reverse();

        let frequency_embedding = if c.freq_emb > 0.0 {
            let bins = c.frequencies_after(1);
            let weight = vb
                .pp("freq_emb.embedding")
                .get((bins, c.channels), "weight")?;
            let scaled = (weight * (c.emb_scale * c.freq_emb))?;
            Some(scaled.t()?.reshape((1, c.channels, bins, 1))?)
        } else {
            None
        };
        let mut width = c.layer_channels(c.depth - 1);
        let bottom = if c.bottom_channels > 0 {
            let conv =
                |i, o, name: &str| candle_nn::conv1d(i, o, 1, Default::default(), vb.pp(name));
            let b = c.bottom_channels;
            let bottom = Bottom {
                up: conv(width, b, "channel_upsampler")?,
                down: conv(b, width, "channel_downsampler")?,
                up_t: conv(width, b, "channel_upsampler_t")?,
                down_t: conv(b, width, "channel_downsampler_t")?,
            };
            width = b;
            Some(bottom)
        } else {
            None
        };
        let transformer = if c.t_layers > 0 {
            let shape = TransformerShape {
                dim: width,
                heads: c.t_heads,
                hidden: (width as f64 * c.t_hidden_scale) as usize,
                layers: c.t_layers,
                max_period: c.t_max_period,
                weight_pos_embed: c.t_weight_pos_embed,
            };
            Some(CrossTransformer::load(shape, vb.pp("crosstransformer"))?)
        } else {
            None
        };
        Ok(Self {
            config: c.clone(),
            stft: DemucsStft::new(c.nfft),
            encoder,
            tencoder,
            decoder,
            tdecoder,
            frequency_embedding,
            bottom,
            transformer,
            device: vb.device().clone(),
        })
    }

    pub fn config(&self) -> &HtDemucsConfig {
        &self.config
    }

    /// Separates one segment. `audio`: `audio_channels` planes of at most `segment_samples`
    /// samples (shorter input is padded with silence, as the reference does). Returns
    /// `[sources, audio_channels, length]`, planar.
    pub fn forward(&self, audio: &[f32]) -> Result<Vec<f32>> {
        let c = &self.config;
        let channels = c.audio_channels;
        let length = audio.len() / channels;
        let segment = c.segment_samples();
        if length > segment || length * channels != audio.len() {
            candle_core::bail!("a segment of {length} samples; at most {segment} fit");
        }
        if length == 0 {
            return Ok(Vec::new());
        }
        let mut padded = vec![0f32; channels * segment];
        for ch in 0..channels {
            padded[ch * segment..][..length].copy_from_slice(&audio[ch * length..][..length]);
        }

        let frames = self.stft.frames(segment);
        let bins = self.stft.bins();
        let spec = self.stft.analyse(&padded, channels);
        let x = Tensor::from_vec(spec, (1, channels * 2, bins, frames), &self.device)?;
        let (x, mean, std) = standardise(&x)?;
        let xt = Tensor::from_vec(padded, (1, channels, segment), &self.device)?;
        let (xt, mean_t, std_t) = standardise(&xt)?;

        let (mut x, mut xt) = (x, xt);
        let mut skips = Vec::with_capacity(c.depth);
        let mut skips_t = Vec::with_capacity(c.depth);
        let mut lengths_t = Vec::with_capacity(c.depth);
        for (index, (enc, tenc)) in self.encoder.iter().zip(&self.tencoder).enumerate() {
            lengths_t.push(xt.dim(2)?);
            xt = tenc.forward(&xt)?;
            skips_t.push(xt.clone());
            x = enc.forward(&x)?;
            if index == 0 {
                if let Some(embedding) = &self.frequency_embedding {
                    x = x.broadcast_add(embedding)?;
                }
            }
            skips.push(x.clone());
        }

        if let Some(transformer) = &self.transformer {
            let (b, width, f, t) = x.dims4()?;
            if let Some(bottom) = &self.bottom {
                x = bottom
                    .up
                    .forward(&x.reshape((b, width, f * t))?)?
                    .reshape((b, (), f, t))?;
                xt = bottom.up_t.forward(&xt)?;
            }
            (x, xt) = transformer.forward(&x, &xt)?;
            if let Some(bottom) = &self.bottom {
                let inner = x.dim(1)?;
                x = bottom
                    .down
                    .forward(&x.reshape((b, inner, f * t))?)?
                    .reshape((b, width, f, t))?;
                xt = bottom.down_t.forward(&xt)?;
            }
        }

        for (dec, tdec) in self.decoder.iter().zip(&self.tdecoder) {
            let skip = skips.pop().expect("one skip per layer");
            x = dec.forward(&x, &skip, 0)?;
            let skip_t = skips_t.pop().expect("one skip per layer");
            xt = tdec.forward(&xt, &skip_t, lengths_t.pop().expect("one length per layer"))?;
        }

        let sources = c.sources.len();
        let x = x.broadcast_mul(&std)?.broadcast_add(&mean)?;
        let spec = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let waves = self
            .stft
            .synthesise(&spec, sources * channels, frames, segment);
        let xt = xt.broadcast_mul(&std_t)?.broadcast_add(&mean_t)?;
        let time = xt.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;

        let mut out = vec![0f32; sources * channels * length];
        for (plane, target) in out.chunks_mut(length).enumerate() {
            let spectral = &waves[plane * segment..][..length];
            let temporal = &time[plane * segment..][..length];
            for ((o, a), b) in target.iter_mut().zip(spectral).zip(temporal) {
                *o = a + b;
            }
        }
        Ok(out)
    }
}

/// `(x - mean) / (1e-5 + std)` over everything but the batch, with the unbiased standard
/// deviation as torch's `std`; returns the statistics to undo it.
fn standardise(x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let batch = x.dim(0)?;
    let flat = x.flatten_from(1)?;
    let n = flat.dim(1)?;
    let mean = flat.mean_keepdim(1)?;
    let centred = flat.broadcast_sub(&mean)?;
    let variance = (centred.sqr()?.sum_keepdim(1)? / (n as f64 - 1.0))?;
    let std = variance.sqrt()?;
    let normed = centred.broadcast_div(&(&std + 1e-5)?)?.reshape(x.shape())?;
    let stat_shape: Vec<usize> = std::iter::once(batch)
        .chain(std::iter::repeat_n(1, x.rank() - 1))
        .collect();
    Ok((
        normed,
        mean.reshape(stat_shape.clone())?,
        std.reshape(stat_shape)?,
    ))
}

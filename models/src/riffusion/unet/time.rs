//! The timestep's sinusoidal features and the two-layer embedding that follows them.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

pub struct TimeEmbedding {
    channels: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
    linear_1: Linear,
    linear_2: Linear,
}

impl TimeEmbedding {
    /// `channels` sinusoid features in, `4 × channels` out (`time_embedding.linear_1/2`).
    pub fn load(
        channels: usize,
        flip_sin_to_cos: bool,
        freq_shift: f64,
        vb: VarBuilder,
    ) -> Result<Self> {
        let embed = channels * 4;
        Ok(Self {
            channels,
            flip_sin_to_cos,
            freq_shift,
            linear_1: candle_nn::linear(channels, embed, vb.pp("linear_1"))?,
            linear_2: candle_nn::linear(embed, embed, vb.pp("linear_2"))?,
        })
    }

    /// diffusers' `get_timestep_embedding`, computed in f32 in the same order.
    fn sinusoid(&self, timestep: f64) -> Vec<f32> {
        let half = self.channels / 2;
        let denominator = half as f32 - self.freq_shift as f32;
        let angles = (0..half).map(|i| {
            let exponent = -(10_000f32.ln()) * i as f32 / denominator;
            timestep as f32 * exponent.exp()
        });
        let (sin, cos): (Vec<f32>, Vec<f32>) = angles.map(|a| (a.sin(), a.cos())).unzip();
        let mut features = if self.flip_sin_to_cos {
            [cos, sin].concat()
        } else {
            [sin, cos].concat()
        };
        features.resize(self.channels, 0.0);
        features
    }

    /// `[rows, 4 × channels]` for one timestep shared by every row.
    pub fn forward(
        &self,
        timestep: f64,
        rows: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let features = Tensor::from_vec(self.sinusoid(timestep), (1, self.channels), device)?
            .to_dtype(dtype)?
            .broadcast_as((rows, self.channels))?
            .contiguous()?;
        let hidden = candle_nn::ops::silu(&self.linear_1.forward(&features)?)?;
        self.linear_2.forward(&hidden)
    }
}

//! Whisper's encoder–decoder on candle, with the transformers weight names. Written here rather
//! than taken from candle-transformers because candle's decoder recomputes the whole prefix at
//! every step: ours keeps a key/value cache for self-attention (and computes cross-attention
//! keys/values once per window), can reorder the cache for beam search, and builds its masks in
//! the model's dtype so f16 works on CUDA/Metal.

use candle_core::{DType, Device, IndexOp, Module, Tensor, D};
use candle_nn::{Conv1dConfig, Embedding, LayerNorm, VarBuilder};

use super::config::WhisperConfig;
use crate::kernels::attention::scaled_dot_product_attention;
use crate::kernels::conv::{conv1d, Conv1d};
use crate::kernels::linear::{linear, linear_no_bias, matmul_transposed, Linear};

type Result<T> = candle_core::Result<T>;

const LAYER_NORM_EPS: f64 = 1e-5;

fn layer_norm(size: usize, vb: VarBuilder) -> Result<LayerNorm> {
    candle_nn::layer_norm(size, LAYER_NORM_EPS, vb)
}

/// Whisper's "gelu" is the exact (erf) form.
fn gelu(x: &Tensor) -> Result<Tensor> {
    crate::kernels::gelu::gelu_erf(x)
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(d_model: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            q: linear(d_model, d_model, vb.pp("q_proj"))?,
            k: linear_no_bias(d_model, d_model, vb.pp("k_proj"))?,
            v: linear(d_model, d_model, vb.pp("v_proj"))?,
            out: linear(d_model, d_model, vb.pp("out_proj"))?,
            heads,
            head_dim: d_model / heads,
        })
    }

    /// `[B, T, D]` → `[B, H, T, D/H]`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        x.reshape((b, t, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    fn keys_values(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let k = self.split_heads(&self.k.forward(x)?)?;
        let v = self.split_heads(&self.v.forward(x)?)?;
        Ok((k, v))
    }

    /// Attention of `x`'s queries over `k`/`v`, plus the output projection.
    fn attend(&self, x: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let scale = (self.head_dim as f64).powf(-0.5);
        let q = self.split_heads(&(self.q.forward(x)? * scale)?)?;
        if mask.is_none() && t > 1 {
            // The encoder: fused on the CPU, the score matrix never built whole.
            let context = scaled_dot_product_attention(&q, k, v, 1.0)?;
            return self
                .out
                .forward(&context.transpose(1, 2)?.reshape((b, t, d))?);
        }
        // For many queries (the encoder, a prompt) a contiguous kᵀ makes the batched matmul
        // markedly faster; for one query (a decoding step) the copy would cost more than it saves.
        let k_t = if t > 1 { k.t()?.contiguous()? } else { k.t()? };
        let mut scores = q.matmul(&k_t)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        // Sums in f32 whatever the dtype: in f16 they would lose too much over 1500 frames.
        let weights = crate::kernels::softmax::softmax_last_dim(&scores)?;
        let context = weights.matmul(v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out.forward(&context)
    }
}

struct FeedForward {
    fc1: Linear,
    fc2: Linear,
}

impl FeedForward {
    fn load(d_model: usize, hidden: usize, vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            fc1: linear(d_model, hidden, vb.pp("fc1"))?,
            fc2: linear(hidden, d_model, vb.pp("fc2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.fc2.forward(&gelu(&self.fc1.forward(x)?)?)
    }
}

struct EncoderLayer {
    attn: Attention,
    attn_ln: LayerNorm,
    mlp: FeedForward,
    mlp_ln: LayerNorm,
}

impl EncoderLayer {
    fn load(cfg: &WhisperConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        Ok(Self {
            attn: Attention::load(d, cfg.encoder_attention_heads, vb.pp("self_attn"))?,
            attn_ln: layer_norm(d, vb.pp("self_attn_layer_norm"))?,
            mlp: FeedForward::load(d, cfg.encoder_ffn(), &vb)?,
            mlp_ln: layer_norm(d, vb.pp("final_layer_norm"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.attn_ln.forward(x)?;
        let (k, v) = self.attn.keys_values(&h)?;
        let x = (x + self.attn.attend(&h, &k, &v, None)?)?;
        &x + self.mlp.forward(&self.mlp_ln.forward(&x)?)?
    }
}

struct Encoder {
    conv1: Conv1d,
    conv2: Conv1d,
    positions: Tensor,
    layers: Vec<EncoderLayer>,
    ln_post: LayerNorm,
}

impl Encoder {
    fn load(cfg: &WhisperConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        let conv = |stride| Conv1dConfig {
            padding: 1,
            stride,
            ..Default::default()
        };
        // The column kernel on the CPU (candle's conv1d unfolds in scalar loops), candle's
        // elsewhere.
        let conv1 = conv1d(cfg.num_mel_bins, d, 3, conv(1), vb.pp("conv1"))?;
        let conv2 = conv1d(d, d, 3, conv(2), vb.pp("conv2"))?;
        // The table is fixed sinusoids; converted checkpoints may leave it out.
        let positions = match vb.get((cfg.max_source_positions, d), "embed_positions.weight") {
            Ok(t) => t,
            Err(_) => sinusoids(cfg.max_source_positions, d, vb.device())?.to_dtype(vb.dtype())?,
        };
        let layers = (0..cfg.encoder_layers)
            .map(|i| EncoderLayer::load(cfg, vb.pp(format!("layers.{i}"))))
            .collect::<Result<_>>()?;
        Ok(Self {
            conv1,
            conv2,
            positions,
            layers,
            ln_post: layer_norm(d, vb.pp("layer_norm"))?,
        })
    }

    fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let x = gelu(&self.conv1.forward(mel)?)?;
        let x = gelu(&self.conv2.forward(&x)?)?.transpose(1, 2)?;
        let frames = x.dim(1)?;
        let mut x = x.broadcast_add(&self.positions.narrow(0, 0, frames)?)?;
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        self.ln_post.forward(&x)
    }
}

/// Whisper's sinusoidal position table (OpenAI's `sinusoids`).
fn sinusoids(length: usize, channels: usize, device: &Device) -> Result<Tensor> {
    let half = channels / 2;
    let increment = 10_000f64.ln() / (half - 1) as f64;
    let mut table = vec![0f32; length * channels];
    for t in 0..length {
        for i in 0..half {
            let angle = t as f64 * (-(i as f64) * increment).exp();
            table[t * channels + i] = angle.sin() as f32;
            table[t * channels + half + i] = angle.cos() as f32;
        }
    }
    Tensor::from_vec(table, (length, channels), device)
}

struct DecoderLayer {
    self_attn: Attention,
    self_attn_ln: LayerNorm,
    cross_attn: Attention,
    cross_attn_ln: LayerNorm,
    mlp: FeedForward,
    mlp_ln: LayerNorm,
}

impl DecoderLayer {
    fn load(cfg: &WhisperConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        let heads = cfg.decoder_attention_heads;
        Ok(Self {
            self_attn: Attention::load(d, heads, vb.pp("self_attn"))?,
            self_attn_ln: layer_norm(d, vb.pp("self_attn_layer_norm"))?,
            cross_attn: Attention::load(d, heads, vb.pp("encoder_attn"))?,
            cross_attn_ln: layer_norm(d, vb.pp("encoder_attn_layer_norm"))?,
            mlp: FeedForward::load(d, cfg.decoder_ffn(), &vb)?,
            mlp_ln: layer_norm(d, vb.pp("final_layer_norm"))?,
        })
    }
}

/// Tokens the self-attention cache holds before it first grows; it doubles from there.
const FIRST_CACHE_CAPACITY: usize = 32;

/// One layer's self-attention keys and values, `[rows, H, capacity, D/H]` each, filled up to
/// the cache's length. A new token's keys are written in place, so a step costs its own keys,
/// not a copy of everything before it (on a GPU that copy grew with every token).
struct LayerKv {
    k: Tensor,
    v: Tensor,
}

impl LayerKv {
    fn capacity(&self) -> usize {
        self.k.dim(2).unwrap_or(0)
    }

    /// Empty buffers shaped like `like` (`[rows, H, _, D/H]`) for `capacity` tokens.
    fn empty(like: &Tensor, capacity: usize) -> Result<Self> {
        let (rows, heads, _, depth) = like.dims4()?;
        let zeros = || Tensor::zeros((rows, heads, capacity, depth), like.dtype(), like.device());
        Ok(Self {
            k: zeros()?,
            v: zeros()?,
        })
    }

    /// The first `len` tokens in new buffers of `capacity` tokens.
    fn grown(&self, len: usize, capacity: usize) -> Result<Self> {
        let (k, v) = (
            self.k.narrow(2, 0, len)?.contiguous()?,
            self.v.narrow(2, 0, len)?.contiguous()?,
        );
        let grown = Self::empty(&k, capacity)?;
        grown.k.slice_set(&k, 2, 0)?;
        grown.v.slice_set(&v, 2, 0)?;
        Ok(grown)
    }

    /// Row `index[i]` as row `i`, at the same capacity.
    fn reordered(&self, index: &Tensor) -> Result<Self> {
        Ok(Self {
            k: self.k.index_select(index, 0)?,
            v: self.v.index_select(index, 0)?,
        })
    }

    /// Writes `k`/`v` (`[rows, H, fresh, D/H]`, contiguous) at token `at` and returns views
    /// of everything up to them.
    fn append(&self, k: &Tensor, v: &Tensor, at: usize) -> Result<(Tensor, Tensor)> {
        self.k.slice_set(k, 2, at)?;
        self.v.slice_set(v, 2, at)?;
        let len = at + k.dim(2)?;
        Ok((self.k.narrow(2, 0, len)?, self.v.narrow(2, 0, len)?))
    }
}

/// Per-layer key/value cache of one decoding run (one window, `rows` sequences in parallel).
pub struct DecoderCache {
    /// Self-attention keys and values of the tokens seen so far.
    self_kv: Vec<Option<LayerKv>>,
    /// Cross-attention keys and values of the window's audio, computed once.
    cross_kv: Vec<(Tensor, Tensor)>,
    len: usize,
    rows: usize,
    /// The decoder's position limit: the cache never grows past it.
    max_len: usize,
}

impl DecoderCache {
    /// Tokens already fed.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Keeps row `sources[i]` as new row `i` (beam search's reordering; rows may repeat).
    pub fn reorder(&mut self, sources: &[u32]) -> Result<()> {
        let Some(first) = self.cross_kv.first() else {
            return Ok(());
        };
        let index = Tensor::new(sources, first.0.device())?;
        let pick = |t: &Tensor| t.index_select(&index, 0);
        for kv in self.self_kv.iter_mut().flatten() {
            *kv = kv.reordered(&index)?;
        }
        if sources.len() != self.rows {
            for slot in self.cross_kv.iter_mut() {
                *slot = (pick(&slot.0)?, pick(&slot.1)?);
            }
        }
        self.rows = sources.len();
        Ok(())
    }

    /// Layer `layer`'s keys and values with `k`/`v` of the fresh tokens appended.
    fn extend(&mut self, layer: usize, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let needed = self.len + k.dim(2)?;
        let slot = &mut self.self_kv[layer];
        let kv = match slot.take() {
            Some(kv) if kv.capacity() >= needed => kv,
            Some(kv) => {
                let capacity = (kv.capacity() * 2)
                    .max(needed)
                    .min(self.max_len.max(needed));
                kv.grown(self.len, capacity)?
            }
            None => {
                let capacity = FIRST_CACHE_CAPACITY
                    .max(needed)
                    .min(self.max_len.max(needed));
                LayerKv::empty(k, capacity)?
            }
        };
        let views = kv.append(k, v, self.len)?;
        *slot = Some(kv);
        Ok(views)
    }
}

struct Decoder {
    tokens: Embedding,
    positions: Tensor,
    layers: Vec<DecoderLayer>,
    ln: LayerNorm,
}

impl Decoder {
    fn load(cfg: &WhisperConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        Ok(Self {
            tokens: candle_nn::embedding(cfg.vocab_size, d, vb.pp("embed_tokens"))?,
            positions: vb.get((cfg.max_target_positions, d), "embed_positions.weight")?,
            layers: (0..cfg.decoder_layers)
                .map(|i| DecoderLayer::load(cfg, vb.pp(format!("layers.{i}"))))
                .collect::<Result<_>>()?,
            ln: layer_norm(d, vb.pp("layer_norm"))?,
        })
    }
}

/// A loaded Whisper model.
pub struct WhisperModel {
    encoder: Encoder,
    decoder: Decoder,
    config: WhisperConfig,
    dtype: DType,
    device: Device,
}

impl WhisperModel {
    /// Loads transformers' `WhisperForConditionalGeneration` weights (`model.encoder.*`,
    /// `model.decoder.*`; the output projection is tied to the token embedding).
    pub fn load(vb: VarBuilder, config: &WhisperConfig) -> Result<Self> {
        let dtype = vb.dtype();
        let device = vb.device().clone();
        Ok(Self {
            encoder: Encoder::load(config, vb.pp("model.encoder"))?,
            decoder: Decoder::load(config, vb.pp("model.decoder"))?,
            config: config.clone(),
            dtype,
            device,
        })
    }

    pub fn config(&self) -> &WhisperConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Encodes log-mel windows `[B, n_mels, 3000]` (any float dtype) into audio features
    /// `[B, 1500, d_model]` in the model's dtype.
    pub fn encode(&self, mel: &Tensor) -> Result<Tensor> {
        self.encoder.forward(&mel.to_dtype(self.dtype)?)
    }

    /// Starts decoding `rows` sequences over one window's audio features `[1, frames, d]`.
    pub fn start(&self, audio: &Tensor, rows: usize) -> Result<DecoderCache> {
        let audio = if audio.dim(0)? == rows {
            audio.clone()
        } else {
            audio
                .broadcast_as((rows, audio.dim(1)?, audio.dim(2)?))?
                .contiguous()?
        };
        let cross_kv = self
            .decoder
            .layers
            .iter()
            .map(|layer| layer.cross_attn.keys_values(&audio))
            .collect::<Result<_>>()?;
        Ok(DecoderCache {
            self_kv: (0..self.decoder.layers.len()).map(|_| None).collect(),
            cross_kv,
            len: 0,
            rows,
            max_len: self.config.max_target_positions,
        })
    }

    /// Feeds `tokens` `[rows, T]` (the same T for every row) after what the cache has seen and
    /// returns the final hidden states `[rows, T, d]`.
    pub fn decode(&self, tokens: &Tensor, cache: &mut DecoderCache) -> Result<Tensor> {
        let (rows, fresh) = tokens.dims2()?;
        if rows != cache.rows {
            candle_core::bail!("{rows} token rows for a cache of {} rows", cache.rows);
        }
        let past = cache.len;
        if past + fresh > self.config.max_target_positions {
            candle_core::bail!(
                "the decoder holds at most {} tokens, asked for {}",
                self.config.max_target_positions,
                past + fresh
            );
        }
        let positions = self.decoder.positions.narrow(0, past, fresh)?;
        let mut x = self
            .decoder
            .tokens
            .forward(tokens)?
            .broadcast_add(&positions)?;
        let mask = causal_mask(fresh, past, self.dtype, &self.device)?;
        for (i, layer) in self.decoder.layers.iter().enumerate() {
            let h = layer.self_attn_ln.forward(&x)?;
            let (k, v) = layer.self_attn.keys_values(&h)?;
            let (k, v) = cache.extend(i, &k, &v)?;
            x = (&x + layer.self_attn.attend(&h, &k, &v, mask.as_ref())?)?;
            let h = layer.cross_attn_ln.forward(&x)?;
            let (ck, cv) = &cache.cross_kv[i];
            x = (&x + layer.cross_attn.attend(&h, ck, cv, None)?)?;
            x = (&x + layer.mlp.forward(&layer.mlp_ln.forward(&x)?)?)?;
        }
        cache.len += fresh;
        self.decoder.ln.forward(&x)
    }

    /// Vocabulary logits (f32) of hidden states `[rows, d]`: the tied output projection.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        matmul_transposed(hidden, self.decoder.tokens.embeddings())?.to_dtype(DType::F32)
    }

    /// Logits of the last position of `decode`'s output.
    pub fn last_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let t = hidden.dim(1)?;
        self.logits(&hidden.i((.., t - 1))?.contiguous()?)
    }

    /// Logits of every position `[rows, T, vocab]`, for tests and the parity fixture.
    pub fn all_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let (rows, t, d) = hidden.dims3()?;
        let flat = self.logits(&hidden.reshape((rows * t, d))?)?;
        flat.reshape((rows, t, ()))
    }
}

/// Additive mask letting fresh token `i` see the `past` cached tokens and fresh tokens `..=i`;
/// `None` for a single fresh token, which may see everything.
fn causal_mask(fresh: usize, past: usize, dtype: DType, device: &Device) -> Result<Option<Tensor>> {
    if fresh <= 1 {
        return Ok(None);
    }
    let total = past + fresh;
    let values: Vec<f32> = (0..fresh)
        .flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Ok(Some(
        Tensor::from_vec(values, (fresh, total), device)?
            .to_dtype(dtype)?
            .unsqueeze(0)?
            .unsqueeze(0)?,
    ))
}

/// Index of the largest value of each row of `[rows, n]` logits (used by tests and benches).
pub fn argmax_rows(logits: &Tensor) -> Result<Vec<u32>> {
    logits.argmax(D::Minus1)?.to_vec1::<u32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_hides_the_future_only() {
        let m = causal_mask(3, 2, DType::F32, &Device::Cpu)
            .unwrap()
            .unwrap()
            .squeeze(0)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(m[0], [0.0, 0.0, 0.0, f32::NEG_INFINITY, f32::NEG_INFINITY]);
        assert_eq!(m[2], [0.0; 5]);
        assert!(causal_mask(1, 7, DType::F32, &Device::Cpu)
            .unwrap()
            .is_none());
    }

    #[test]
    fn mask_is_built_in_half_precision() {
        let m = causal_mask(2, 0, DType::F16, &Device::Cpu)
            .unwrap()
            .unwrap();
        assert_eq!(m.dtype(), DType::F16);
    }

    fn cache_for_one_layer(rows: usize, max_len: usize) -> DecoderCache {
        let audio = Tensor::zeros((rows, 2, 3, 4), DType::F32, &Device::Cpu).unwrap();
        DecoderCache {
            self_kv: vec![None],
            cross_kv: vec![(audio.clone(), audio)],
            len: 0,
            rows,
            max_len,
        }
    }

    #[test]
    fn the_self_attention_cache_grows_in_place_and_keeps_every_token() {
        let mut cache = cache_for_one_layer(2, 448);
        let mut keys = Vec::new();
        let mut capacities = Vec::new();
        // A 5-token prompt, then one token at a time past two doublings.
        for fresh in std::iter::once(5).chain(std::iter::repeat_n(1, 70)) {
            let k = Tensor::randn(0f32, 1.0, (2, 3, fresh, 4), &Device::Cpu).unwrap();
            let v = (&k * 2.0).unwrap();
            let (all_k, all_v) = cache.extend(0, &k, &v).unwrap();
            keys.push(k);
            cache.len += fresh;
            let expected = Tensor::cat(&keys, 2).unwrap();
            assert_eq!(all_k.dims(), expected.dims());
            let diff = (&all_k - &expected)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap();
            assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
            let diff = (&all_v - (&expected * 2.0).unwrap())
                .unwrap()
                .abs()
                .unwrap();
            assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
            capacities.push(cache.self_kv[0].as_ref().unwrap().capacity());
        }
        capacities.dedup();
        assert_eq!(capacities, [32, 64, 128]);
    }

    #[test]
    fn the_cache_never_grows_past_the_decoders_positions() {
        let mut cache = cache_for_one_layer(1, 40);
        for fresh in [30, 5, 5] {
            let k = Tensor::zeros((1, 3, fresh, 4), DType::F32, &Device::Cpu).unwrap();
            cache.extend(0, &k, &k).unwrap();
            cache.len += fresh;
        }
        assert_eq!(cache.self_kv[0].as_ref().unwrap().capacity(), 40);
    }

    #[test]
    fn reordering_keeps_the_picked_rows_and_room_to_grow() {
        let mut cache = cache_for_one_layer(2, 448);
        let k = Tensor::new(&[1f32, 2.0], &Device::Cpu)
            .unwrap()
            .reshape((2, 1, 1, 1))
            .unwrap()
            .broadcast_as((2, 3, 3, 4))
            .unwrap()
            .contiguous()
            .unwrap();
        cache.extend(0, &k, &k).unwrap();
        cache.len = 3;
        cache.reorder(&[1, 1, 0]).unwrap();
        assert_eq!(cache.rows(), 3);
        let fresh = Tensor::full(9f32, (3, 3, 1, 4), &Device::Cpu).unwrap();
        let (all_k, _) = cache.extend(0, &fresh, &fresh).unwrap();
        let firsts: Vec<f32> = (0..3)
            .map(|row| all_k.i((row, 0, 0, 0)).unwrap().to_scalar::<f32>().unwrap())
            .collect();
        assert_eq!(firsts, [2.0, 2.0, 1.0]);
        assert_eq!(
            all_k.i((2, 0, 3, 0)).unwrap().to_scalar::<f32>().unwrap(),
            9.0
        );
    }

    #[test]
    fn sinusoids_start_with_sin_zero_cos_one() {
        let t = sinusoids(4, 8, &Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(&t[0][..4], &[0.0; 4]);
        assert_eq!(&t[0][4..], &[1.0; 4]);
    }
}

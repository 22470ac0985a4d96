//! The HTDemucs hyper-parameters a checkpoint was built with (its pickled `kwargs`), and the
//! subset of the architecture's options this port implements.

use serde::{Deserialize, Serialize};

use super::error::SeparationError;

/// The sources the checkpoint separates, its audio format and its layer sizes. Field names and
/// defaults are HTDemucs's own (`demucs/htdemucs.py`), so a checkpoint's `kwargs` map onto it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HtDemucsConfig {
    pub sources: Vec<String>,
    pub audio_channels: usize,
    pub samplerate: usize,
    /// Seconds per segment the model was trained on; inference runs in segments this long.
    pub segment: f64,
    pub channels: usize,
    pub growth: usize,
    pub nfft: usize,
    pub depth: usize,
    pub kernel_size: usize,
    pub stride: usize,
    pub context: usize,
    pub context_enc: usize,
    pub norm_starts: usize,
    pub dconv_mode: usize,
    pub dconv_depth: usize,
    pub dconv_comp: usize,
    pub freq_emb: f64,
    pub emb_scale: f64,
    pub bottom_channels: usize,
    pub t_layers: usize,
    pub t_heads: usize,
    pub t_hidden_scale: f64,
    pub t_max_period: f64,
    pub t_weight_pos_embed: f64,
    pub cac: bool,
    pub rewrite: bool,
    pub wiener_iters: usize,
    pub multi_freqs: Vec<f64>,
    pub t_emb: String,
    pub t_norm_in: bool,
    pub t_norm_in_group: bool,
    pub t_group_norm: bool,
    pub t_norm_first: bool,
    pub t_norm_out: bool,
    pub t_layer_scale: bool,
    pub t_gelu: bool,
    pub t_cross_first: bool,
    pub t_sparse_self_attn: bool,
    pub t_sparse_cross_attn: bool,
    pub use_train_segment: bool,
}

impl Default for HtDemucsConfig {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            audio_channels: 2,
            samplerate: 44_100,
            segment: 10.0,
            channels: 48,
            growth: 2,
            nfft: 4096,
            depth: 4,
            kernel_size: 8,
            stride: 4,
            context: 1,
            context_enc: 0,
            norm_starts: 4,
            dconv_mode: 1,
            dconv_depth: 2,
            dconv_comp: 8,
            freq_emb: 0.2,
            emb_scale: 10.0,
            bottom_channels: 0,
            t_layers: 5,
            t_heads: 8,
            t_hidden_scale: 4.0,
            t_max_period: 10_000.0,
            t_weight_pos_embed: 1.0,
            cac: true,
            rewrite: true,
            wiener_iters: 0,
            multi_freqs: Vec::new(),
            t_emb: "sin".to_string(),
            t_norm_in: true,
            t_norm_in_group: false,
            t_group_norm: false,
            t_norm_first: true,
            t_norm_out: true,
            t_layer_scale: true,
            t_gelu: true,
            t_cross_first: false,
            t_sparse_self_attn: false,
            t_sparse_cross_attn: false,
            use_train_segment: true,
        }
    }
}

impl HtDemucsConfig {
    /// Samples per segment, as `int(segment * samplerate)` in the reference.
    pub fn segment_samples(&self) -> usize {
        (self.segment * self.samplerate as f64) as usize
    }

    /// Where the frequency axis stands after each encoder layer (`nfft / 2`, divided by the
    /// stride each time).
    pub fn frequencies_after(&self, layers: usize) -> usize {
        (0..layers).fold(self.nfft / 2, |f, _| f / self.stride)
    }

    /// Channels out of encoder layer `index`.
    pub fn layer_channels(&self, index: usize) -> usize {
        self.channels * self.growth.pow(index as u32)
    }

    /// Index of a named source (`"vocals"`).
    pub fn source_index(&self, name: &str) -> Option<usize> {
        self.sources.iter().position(|s| s == name)
    }

    /// Refuses the options of the architecture this port does not implement, naming them, rather
    /// than computing something else. Meta's htdemucs, htdemucs_ft and htdemucs_6s use none.
    pub fn check_supported(&self) -> Result<(), SeparationError> {
        let mut unsupported = Vec::new();
        let mut require = |ok: bool, what: &str| {
            if !ok {
                unsupported.push(what.to_string());
            }
        };
        require(!self.sources.is_empty(), "no sources");
        require(self.cac, "cac = false (masking / Wiener filtering)");
        require(self.wiener_iters == 0, "wiener_iters > 0");
        require(self.rewrite, "rewrite = false");
        require(self.multi_freqs.is_empty(), "multi_freqs");
        require(
            self.norm_starts >= self.depth,
            "group norms inside the encoder (norm_starts < depth)",
        );
        require(self.t_emb == "sin", "a positional embedding other than sin");
        require(
            self.t_norm_in && !self.t_norm_in_group,
            "t_norm_in other than a layer norm",
        );
        require(!self.t_group_norm, "t_group_norm");
        require(
            self.t_norm_first && self.t_norm_out,
            "t_norm_first / t_norm_out = false",
        );
        require(
            self.t_layer_scale && self.t_gelu,
            "t_layer_scale / t_gelu = false",
        );
        require(!self.t_cross_first, "t_cross_first");
        require(
            !self.t_sparse_self_attn && !self.t_sparse_cross_attn,
            "sparse attention",
        );
        require(self.use_train_segment, "use_train_segment = false");
        require(
            self.kernel_size == 2 * self.stride,
            "kernel_size != 2 x stride",
        );
        require(self.nfft.is_multiple_of(4), "nfft not a multiple of 4");
        // Every encoder layer keeps a frequency axis longer than the kernel: the last-frequency
        // layers (which merge the two branches) never appear in the published models.
        require(
            self.frequencies_after(self.depth.saturating_sub(1)) > self.kernel_size,
            "a depth that collapses the frequency axis",
        );
        require(self.t_layers == 0 || self.t_heads > 0, "t_heads = 0");
        if unsupported.is_empty() {
            Ok(())
        } else {
            Err(SeparationError::Unsupported(unsupported.join(", ")))
        }
    }
}

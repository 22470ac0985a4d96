//! Every seed derivation of the app, in one place: this code decides whether the same plan
//! makes the same music on every machine, so it exists once. SplitMix64 (Steele, Lea and
//! Flood) for 64-bit streams and hashes, and a 32-bit finaliser for seed sequences.

/// The golden-ratio increment of SplitMix64.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// A SplitMix64 stream: reproducible, well spread, not cryptographic.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(state: u64) -> Self {
        Self(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits, like torch.rand for float32.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }
}

impl SplitMix64 {
    /// An independent stream for a pair of indices (a channel and a frame, a beam row and a
    /// token position), so results do not depend on how the work is split across threads.
    pub fn keyed(seed: u64, first: usize, second: usize) -> Self {
        let a = Self::new(seed ^ 0x5851_F42D_4C95_7F2D).next_u64()
            ^ (first as u64).wrapping_mul(GOLDEN);
        let b = Self::new(a).next_u64() ^ (second as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        Self::new(Self::new(b).next_u64())
    }
}

/// One SplitMix64 step as a hash: a well-mixed 64-bit value for a key.
pub fn splitmix64(key: u64) -> u64 {
    SplitMix64::new(key).next_u64()
}

/// The 32-bit finaliser (MurmurHash3's constants) after a golden-ratio step: the next seed in
/// a fixed sequence, so a regeneration is reproducible.
pub fn next_seed32(seed: u32) -> u32 {
    let mut z = seed.wrapping_add(0x9E37_79B9);
    z = (z ^ (z >> 16)).wrapping_mul(0x85EB_CA6B);
    z = (z ^ (z >> 13)).wrapping_mul(0xC2B2_AE35);
    z ^ (z >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values every derivation produced before they shared this module (commit 3ba1bcd): the
    /// same plans, clips, noise and phases, bit for bit.
    #[test]
    fn derived_seeds_are_unchanged() {
        let mut frame = SplitMix64::keyed(42, 1, 17);
        assert_eq!(frame.next_u64(), 0xa3b5_73d0_f462_8963);
        assert_eq!(frame.next_f32(), 0.362_251_22);
        let mut noise = crate::riffusion::NoiseRng::new(7);
        let normals = [noise.normal(), noise.normal(), noise.normal()];
        assert_eq!(
            normals,
            [1.13086496177284, 2.123422851180662, -0.7309773798159508]
        );
        assert_eq!(
            crate::plan::section_seeds(7, 3),
            [2172213082, 878641627, 1974826864, 1161072968]
        );
        assert_eq!(crate::riffusion::clip_seed(12345, 2), 0x9cfe_9968_4565_7421);
        assert_eq!(next_seed32(99), 0x8ffd_7c62);
    }

    #[test]
    fn the_first_output_of_state_zero_is_the_published_one() {
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }
}

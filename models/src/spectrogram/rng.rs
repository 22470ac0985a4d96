//! Small seeded generator for Griffin-Lim's initial phases. SplitMix64 is enough: we need
//! reproducible, well-spread uniforms, not cryptographic quality. Each (channel, frame) gets
//! its own stream so the result does not depend on how rayon splits the work.

pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Independent stream for one frame of one channel.
    pub fn for_frame(seed: u64, channel: usize, frame: usize) -> Self {
        let mut mix = Self(seed ^ 0x5851_F42D_4C95_7F2D);
        let a = mix.next_u64() ^ (channel as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let b = Self(a).next_u64() ^ (frame as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        Self(Self(b).next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
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

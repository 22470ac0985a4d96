//! One candidate's sound track: the music fitted to the video, faded, ducked under speech, and
//! laid under the video's own audio, a block at a time. All at one rate and channel count (the
//! app uses 44.1 kHz stereo).

use serde::{Deserialize, Serialize};

use crate::media::{FrameSource, PcmAudio};

/// What happens to the video's own sound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum OriginalAudio {
    /// Keep it, and lower the music while someone speaks.
    #[default]
    Duck,
    /// Keep it; the music plays at one level throughout.
    Keep,
    /// Keep only its speech (separated from its background), and lower the music while someone
    /// speaks: the music replaces the old background.
    Speech,
    /// Music only.
    Replace,
}

impl OriginalAudio {
    /// Whether the music drops under speech.
    pub fn ducks(self) -> bool {
        matches!(self, OriginalAudio::Duck | OriginalAudio::Speech)
    }
}

/// How the music makes room for speech when the original sound is kept and ducked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum DuckMode {
    /// Cut mainly the speech band (300 Hz–3.4 kHz): the music keeps its bass and air.
    #[default]
    Spectral,
    /// Turn the whole music down.
    Gain,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MixSettings {
    pub original_audio: OriginalAudio,
    pub duck_mode: DuckMode,
    /// Gain of the music against the original audio, in dB.
    pub music_level_db: f32,
    /// How far the music drops under speech, in dB (positive).
    pub duck_depth_db: f32,
    /// The music starts dropping this long before speech starts.
    pub duck_attack_seconds: f64,
    /// And comes back over this long after it ends.
    pub duck_release_seconds: f64,
    /// The music enters over this long (an equal-power curve).
    pub fade_in_seconds: f64,
    /// The music's closing decay before the video's last frame (at least 1.5 s).
    pub fade_out_seconds: f64,
    /// Overlap between consecutive music clips.
    pub crossfade_seconds: f64,
}

impl Default for MixSettings {
    fn default() -> Self {
        Self {
            original_audio: OriginalAudio::Duck,
            duck_mode: DuckMode::default(),
            music_level_db: 0.0,
            duck_depth_db: 12.0,
            duck_attack_seconds: 0.25,
            duck_release_seconds: 0.6,
            fade_in_seconds: 0.5,
            fade_out_seconds: 2.5,
            crossfade_seconds: 0.25,
        }
    }
}

/// A stretch of speech, in seconds from the start of the video.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeechSpan {
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum MixError {
    #[error("the music and the video's audio differ in format ({0}); both must be {1}")]
    FormatMismatch(String, String),
    #[error(transparent)]
    Read(crate::media::WavError),
}

fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// How far the closing decay falls before the final click-free ramp: like a reverb tail, the
/// level drops evenly in decibels, so the music is heard ending rather than cut off.
pub const DECAY_DB: f32 = 40.0;
/// The very last moment ramps linearly to zero, so the file ends without a click.
const END_RAMP_SECONDS: f64 = 0.03;

/// The music's start and end: an equal-power fade in, and a decay that falls evenly in dB to
/// `DECAY_DB` down at the last frame (then to zero over the last 30 ms), so there is never
/// silence before the video ends and never a cut at its end.
pub fn apply_fades(pcm: &mut PcmAudio, fade_in_seconds: f64, fade_out_seconds: f64) {
    let channels = usize::from(pcm.channels);
    let fades = Fades::new(
        pcm.frames(),
        pcm.sample_rate,
        fade_in_seconds,
        fade_out_seconds,
    );
    for (i, frame) in pcm.samples.chunks_exact_mut(channels).enumerate() {
        let gain = fades.gain(i);
        if gain < 1.0 {
            frame.iter_mut().for_each(|s| *s *= gain);
        }
    }
}

/// The fade in and closing decay of music `frames` long, as a gain per frame.
#[derive(Clone, Copy, Debug)]
pub struct Fades {
    frames: usize,
    fade_in: usize,
    fade_out: usize,
    end_ramp: usize,
}

impl Fades {
    pub fn new(
        frames: usize,
        sample_rate: u32,
        fade_in_seconds: f64,
        fade_out_seconds: f64,
    ) -> Self {
        let rate = f64::from(sample_rate);
        Self {
            frames,
            fade_in: ((fade_in_seconds * rate) as usize).min(frames),
            fade_out: ((fade_out_seconds * rate) as usize).min(frames),
            end_ramp: ((END_RAMP_SECONDS * rate) as usize).clamp(1, frames.max(1)),
        }
    }

    /// Frame `i`'s gain: 0 outside the music.
    pub fn gain(&self, i: usize) -> f32 {
        if i >= self.frames {
            return 0.0;
        }
        let mut gain = 1.0f32;
        if i < self.fade_in {
            gain *= (std::f32::consts::FRAC_PI_2 * i as f32 / self.fade_in as f32).sin();
        }
        if i >= self.frames - self.fade_out {
            let into = (i - (self.frames - self.fade_out)) as f32 / self.fade_out as f32;
            gain *= db_to_gain(-DECAY_DB * into);
        }
        if i >= self.frames - self.end_ramp {
            gain *= (self.frames - i) as f32 / self.end_ramp as f32;
        }
        gain
    }
}

/// The music's gain per frame: 1 away from speech, `depth_db` down during it, with linear (in
/// dB) ramps before and after each span, so the level never jumps.
pub fn duck_gains(
    frames: usize,
    sample_rate: u32,
    speech: &[SpeechSpan],
    depth_db: f32,
    attack_seconds: f64,
    release_seconds: f64,
) -> Vec<f32> {
    duck_amounts(frames, sample_rate, speech, attack_seconds, release_seconds)
        .into_iter()
        .map(|a| db_to_gain(-depth_db * a))
        .collect()
}

/// How far ducked each frame is, 0..=1: 1 during speech, ramping linearly from 0 over the
/// attack before each span and back over the release after it.
pub fn duck_amounts(
    frames: usize,
    sample_rate: u32,
    speech: &[SpeechSpan],
    attack_seconds: f64,
    release_seconds: f64,
) -> Vec<f32> {
    duck_amounts_in(
        0..frames,
        sample_rate,
        speech,
        attack_seconds,
        release_seconds,
    )
}

/// `duck_amounts` for the frames `range` only, so long audio is ducked a block at a time.
pub fn duck_amounts_in(
    range: std::ops::Range<usize>,
    sample_rate: u32,
    speech: &[SpeechSpan],
    attack_seconds: f64,
    release_seconds: f64,
) -> Vec<f32> {
    let rate = f64::from(sample_rate);
    // Overlapping spans take the deeper value.
    let mut amount = vec![0f32; range.len()];
    let to_frame = |t: f64| (t * rate).round().max(0.0) as usize;
    let mut raise = |from: usize, to: usize, value: &dyn Fn(usize) -> f32| {
        for i in from.max(range.start)..to.min(range.end) {
            let a = &mut amount[i - range.start];
            *a = a.max(value(i));
        }
    };
    for span in speech {
        let (start, end) = (to_frame(span.start), to_frame(span.end.max(span.start)));
        let attack = to_frame(span.start - attack_seconds);
        let release = to_frame(span.end + release_seconds);
        if release <= range.start || attack >= range.end {
            continue;
        }
        raise(attack, start, &|i| {
            (i - attack + 1) as f32 / (start - attack + 1) as f32
        });
        raise(start, end, &|_| 1.0);
        raise(end, release, &|i| {
            1.0 - (i - end + 1) as f32 / (release - end + 1) as f32
        });
    }
    amount
}

/// Lays the music under the video's own audio as `settings` say. `original` is `None` for a
/// video without sound; the result has the music's length, rate and channels. The music is
/// taken as it is (no fades): `MixRenderer` is the streaming form the pipeline uses.
pub fn mix(
    music: &PcmAudio,
    original: Option<&PcmAudio>,
    speech: &[SpeechSpan],
    settings: &MixSettings,
) -> Result<PcmAudio, MixError> {
    let mut music = music.clone();
    let mut original = original.cloned();
    let frames = music.frames();
    let mut renderer = MixRenderer::new(
        &mut music,
        original.as_mut().map(|o| o as &mut dyn FrameSource),
        speech,
        settings,
        frames,
    )?
    .without_fades();
    let mut samples = Vec::with_capacity(frames * usize::from(renderer.channels()));
    while let Some(block) = renderer.next_block()? {
        samples.extend_from_slice(&block);
    }
    Ok(PcmAudio {
        samples,
        sample_rate: renderer.sample_rate(),
        channels: renderer.channels(),
    })
}

/// Frames per block of the streaming mix: 3 s at 44.1 kHz, a few MB however long the video.
pub const MIX_BLOCK_FRAMES: usize = 1 << 17;

/// One candidate's mix, a block at a time, from its music and the video's own sound as
/// `FrameSource`s (files, in the pipeline): the music fitted to the video's length and faded,
/// ducked under speech, at its level, over the original sound.
pub struct MixRenderer<'a> {
    music: &'a mut dyn FrameSource,
    original: Option<&'a mut dyn FrameSource>,
    speech: &'a [SpeechSpan],
    settings: &'a MixSettings,
    frames: usize,
    fades: Option<Fades>,
    spectral: Option<super::spectral_duck::SpectralDucker>,
    next: usize,
}

impl<'a> MixRenderer<'a> {
    /// A mix `frames` long (the video's length: the music is cut or padded with silence).
    pub fn new(
        music: &'a mut dyn FrameSource,
        original: Option<&'a mut dyn FrameSource>,
        speech: &'a [SpeechSpan],
        settings: &'a MixSettings,
        frames: usize,
    ) -> Result<Self, MixError> {
        let format =
            |s: &dyn FrameSource| format!("{} Hz, {} channel(s)", s.sample_rate(), s.channels());
        if let Some(original) = original.as_deref() {
            if original.sample_rate() != music.sample_rate()
                || original.channels() != music.channels()
            {
                return Err(MixError::FormatMismatch(format(original), format(&*music)));
            }
        }
        let spectral = (settings.original_audio.ducks()
            && settings.duck_mode == DuckMode::Spectral)
            .then(|| {
                super::spectral_duck::SpectralDucker::new(
                    music.sample_rate(),
                    settings.duck_depth_db,
                )
            });
        let fades = Some(Fades::new(
            frames,
            music.sample_rate(),
            settings.fade_in_seconds,
            settings.fade_out_seconds,
        ));
        Ok(Self {
            music,
            original,
            speech,
            settings,
            frames,
            fades,
            spectral,
            next: 0,
        })
    }

    /// Takes the music as it is, for callers that faded it already.
    pub fn without_fades(mut self) -> Self {
        self.fades = None;
        self
    }

    pub fn sample_rate(&self) -> u32 {
        self.music.sample_rate()
    }

    pub fn channels(&self) -> u16 {
        self.music.channels()
    }

    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The next block of interleaved samples, or `None` once all `frames` are out.
    pub fn next_block(&mut self) -> Result<Option<Vec<f32>>, MixError> {
        if self.next >= self.frames {
            return Ok(None);
        }
        let block = self.next..(self.next + MIX_BLOCK_FRAMES).min(self.frames);
        self.next = block.end;
        let channels = usize::from(self.channels());
        let margin = if self.spectral.is_some() {
            super::spectral_duck::MARGIN
        } else {
            0
        };
        let read_from = block.start as i64 - margin as i64;
        let mut music = self
            .music
            .read(read_from, block.len() + 2 * margin)
            .map_err(MixError::Read)?;
        // The music as fitted to the video and faded: silence past the video's end.
        for (k, frame) in music.chunks_exact_mut(channels).enumerate() {
            let n = read_from + k as i64;
            let gain = match (n, &self.fades) {
                (n, _) if n < 0 || n as usize >= self.frames => 0.0,
                (n, Some(fades)) => fades.gain(n as usize),
                (_, None) => 1.0,
            };
            if gain != 1.0 {
                frame.iter_mut().for_each(|s| *s *= gain);
            }
        }
        let settings = self.settings;
        let amounts_from = block.start.saturating_sub(margin);
        let amounts = if settings.original_audio.ducks() {
            duck_amounts_in(
                amounts_from..(block.end + margin).min(self.frames),
                self.sample_rate(),
                self.speech,
                settings.duck_attack_seconds,
                settings.duck_release_seconds,
            )
        } else {
            Vec::new()
        };
        let music = match self.spectral.as_mut() {
            Some(ducker) if amounts.iter().any(|&a| a > 0.0) => ducker.process(
                &music,
                channels,
                block.clone(),
                self.frames,
                &amounts,
                amounts_from,
            ),
            _ => music[margin * channels..(margin + block.len()) * channels].to_vec(),
        };
        let original = match self.original.as_mut() {
            Some(o) if settings.original_audio != OriginalAudio::Replace => Some(
                o.read(block.start as i64, block.len())
                    .map_err(MixError::Read)?,
            ),
            _ => None,
        };
        let level = db_to_gain(settings.music_level_db);
        let gain_ducked = settings.original_audio.ducks() && settings.duck_mode == DuckMode::Gain;
        let mut out = music;
        for (k, frame) in out.chunks_exact_mut(channels).enumerate() {
            let gain = if gain_ducked {
                let amount = amounts[block.start + k - amounts_from];
                level * db_to_gain(-settings.duck_depth_db * amount)
            } else {
                level
            };
            for (c, sample) in frame.iter_mut().enumerate() {
                *sample = *sample * gain + original.as_ref().map_or(0.0, |o| o[k * channels + c]);
            }
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f64, freq: f32, amplitude: f32) -> PcmAudio {
        let rate = 44_100;
        let frames = (seconds * f64::from(rate)) as usize;
        let samples = (0..frames)
            .flat_map(|i| {
                let v =
                    amplitude * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin();
                [v, v]
            })
            .collect();
        PcmAudio {
            samples,
            sample_rate: rate,
            channels: 2,
        }
    }

    fn rms_db(pcm: &PcmAudio, from: f64, to: f64) -> f32 {
        let rate = f64::from(pcm.sample_rate);
        let ch = usize::from(pcm.channels);
        let part = &pcm.samples[(from * rate) as usize * ch..(to * rate) as usize * ch];
        let mean = part.iter().map(|v| v * v).sum::<f32>() / part.len() as f32;
        10.0 * mean.log10()
    }

    #[test]
    fn music_drops_by_the_duck_depth_under_speech() {
        let music = tone(6.0, 440.0, 0.5);
        let silence = PcmAudio {
            samples: vec![0.0; music.samples.len()],
            ..music.clone()
        };
        let speech = [SpeechSpan {
            start: 2.0,
            end: 4.0,
        }];
        let out = mix(&music, Some(&silence), &speech, &MixSettings::default()).unwrap();
        let drop = rms_db(&out, 0.5, 1.5) - rms_db(&out, 2.5, 3.5);
        assert!((drop - 12.0).abs() < 0.05, "ducked by {drop} dB");
        // Back to full level once the release is over.
        assert!((rms_db(&out, 5.0, 6.0) - rms_db(&out, 0.5, 1.5)).abs() < 0.05);
    }

    /// A broadband bed (white noise, fixed seed), stereo, at 44.1 kHz.
    fn noise(seconds: f64) -> PcmAudio {
        let mut rng = bgm_models::seed::SplitMix64::new(7);
        let frames = (seconds * 44_100.0) as usize;
        let samples = (0..frames * 2)
            .map(|_| (rng.next_f32() - 0.5) * 0.5)
            .collect();
        PcmAudio {
            samples,
            sample_rate: 44_100,
            channels: 2,
        }
    }

    /// The pipeline mixes a block at a time with `MixRenderer`: cutting the signal into blocks
    /// must not change it. Speech spans straddle the block joins (every 2.97 s).
    #[test]
    fn a_mix_made_in_blocks_equals_the_mix_made_in_one_piece() {
        let music = noise(7.0);
        let original = PcmAudio {
            samples: noise(7.5).samples.iter().map(|s| s * 0.3).collect(),
            ..music.clone()
        };
        let speech = [
            SpeechSpan {
                start: 2.8,
                end: 3.2,
            },
            SpeechSpan {
                start: 5.5,
                end: 6.1,
            },
        ];
        let frames = music.frames();
        assert!(frames > 2 * MIX_BLOCK_FRAMES, "three blocks at least");
        for mode in [DuckMode::Spectral, DuckMode::Gain] {
            let settings = MixSettings {
                duck_mode: mode,
                music_level_db: -3.0,
                ..MixSettings::default()
            };
            let blocks = mix(&music, Some(&original), &speech, &settings).unwrap();
            // In one piece: the whole envelope, the whole signal through the ducker.
            let amounts = duck_amounts(frames, 44_100, &speech, 0.25, 0.6);
            let mut ducked = music.clone();
            let mut gains = vec![1.0f32; frames];
            match mode {
                DuckMode::Spectral => {
                    super::super::spectral_duck::tests::spectral_duck(&mut ducked, &amounts, 12.0)
                }
                DuckMode::Gain => gains = duck_gains(frames, 44_100, &speech, 12.0, 0.25, 0.6),
            }
            let level = db_to_gain(-3.0);
            let worst = blocks
                .samples
                .iter()
                .enumerate()
                .map(|(k, &b)| {
                    let whole = ducked.samples[k] * level * gains[k / 2] + original.samples[k];
                    (b - whole).abs()
                })
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "{mode:?}: blocks differ by {worst}");
            // And the blocks duck as deep as set: the music alone (the mix less the original),
            // well inside the second span against a stretch before any speech.
            let music_alone = PcmAudio {
                samples: blocks
                    .samples
                    .iter()
                    .zip(&original.samples)
                    .map(|(m, o)| m - o)
                    .collect(),
                ..music.clone()
            };
            let drop = |bands| {
                band_db(&music_alone, 0.5, 0.9, bands) - band_db(&music_alone, 5.6, 6.0, bands)
            };
            let (inside, outside) = (drop(SPEECH_BAND), drop(OUTSIDE_SPEECH));
            let outside_expected = match mode {
                DuckMode::Gain => 12.0,
                DuckMode::Spectral => 0.0,
            };
            assert!(
                (inside - 12.0).abs() < 0.5 && (outside - outside_expected).abs() < 1.0,
                "{mode:?} in blocks: the speech band dropped {inside} dB, the rest {outside} dB"
            );
        }
    }

    /// The band spectral ducking cuts, and what it spares (past its slopes).
    const SPEECH_BAND: &[(f32, f32)] = &[(300.0, 3_400.0)];
    const OUTSIDE_SPEECH: &[(f32, f32)] = &[(20.0, 200.0), (4_500.0, 20_000.0)];

    /// Energy (dB) of the left channel between `from` and `to` seconds, inside each of `bands`.
    fn band_db(pcm: &PcmAudio, from: f64, to: f64, bands: &[(f32, f32)]) -> f32 {
        let part: Vec<f32> =
            pcm.channel(0)[(from * 44_100.0) as usize..(to * 44_100.0) as usize].to_vec();
        let n = part.len();
        let fft = realfft::RealFftPlanner::<f32>::new().plan_fft_forward(n);
        let (mut input, mut spectrum) = (part, fft.make_output_vec());
        fft.process(&mut input, &mut spectrum).unwrap();
        let hz = 44_100.0 / n as f32;
        let energy: f32 = spectrum
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                bands
                    .iter()
                    .any(|(lo, hi)| (*lo..*hi).contains(&(*k as f32 * hz)))
            })
            .map(|(_, c)| c.norm_sqr())
            .sum();
        10.0 * energy.log10()
    }

    /// Per band, on a broadband bed under 2 s of speech: gain ducking drops everything by the
    /// depth; spectral ducking drops the speech band by the depth and the rest by at
    /// most 3 dB.
    #[test]
    fn spectral_ducking_cuts_the_speech_band_and_keeps_the_rest() {
        let music = noise(6.0);
        let speech = [SpeechSpan {
            start: 2.0,
            end: 4.0,
        }];
        for (mode, depth) in [
            (DuckMode::Gain, 12.0),
            (DuckMode::Spectral, 12.0),
            (DuckMode::Spectral, 6.0),
        ] {
            let settings = MixSettings {
                duck_mode: mode,
                duck_depth_db: depth,
                ..MixSettings::default()
            };
            let out = mix(&music, None, &speech, &settings).unwrap();
            let drop = |bands| band_db(&out, 0.5, 1.5, bands) - band_db(&out, 2.5, 3.5, bands);
            let (inside, outside) = (drop(SPEECH_BAND), drop(OUTSIDE_SPEECH));
            println!("{mode:?} {depth} dB: speech band -{inside:.1} dB, outside -{outside:.1} dB");
            assert!(
                (inside - depth).abs() < 0.3,
                "{mode:?}: the speech band dropped {inside} dB"
            );
            match mode {
                DuckMode::Gain => assert!((outside - depth).abs() < 0.3, "{outside}"),
                // At most 3 dB of the rest is cut, and none of it raised.
                DuckMode::Spectral => assert!(
                    (-0.3..=3.0).contains(&outside),
                    "{mode:?}: outside dropped {outside} dB"
                ),
            }
        }
    }

    /// The start and the end, measured on the envelope (RMS in 50 ms windows, against the
    /// steady level) of a steady tone through the default fades.
    #[test]
    fn the_music_enters_with_a_short_fade_and_ends_with_a_decay_not_a_cut() {
        let mut music = tone(10.0, 440.0, 0.5);
        let settings = MixSettings::default();
        apply_fades(
            &mut music,
            settings.fade_in_seconds,
            settings.fade_out_seconds,
        );
        let steady = rms_db(&music, 3.0, 5.0);
        let envelope = |from: f64| rms_db(&music, from, from + 0.05) - steady;
        assert!(envelope(0.0) < -12.0, "starts at {} dB", envelope(0.0));
        assert!(envelope(0.5).abs() < 0.1 && envelope(7.4).abs() < 0.1);
        // The tail is 2.5 s (at least 1.5 s) and falls evenly in dB, every window quieter.
        let tail: Vec<f32> = (0..48).map(|k| envelope(7.5 + k as f64 * 0.05)).collect();
        assert!(tail.windows(2).all(|w| w[1] < w[0]), "{tail:?}");
        let per_second = (envelope(8.0) - envelope(9.5)) / 1.5;
        assert!(
            (per_second - DECAY_DB / 2.5).abs() < 0.5,
            "{per_second} dB/s"
        );
        // Never silence before the end: the last 100 ms before the click-free ramp are heard.
        let last = rms_db(&music, 9.87, 9.97) - steady;
        assert!(last > -DECAY_DB - 1.0 && last < -30.0, "{last} dB");
    }

    #[test]
    fn duck_ramps_have_no_jumps() {
        let speech = [
            SpeechSpan {
                start: 1.0,
                end: 1.2,
            },
            SpeechSpan {
                start: 1.5,
                end: 3.0,
            },
        ];
        let gains = duck_gains(4 * 44_100, 44_100, &speech, 12.0, 0.25, 0.6);
        let biggest_step = gains
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max);
        // Linear in dB over the 0.25 s attack: the steepest gain step, at full level, is
        // ln(10)/20 * 12 dB / (0.25 s * 44100) ≈ 1.25e-4 per sample; a click would be far larger.
        let steepest = std::f32::consts::LN_10 / 20.0 * 12.0 / (0.25 * 44_100.0);
        assert!(biggest_step <= steepest * 1.01, "step {biggest_step}");
        assert!((gains[(2.0 * 44_100.0) as usize] - db_to_gain(-12.0)).abs() < 1e-6);
        assert_eq!(gains[0], 1.0);
    }

    #[test]
    fn replace_drops_the_original_and_keep_does_not_duck() {
        let music = tone(1.0, 300.0, 0.25);
        let voice = tone(1.0, 1000.0, 0.25);
        let speech = [SpeechSpan {
            start: 0.0,
            end: 1.0,
        }];
        let replace = MixSettings {
            original_audio: OriginalAudio::Replace,
            ..Default::default()
        };
        assert_eq!(
            mix(&music, Some(&voice), &speech, &replace)
                .unwrap()
                .samples,
            music.samples
        );
        let keep = MixSettings {
            original_audio: OriginalAudio::Keep,
            ..Default::default()
        };
        let kept = mix(&music, Some(&voice), &speech, &keep).unwrap();
        assert!((kept.samples[1001] - (music.samples[1001] + voice.samples[1001])).abs() < 1e-6);
    }

    #[test]
    fn music_level_scales_the_music_only() {
        let music = tone(1.0, 300.0, 0.5);
        let quieter = MixSettings {
            music_level_db: -6.0,
            original_audio: OriginalAudio::Keep,
            ..Default::default()
        };
        let out = mix(&music, None, &[], &quieter).unwrap();
        assert!((rms_db(&music, 0.1, 0.9) - rms_db(&out, 0.1, 0.9) - 6.0).abs() < 0.01);
    }
}

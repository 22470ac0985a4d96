//! Real-audio checks: audio -> image -> audio keeps the (mel) spectrogram, chord tones come
//! back at their frequencies, and speech keeps its envelope.

mod speech_common;

use bgm_models::spectrogram::{
    Audio, ImageToAudioOptions, PhaseInit, SpectrogramConverter, SpectrogramParams,
};

const SR: f32 = 44_100.0;
/// C major, A minor, F major, G major; 0.64 s each.
const CHORDS: [[f32; 3]; 4] = [
    [261.63, 329.63, 392.00],
    [220.00, 261.63, 329.63],
    [174.61, 220.00, 261.63],
    [196.00, 246.94, 293.66],
];
const CHORD_S: f32 = 0.64;

fn chord_progression() -> Vec<f32> {
    let len = 441 * 255; // 256 image columns
    (0..len)
        .map(|i| {
            let t = i as f32 / SR;
            let chord = &CHORDS[((t / CHORD_S) as usize).min(3)];
            chord
                .iter()
                .flat_map(|&f| (1..=3).map(move |h| (f, h as f32)))
                .map(|(f, h)| (2.0 * std::f32::consts::PI * f * h * t).sin() * 0.2 / (h * h))
                .sum()
        })
        .collect()
}

fn converter() -> SpectrogramConverter {
    SpectrogramConverter::new(SpectrogramParams::default()).unwrap()
}

fn reconstruct(conv: &SpectrogramConverter, audio: &[f32]) -> (image::RgbImage, Audio) {
    let spec = conv.audio_to_image(&[audio.to_vec()]).unwrap();
    let opts = ImageToAudioOptions {
        phase_init: PhaseInit::Random { seed: 1 },
    };
    let out = conv.image_to_audio(&spec.image, &opts).unwrap();
    (spec.image.to_rgb8(), out)
}

/// Power at `freq` over `x` (Goertzel with a Hann window).
fn power_at(x: &[f32], freq: f32) -> f64 {
    let n = x.len();
    let w = 2.0 * std::f64::consts::PI * f64::from(freq) / f64::from(SR);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for (i, &v) in x.iter().enumerate() {
        let win = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
        let s = f64::from(v) * win + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// Mean absolute pixel difference and the relative L2 distance of the mel amplitudes that
/// the two images encode (each image is normalised to its own maximum).
fn image_distance(a: &image::RgbImage, b: &image::RgbImage) -> (f64, f64) {
    let amp = |p: u8| (f64::from(255 - p) / 255.0).powi(4);
    let (mut abs, mut num, mut den) = (0.0, 0.0, 0.0);
    for (pa, pb) in a.pixels().zip(b.pixels()) {
        let (x, y) = (pa.0[0], pb.0[0]);
        abs += (f64::from(x) - f64::from(y)).abs();
        num += (amp(x) - amp(y)).powi(2);
        den += amp(x).powi(2);
    }
    (abs / (a.width() * a.height()) as f64, (num / den).sqrt())
}

#[test]
fn chord_progression_round_trip() {
    let conv = converter();
    let audio = chord_progression();
    let (image, out) = reconstruct(&conv, &audio);
    let x = &out.channels[0];
    assert_eq!(x.len(), audio.len());

    // Every chord's tones stand well above the other semitones between 165 and 415 Hz.
    for (c, chord) in CHORDS.iter().enumerate() {
        // Skip 0.1 s at each chord change (frames there mix two chords).
        let lo = ((c as f32 * CHORD_S + 0.1) * SR) as usize;
        let hi = (((c + 1) as f32 * CHORD_S - 0.1) * SR) as usize;
        let seg = &x[lo..hi.min(x.len())];
        let semitones: Vec<f32> = (0..17)
            .map(|s| 164.81 * 2f32.powf(s as f32 / 12.0))
            .collect();
        // Harmonics of the chord tones (e.g. F4 over F3) are in the signal too.
        let is_tone = |f: f32| {
            chord
                .iter()
                .any(|&t| (1..=3).any(|h| (f / (t * h as f32) - 1.0).abs() < 0.01))
        };
        let off: Vec<f64> = semitones
            .iter()
            .filter(|&&f| !is_tone(f))
            .map(|&f| power_at(seg, f))
            .collect();
        let off_max = off.iter().cloned().fold(0.0, f64::max);
        for &tone in chord {
            let ratio_db = 10.0 * (power_at(seg, tone) / off_max).log10();
            eprintln!(
                "chord {c}: {tone:.1} Hz is {ratio_db:.1} dB above the loudest non-chord semitone"
            );
            assert!(
                ratio_db > 30.0,
                "chord {c} tone {tone} only {ratio_db:.1} dB up"
            );
        }
    }

    // The reconstruction's spectrogram image is close to the original one.
    let again = conv.audio_to_image(&[x]).unwrap().image.to_rgb8();
    let (mean_px, mel_rel) = image_distance(&image, &again);
    eprintln!(
        "round trip: mean |pixel diff| {mean_px:.2} levels, mel amplitude rel L2 {mel_rel:.3}"
    );
    assert!(mean_px < 2.5, "mean pixel difference {mean_px}");
    assert!(mel_rel < 0.2, "mel relative L2 {mel_rel}");
}

/// espeak-ng speech (tools/install-deps.sh installs espeak-ng and sox): the reconstruction
/// keeps the speech's loudness envelope.
#[test]
fn speech_keeps_its_envelope() {
    let speech =
        speech_common::espeak_speech("Background music for every video, made on your own machine.")
            .unwrap_or_else(|e| panic!("making the speech: {e}"));
    let conv = converter();
    let (image, out) = reconstruct(&conv, &speech);
    let y = &out.channels[0];
    // Griffin-Lim's output is kept unlevelled: a limiter here once took the crest factor from
    // 9 to 5.8 and the round trip error to 6.7 levels. torchaudio's raw Griffin-Lim gives
    // 2.16 on the benchmark's speech (models/benches/spectrogram.rs compares the two).
    let again = conv.audio_to_image(&[y]).unwrap().image.to_rgb8();
    let (mean_px, _) = image_distance(&image, &again);
    eprintln!("speech round trip: mean |pixel diff| {mean_px:.2} levels");
    assert!(mean_px < 2.5, "mean pixel difference {mean_px}");
    // 20 ms RMS envelopes, correlated.
    let env = |x: &[f32]| -> Vec<f64> {
        x.chunks(882)
            .map(|c| (c.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
            .collect()
    };
    let (a, b) = (env(&speech[..y.len()]), env(y));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, mb) = (mean(&a), mean(&b));
    let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    let corr = cov / (va * vb).sqrt();
    eprintln!(
        "speech: {} samples, 20 ms envelope correlation {corr:.3}",
        speech.len()
    );
    assert!(corr > 0.98, "envelope correlation {corr}");
}

//! Parity with torchaudio 2.5.1 (Riffusion's arguments), against the fixtures written by
//! tools/parity/spectrogram/make_fixtures.py. Each test states its tolerance and why.

use std::path::PathBuf;

use bgm_models::spectrogram::{
    level_of, MelFilterbank, PhaseInit, SpectrogramConverter, SpectrogramParams,
};
use image::{DynamicImage, GrayImage};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/spectrogram")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn f32s(name: &str) -> Vec<f32> {
    fixture(name)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn u16s(name: &str) -> Vec<u16> {
    fixture(name)
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn manifest() -> serde_json::Value {
    serde_json::from_slice(&fixture("manifest.json")).expect("manifest.json")
}

/// Torch's dense (n_freqs, n_mels) filterbank from the sparse fixture.
fn torch_fb(n_freqs: usize, n_mels: usize) -> Vec<f32> {
    let mut fb = vec![0.0; n_freqs * n_mels];
    let (bins, mels, vals) = (
        u16s("fb_bins.u16"),
        u16s("fb_mels.u16"),
        f32s("fb_values.f32"),
    );
    for ((b, m), v) in bins.iter().zip(&mels).zip(&vals) {
        fb[*b as usize * n_mels + *m as usize] = *v;
    }
    fb
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn fixture_image(name: &str, width: usize) -> DynamicImage {
    let img = GrayImage::from_raw(width as u32, 512, fixture(name)).expect("512 x width pixels");
    DynamicImage::ImageLuma8(img)
}

#[test]
fn filterbank_matches_torchaudio() {
    let params = SpectrogramParams::default();
    let torch = torch_fb(params.n_freqs(), params.n_mels);

    // Same break points => same triangles, to f32 rounding: < 1e-6.
    let torch_pts = f32s("fb_f_pts.f32");
    let same_pts = MelFilterbank::from_break_frequencies(&params, torch_pts.clone());
    let err_same = max_abs_diff(&same_pts.to_dense(), &torch);
    eprintln!("filterbank from torch's break points: max abs err {err_same:e}");
    assert!(err_same < 1e-6);

    // Our own break points: computed in f64 and rounded once. Torch computes
    // 700 * (10^(m / 2595) - 1) in f32, which cancels near 0 Hz (10^x is ~1.005 there, one
    // ulp of it is ~8e-5 Hz after the subtraction) and rounds linspace/pow differently per
    // CPU. Against 3.7 Hz wide triangles at the bottom that moves weights by up to ~5e-5.
    let ours = MelFilterbank::new(&params);
    let pts_err = ours
        .break_frequencies()
        .iter()
        .zip(&torch_pts)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    let err = max_abs_diff(&ours.to_dense(), &torch);
    eprintln!("break points: max abs err {pts_err:e} Hz; filterbank: max abs err {err:e}");
    // 4 ulp of f32 at 10 kHz.
    assert!(pts_err < 4e-3, "break points differ by {pts_err} Hz");
    assert!(err < 1e-4, "filterbank differs by {err}");
    // The top edge is exactly 10 kHz = bin 4000 for us; torch's rounding may give that bin a
    // weight of ~1e-7.
    assert!(ours.active_bins().abs_diff(same_pts.active_bins()) <= 1);
}

#[test]
fn inverse_mel_matches_torchaudio() {
    let conv = SpectrogramConverter::new(SpectrogramParams::default()).unwrap();
    let image = fixture_image("image_r.u8", 32);
    let mel = conv.mel_from_image(&image).unwrap().remove(0);
    let linear = conv.linear_from_mel(&mel);
    let k = conv.filterbank().active_bins();
    let torch = f32s("linear_frames.f32");
    let frames = [0usize, 20];
    let width = torch.len() / frames.len();
    let mut worst = 0.0f32;
    for (i, &t) in frames.iter().enumerate() {
        let theirs = &torch[i * width..(i + 1) * width];
        let ours: Vec<f32> = (0..width)
            .map(|b| if b < k { linear[t * k + b] } else { 0.0 })
            .collect();
        let peak = theirs.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        let rel = max_abs_diff(&ours, theirs) / peak;
        worst = worst.max(rel);
    }
    // Torch solves the 512 x 8821 system in f32 (LAPACK gels); its rounding error is about
    // cond(fb^T) * eps_f32 relative to the peak. We solve in f64, so the gap is torch's error.
    eprintln!("inverse mel: max abs err / frame peak = {worst:e}");
    assert!(worst < 2e-3, "inverse mel differs by {worst} of the peak");
}

fn rel_l2(ours: &[f32], theirs: &[f32]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    let num: f64 = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum();
    let den: f64 = theirs.iter().map(|b| f64::from(*b).powi(2)).sum();
    (num / den).sqrt()
}

/// Griffin-Lim from the fixture image. On torch's break frequencies, so that the comparison
/// measures the inverse mel and Griffin-Lim, not the filterbank rounding tested above.
fn griffin_lim_ones(iters: usize) -> (SpectrogramConverter, Vec<f32>) {
    let params = SpectrogramParams {
        griffin_lim_iters: iters,
        ..SpectrogramParams::default()
    };
    let fb = MelFilterbank::from_break_frequencies(&params, f32s("fb_f_pts.f32"));
    let conv = SpectrogramConverter::with_filterbank(params, fb).unwrap();
    let image = fixture_image("image_r.u8", 32);
    let mel = conv.mel_from_image(&image).unwrap().remove(0);
    let linear = conv.linear_from_mel(&mel);
    let wave = conv.griffin_lim(&linear, PhaseInit::Ones, 0);
    (conv, wave)
}

#[test]
fn griffin_lim_matches_torchaudio_with_deterministic_init() {
    // Torch's own f32 vs f64 runs differ by 5e-6 (0 iterations) and 3e-4 (4 iterations) in
    // relative L2: each iteration amplifies rounding. Allow a few times torch's own spread.
    for (iters, tol) in [(0usize, 3e-5), (4, 2e-3)] {
        let (_, ours) = griffin_lim_ones(iters);
        let torch = f32s(&format!("griffin_lim_ones_{iters}.f32"));
        assert_eq!(ours.len(), 441 * 31);
        let err = rel_l2(&ours, &torch);
        eprintln!("griffin-lim, ones init, {iters} iterations: relative L2 err {err:e}");
        assert!(err < tol, "{iters} iterations: relative L2 error {err}");
    }
}

#[test]
fn griffin_lim_32_iterations_reaches_torchaudios_spectrogram() {
    // After 32 iterations the waveform itself is chaotic: a 1e-5 relative change of the input
    // magnitudes moves torch's own output by ~15% and f32 vs f64 by ~1%. What must agree is
    // what Griffin-Lim optimises: the magnitude (mel) spectrogram of the result. Measured:
    // waveform 1.3% (torch f32 vs f64: 1.0%), mel 0.27%.
    let (conv, ours) = griffin_lim_ones(32);
    let torch = f32s("griffin_lim_ones_32.f32");
    let wave_err = rel_l2(&ours, &torch);
    let scale = 1.0 / bgm_models::spectrogram::INT16_SCALE;
    let as_pcm = |w: &[f32]| w.iter().map(|x| x * scale).collect::<Vec<f32>>();
    let mel_ours = conv.mel_from_audio(&as_pcm(&ours)).unwrap();
    let mel_torch = conv.mel_from_audio(&as_pcm(&torch)).unwrap();
    let mel_err = rel_l2(&mel_ours, &mel_torch);
    eprintln!("griffin-lim, ones init, 32 iterations: waveform rel L2 {wave_err:e}, mel rel L2 {mel_err:e}");
    assert!(wave_err < 0.05, "waveform relative L2 error {wave_err}");
    assert!(
        mel_err < 0.02,
        "mel spectrogram relative L2 error {mel_err}"
    );
}

#[test]
fn audio_to_image_matches_riffusion() {
    let conv = SpectrogramConverter::new(SpectrogramParams::default()).unwrap();
    let audio = f32s("audio.f32");
    let spec = conv.audio_to_image(&[&audio]).unwrap();
    let torch_px = fixture("audio_image_r.u8");
    let m = manifest();
    let torch_max = m["audio_image_r.u8"]["max_value"].as_f64().unwrap() as f32;
    let rgb = spec.image.to_rgb8();
    let width = rgb.width() as usize;
    assert_eq!(width * 512, torch_px.len());
    let mut off_by_one = 0;
    for (i, &want) in torch_px.iter().enumerate() {
        let got = rgb.get_pixel((i % width) as u32, (i / width) as u32).0[0];
        let d = (i32::from(got) - i32::from(want)).abs();
        assert!(d <= 1, "pixel {i}: ours {got}, torch {want}");
        off_by_one += usize::from(d == 1);
    }
    let rel_max = (spec.max_value - torch_max).abs() / torch_max;
    eprintln!(
        "audio -> image: {off_by_one} of {} pixels off by one level, max value rel err {rel_max:e}",
        torch_px.len()
    );
    assert!(rel_max < 1e-5);
    // Mel amplitudes themselves (independent of truncation).
    let mel = conv.mel_from_audio(&audio).unwrap();
    let torch_mel = f32s("audio_mel_frames.f32");
    let mut worst = 0.0f32;
    for (i, t) in [0usize, 10, 20, 30].into_iter().enumerate() {
        let theirs = &torch_mel[i * 512..(i + 1) * 512];
        let ours = &mel[t * 512..(t + 1) * 512];
        let peak = theirs.iter().fold(0.0f32, |m, &v| m.max(v));
        worst = worst.max(max_abs_diff(ours, theirs) / peak);
    }
    eprintln!("audio -> mel: max abs err / frame peak {worst:e}");
    // Dominated by torch's low-frequency filterbank rounding (see the filterbank test).
    assert!(worst < 1e-4);
    // Sanity of the level function used above.
    assert_eq!(level_of(torch_max, torch_max, 0.25), 0);
}

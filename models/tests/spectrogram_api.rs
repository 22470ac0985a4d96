//! Behaviour of the public spectrogram API: validation, PNG metadata, determinism, levels.

use bgm_models::spectrogram::{
    decode_png, encode_png, ImageToAudioOptions, MelFilterbank, PhaseInit, SpectrogramConverter,
    SpectrogramError, SpectrogramParams, INT16_SCALE,
};
use image::{DynamicImage, GrayImage, Rgb, RgbImage, RgbaImage};

fn converter() -> SpectrogramConverter {
    SpectrogramConverter::new(SpectrogramParams::default()).unwrap()
}

fn sine(freq: f32, len: usize, amp: f32) -> Vec<f32> {
    (0..len)
        .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / 44_100.0).sin())
        .collect()
}

/// A gently varying test image (mono levels in R = G = B).
fn test_image(width: u32) -> RgbImage {
    RgbImage::from_fn(width, 512, |x, y| {
        let v = 120 + ((x * 7 + y * 3) % 100) as u8;
        let v = if (y / 40) % 3 == 0 { v / 3 } else { v };
        Rgb([v, v, v])
    })
}

#[test]
fn rejects_bad_images_with_clear_messages() {
    let conv = converter();
    let opts = ImageToAudioOptions::default();
    let short = DynamicImage::ImageRgb8(RgbImage::new(64, 300));
    let err = conv.image_to_audio(&short, &opts).unwrap_err();
    assert_eq!(err.to_string(), "image height must be 512 rows, got 300");
    let narrow = DynamicImage::ImageRgb8(RgbImage::new(3, 512));
    let err = conv.image_to_audio(&narrow, &opts).unwrap_err();
    assert!(
        matches!(err, SpectrogramError::ImageWidth { got: 3, .. }),
        "{err}"
    );
    let empty = DynamicImage::ImageRgb8(RgbImage::new(0, 0));
    assert!(conv.image_to_audio(&empty, &opts).is_err());
}

#[test]
fn rejects_bad_audio_and_params() {
    let conv = converter();
    let a = sine(440.0, 44_100, 0.5);
    let err = conv.audio_to_image(&[a.clone(), a.clone()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "audio must have 1 channel(s) for these parameters, got 2"
    );
    assert!(conv.audio_to_image::<Vec<f32>>(&[]).is_err());
    assert!(conv.mel_from_audio(&[]).is_err());
    let err = conv.audio_to_image(&[vec![0.0; 100]]).unwrap_err();
    assert!(
        matches!(err, SpectrogramError::AudioTooShort { got: 100, .. }),
        "{err}"
    );
    let mut nan = a.clone();
    nan[5] = f32::NAN;
    assert!(matches!(
        conv.audio_to_image(&[nan]),
        Err(SpectrogramError::NonFiniteAudio)
    ));
    let stereo = SpectrogramConverter::new(SpectrogramParams::stereo()).unwrap();
    let err = stereo
        .audio_to_image(&[a.clone(), a[..1000].to_vec()])
        .unwrap_err();
    assert!(matches!(
        err,
        SpectrogramError::ChannelLengths(44_100, 1000)
    ));
    for bad in [
        SpectrogramParams {
            n_fft: 17_641,
            ..Default::default()
        },
        SpectrogramParams {
            momentum: 1.0,
            ..Default::default()
        },
        SpectrogramParams {
            hop_length: 0,
            ..Default::default()
        },
        SpectrogramParams {
            max_frequency: 30_000.0,
            ..Default::default()
        },
        SpectrogramParams {
            win_length: 20_000,
            ..Default::default()
        },
    ] {
        assert!(matches!(
            SpectrogramConverter::new(bad),
            Err(SpectrogramError::InvalidParams(_))
        ));
    }
}

#[test]
fn png_metadata_round_trips_and_garbage_is_an_error() {
    let conv = converter();
    let spec = conv.audio_to_image(&[sine(1000.0, 22_050, 0.3)]).unwrap();
    let bytes = encode_png(&spec.image, Some(&spec.metadata())).unwrap();
    let (image, meta) = decode_png(&bytes).unwrap();
    let meta = meta.expect("metadata present");
    assert_eq!(meta.max_value, spec.max_value);
    assert_eq!(meta.params, spec.params);
    assert_eq!(image.to_rgb8(), spec.image.to_rgb8());

    let dir = std::env::temp_dir().join(format!("bgm-spec-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spec.png");
    spec.write_png(&path).unwrap();
    let (_, meta2) = bgm_models::spectrogram::read_png(&path).unwrap();
    assert_eq!(meta2.unwrap().max_value, spec.max_value);
    std::fs::remove_dir_all(&dir).unwrap();

    // No metadata: None. Not a PNG: an error, not a panic.
    let plain = encode_png(&spec.image, None).unwrap();
    assert!(decode_png(&plain).unwrap().1.is_none());
    assert!(decode_png(b"definitely not a png").is_err());
    assert!(decode_png(&bytes[..bytes.len() / 2]).is_err());
}

#[test]
fn silence_makes_a_white_image_and_white_makes_silence() {
    let conv = converter();
    let spec = conv.audio_to_image(&[vec![0.0; 8000]]).unwrap();
    assert_eq!(spec.max_value, 0.0);
    assert!(spec
        .image
        .to_rgb8()
        .pixels()
        .all(|p| p.0 == [255, 255, 255]));
    let white = DynamicImage::ImageRgb8(RgbImage::from_pixel(16, 512, Rgb([255, 255, 255])));
    let audio = conv
        .image_to_audio(&white, &ImageToAudioOptions::default())
        .unwrap();
    assert_eq!(audio.len(), 441 * 15);
    assert!(audio.channels[0].iter().all(|&x| x == 0.0));
}

#[test]
fn same_seed_same_audio_regardless_of_threads() {
    let conv = converter();
    let image = DynamicImage::ImageRgb8(test_image(24));
    let opts = ImageToAudioOptions {
        phase_init: PhaseInit::Random { seed: 42 },
    };
    let a = conv.image_to_audio(&image, &opts).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let b = pool.install(|| conv.image_to_audio(&image, &opts).unwrap());
    assert_eq!(a, b);
    let other = ImageToAudioOptions {
        phase_init: PhaseInit::Random { seed: 43 },
    };
    let c = conv.image_to_audio(&image, &other).unwrap();
    assert_ne!(a, c);
    assert_eq!(a.sample_rate, 44_100);
    assert_eq!(a.len(), 441 * 23);
}

#[test]
fn greyscale_rgb_and_rgba_images_read_the_same() {
    let conv = converter();
    let rgb = test_image(16);
    let grey = GrayImage::from_fn(16, 512, |x, y| image::Luma([rgb.get_pixel(x, y).0[0]]));
    let rgba = RgbaImage::from_fn(16, 512, |x, y| {
        let p = rgb.get_pixel(x, y).0;
        image::Rgba([p[0], 9, 200, 255])
    });
    let m_rgb = conv.mel_from_image(&DynamicImage::ImageRgb8(rgb)).unwrap();
    let m_grey = conv
        .mel_from_image(&DynamicImage::ImageLuma8(grey))
        .unwrap();
    let m_rgba = conv
        .mel_from_image(&DynamicImage::ImageRgba8(rgba))
        .unwrap();
    assert_eq!(m_rgb, m_grey);
    assert_eq!(m_rgb, m_rgba);
    // Black = max_value, white = 0, bottom row = band 0.
    let mut img = RgbImage::from_pixel(8, 512, Rgb([255, 255, 255]));
    img.put_pixel(0, 511, Rgb([0, 0, 0]));
    let mel = conv
        .mel_from_image(&DynamicImage::ImageRgb8(img))
        .unwrap()
        .remove(0);
    assert_eq!(mel[0], 30e6);
    assert_eq!(mel.iter().filter(|&&v| v != 0.0).count(), 1);
}

#[test]
fn stereo_uses_green_and_blue() {
    let conv = SpectrogramConverter::new(SpectrogramParams::stereo()).unwrap();
    let left = sine(300.0, 20_000, 0.5);
    let right = sine(3000.0, 20_000, 0.5);
    let spec = conv.audio_to_image(&[left, right]).unwrap();
    let rgb = spec.image.to_rgb8();
    assert!(
        rgb.pixels().all(|p| p.0[0] == 0),
        "red stays zero as in Riffusion"
    );
    let darkest_row = |c: usize| {
        (0..512u32)
            .min_by_key(|&y| rgb.get_pixel(10, y).0[c])
            .unwrap()
    };
    // 3 kHz sits higher in the image (smaller row) than 300 Hz.
    assert!(darkest_row(2) < darkest_row(1));
    let opts = ImageToAudioOptions::default();
    let audio = conv.image_to_audio(&spec.image, &opts).unwrap();
    assert_eq!(audio.channels.len(), 2);
    assert_ne!(audio.channels[0], audio.channels[1]);
}

/// The audio is Griffin-Lim's own output, level and dynamics untouched; only audio beyond full
/// scale is brought down, by one gain, to -0.1 dBFS.
#[test]
fn audio_keeps_griffin_lims_level_and_is_scaled_only_to_fit_full_scale() {
    let conv = converter();
    let image = DynamicImage::ImageRgb8(test_image(64));
    let opts = ImageToAudioOptions {
        phase_init: PhaseInit::Random { seed: 3 },
    };
    let audio = conv.image_to_audio(&image, &opts).unwrap();
    let mel = conv.mel_from_image(&image).unwrap().remove(0);
    let raw = conv.griffin_lim(&conv.linear_from_mel(&mel), opts.phase_init, 0);
    let expected: Vec<f32> = raw.iter().map(|x| x / INT16_SCALE).collect();
    assert_eq!(audio.channels[0], expected);

    let crest = |x: &[f32]| {
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let rms = (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
        f64::from(peak) / rms
    };
    let mut quiet = audio.clone();
    quiet.channels[0]
        .iter_mut()
        .for_each(|x| *x *= 0.9 / bgm_models::spectrogram::peak(&expected));
    let before = quiet.clone();
    assert_eq!(quiet.fit_full_scale(), 1.0);
    assert_eq!(quiet, before, "audio within full scale is left alone");

    let mut loud = audio.clone();
    loud.channels[0]
        .iter_mut()
        .for_each(|x| *x *= 5.0 / bgm_models::spectrogram::peak(&expected));
    let gain = loud.fit_full_scale();
    let peak = bgm_models::spectrogram::peak(&loud.channels[0]);
    assert!((20.0 * peak.log10() + 0.1).abs() < 1e-3, "peak {peak}");
    assert!((gain * 5.0 - peak).abs() < 1e-5);
    assert!(
        (crest(&loud.channels[0]) / crest(&expected) - 1.0).abs() < 1e-4,
        "one gain only"
    );
}

#[test]
fn inverse_mel_reproduces_a_consistent_mel_spectrum() {
    // Independent of torch: for mel = fb^T x with x >= 0, the min-norm solution maps back onto
    // the same mel spectrum (up to the few bins relu clips).
    let params = SpectrogramParams::default();
    let conv = converter();
    let fb = MelFilterbank::new(&params);
    let k = fb.active_bins();
    let x: Vec<f32> = (0..k)
        .map(|b| 1e6 * (1.0 + (b as f32 * 0.01).sin()) * (-(b as f32) / 3000.0).exp())
        .collect();
    let mut mel = vec![0.0; 512];
    fb.apply(&x, &mut mel);
    let linear = conv.linear_from_mel(&mel);
    let mut back = vec![0.0; 512];
    fb.apply(&linear, &mut back);
    let num: f32 = back.iter().zip(&mel).map(|(a, b)| (a - b).powi(2)).sum();
    let den: f32 = mel.iter().map(|b| b * b).sum();
    let rel = (num / den).sqrt();
    eprintln!("fb^T relu(pinv mel) vs mel: relative L2 {rel:e}");
    assert!(rel < 1e-3, "{rel}");
    assert!(linear.iter().all(|&v| v >= 0.0));
    assert_eq!(
        conv.inverse_mel_bandwidth(),
        1,
        "the Gram matrix is tridiagonal"
    );
}

#[test]
fn a_sine_lands_in_its_mel_band() {
    let conv = converter();
    let spec = conv.audio_to_image(&[sine(1000.0, 44_100, 0.5)]).unwrap();
    let rgb = spec.image.to_rgb8();
    let row = (0..512u32)
        .min_by_key(|&y| rgb.get_pixel(50, y).0[0])
        .unwrap();
    let band = 511 - row as usize;
    let f_pts = MelFilterbank::new(&SpectrogramParams::default())
        .break_frequencies()
        .to_vec();
    // Band m peaks at f_pts[m + 1].
    let centre = f_pts[band + 1];
    assert!(
        (centre - 1000.0).abs() < 8.0,
        "band {band} centred at {centre} Hz"
    );
    assert_eq!(rgb.get_pixel(50, row).0[0], 0, "the loudest pixel is black");
}

#[test]
fn a_512_column_image_gives_225_351_samples() {
    // Griffin-Lim iterations do not change the length; skip them to keep the test fast.
    let params = SpectrogramParams {
        griffin_lim_iters: 0,
        ..SpectrogramParams::default()
    };
    let conv = SpectrogramConverter::new(params).unwrap();
    let image = DynamicImage::ImageRgb8(test_image(512));
    let audio = conv
        .image_to_audio(&image, &ImageToAudioOptions::default())
        .unwrap();
    assert_eq!(audio.len(), 225_351);
    assert!(audio.channels[0].iter().all(|x| x.is_finite()));
}

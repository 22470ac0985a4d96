#!/usr/bin/env python3
"""Writes the spectrogram parity fixtures for models/tests/spectrogram_parity.rs.

Runs torchaudio with Riffusion's arguments on small synthetic inputs and stores inputs and
outputs as raw little-endian files plus manifest.json. Run by hand:

    python -m venv /work/venv-parity
    /work/venv-parity/bin/pip install -r tools/parity/spectrogram/requirements.txt
    /work/venv-parity/bin/python tools/parity/spectrogram/make_fixtures.py
"""

import json
import math
import pathlib

import numpy as np
import torch
import torchaudio

OUT = pathlib.Path(__file__).resolve().parents[3] / "models/tests/fixtures/spectrogram"

SR, HOP, WIN, NFFT, NMELS, FMIN, FMAX = 44100, 441, 4410, 17640, 512, 0.0, 10000.0
POWER, MAX_VALUE, ITERS, MOMENTUM = 0.25, 30e6, 32, 0.99
NFREQ = NFFT // 2 + 1
# Frames of the linear spectrum we store (a few, to keep the fixtures small).
LINEAR_FRAMES = [0, 20]
INT16_SCALE = 32768.0


def save(name, array, manifest, **extra):
    array = np.ascontiguousarray(array)
    (OUT / name).write_bytes(array.astype(array.dtype.newbyteorder("<")).tobytes())
    manifest[name] = {"dtype": str(array.dtype), "shape": list(array.shape), **extra}


def synthetic_image(width):
    """Smooth background, a few harmonic stripes and noise, as 8-bit pixels (row 0 = top)."""
    rng = np.random.default_rng(1234)
    rows = np.arange(NMELS)[:, None]
    cols = np.arange(width)[None, :]
    loud = 0.25 + 0.35 * (rows / NMELS) + 0.05 * np.sin(cols / 3.0)
    for band in (480, 440, 400, 300):
        loud = loud - 0.6 * np.exp(-((rows - band) ** 2) / 8.0) * (0.6 + 0.4 * np.cos(cols / 5.0 + band))
    loud = loud + 0.05 * rng.standard_normal((NMELS, width))
    return np.clip(loud * 255.0, 0, 255).astype(np.uint8)


def synthetic_audio(n):
    t = np.arange(n) / SR
    rng = np.random.default_rng(99)
    x = 0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.2 * np.sin(2 * np.pi * 1337.0 * t + 0.5)
    x += 0.1 * np.sin(2 * np.pi * 5000.0 * t) * np.exp(-t * 4)
    x += 0.02 * rng.standard_normal(n)
    return x.astype(np.float32)


def spectrogram_from_image(pixels):
    """Riffusion's spectrogram_from_image for a mono image given as its red channel."""
    data = pixels[::-1, :].astype(np.float32)
    data = 255 - data
    data = data / 255
    data = np.power(data, 1 / POWER)
    return data * MAX_VALUE


def image_from_spectrogram(mel):
    """Riffusion's image_from_spectrogram (mono), returned as the red channel."""
    max_value = np.max(mel)
    data = mel / max_value
    data = np.power(data, POWER)
    data = data * 255
    data = 255 - data
    data = data.astype(np.uint8)
    return data[::-1, :], float(max_value)


def main():
    torch.set_num_threads(max(1, torch.get_num_threads()))
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }

    # 1. Filterbank, stored sparsely (it is ~99% zeros), and its break frequencies.
    fb = torchaudio.functional.melscale_fbanks(NFREQ, FMIN, FMAX, NMELS, SR, None, "htk")
    nz = torch.nonzero(fb).numpy()
    save("fb_bins.u16", nz[:, 0].astype(np.uint16), manifest)
    save("fb_mels.u16", nz[:, 1].astype(np.uint16), manifest)
    save("fb_values.f32", fb[nz[:, 0], nz[:, 1]].numpy().astype(np.float32), manifest)
    m_max = 2595.0 * math.log10(1.0 + FMAX / 700.0)
    m_pts = torch.linspace(2595.0 * math.log10(1.0 + FMIN / 700.0), m_max, NMELS + 2)
    f_pts = 700.0 * (10.0 ** (m_pts / 2595.0) - 1.0)
    save("fb_f_pts.f32", f_pts.numpy().astype(np.float32), manifest)

    # 2. Image -> mel -> linear (InverseMelScale) -> Griffin-Lim with rand_init=False.
    width = 32
    pixels = synthetic_image(width)
    save("image_r.u8", pixels, manifest)
    mel = torch.from_numpy(spectrogram_from_image(pixels).copy())[None]
    inverse_mel = torchaudio.transforms.InverseMelScale(
        n_stft=NFREQ, n_mels=NMELS, sample_rate=SR, f_min=FMIN, f_max=FMAX, norm=None, mel_scale="htk"
    )
    linear = inverse_mel(mel)
    save("linear_frames.f32", linear[0][:4001, LINEAR_FRAMES].T.numpy(), manifest, frames=LINEAR_FRAMES)
    # Griffin-Lim is chaotic on this input (a 1e-5 relative change of the magnitudes moves
    # torch's own 32-iteration output by ~15%), so we also store early iterations, where
    # rounding has not been amplified yet.
    for iters in (0, 4, ITERS):
        gl = torchaudio.transforms.GriffinLim(
            n_fft=NFFT, n_iter=iters, win_length=WIN, hop_length=HOP, window_fn=torch.hann_window,
            power=1.0, momentum=MOMENTUM, length=None, rand_init=False,
        )
        wave = gl(linear)[0]
        save(f"griffin_lim_ones_{iters}.f32", wave.numpy().astype(np.float32), manifest, iters=iters)

    # 3. Audio -> image (Riffusion: STFT magnitude of the 16-bit-scale samples -> mel -> pixels).
    audio = synthetic_audio(13230)
    save("audio.f32", audio, manifest)
    spec = torchaudio.transforms.Spectrogram(
        n_fft=NFFT, hop_length=HOP, win_length=WIN, pad=0, window_fn=torch.hann_window, power=None,
        normalized=False, center=True, pad_mode="reflect", onesided=True,
    )
    mel_scale = torchaudio.transforms.MelScale(
        n_mels=NMELS, sample_rate=SR, f_min=FMIN, f_max=FMAX, n_stft=NFREQ, norm=None, mel_scale="htk"
    )
    mel_audio = mel_scale(torch.abs(spec(torch.from_numpy(audio * INT16_SCALE)[None])))[0].numpy()
    image, max_value = image_from_spectrogram(mel_audio)
    save("audio_image_r.u8", image, manifest, max_value=max_value)
    save("audio_mel_frames.f32", mel_audio[:, [0, 10, 20, 30]].T.copy(), manifest, frames=[0, 10, 20, 30])

    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total / 1024:.0f} KiB, to {OUT}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Times Riffusion's image -> audio path in torchaudio for models/benches/spectrogram.rs.

Usage: bench_torchaudio.py RED.u8 WIDTH [RUNS [WAVE_PREFIX SEEDS]], where RED.u8 is the image's
red channel as raw row-major bytes (512 rows, row 0 at the top). Prints `seconds=<best wall time
of RUNS>` and `cpu_seconds=<best CPU time>` (the latter is less disturbed by other load on the
machine). With WAVE_PREFIX, also writes Griffin-Lim's raw output (no normalisation) for seeds
0..SEEDS to WAVE_PREFIX<seed>.f32, for the round-trip comparison.
Uses as many torch threads as the machine has cores. Mirrors riffusion's
SpectrogramConverter.audio_from_spectrogram: spectrogram_from_image -> InverseMelScale
(torchaudio >= 2.1: relu(lstsq)) -> GriffinLim(32 iterations, momentum 0.99, rand_init).
"""

import os
import sys
import time

import numpy as np
import torch
import torchaudio

def load_red(path, width):
    return np.fromfile(path, dtype=np.uint8).reshape(512, width)


def mel_of(red):
    data = red[::-1, :].astype(np.float32)
    data = np.power((255 - data) / 255, 1 / 0.25) * 30e6
    return torch.from_numpy(data.copy())[None]


def main():
    path, width = sys.argv[1], int(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    wave_prefix = sys.argv[4] if len(sys.argv) > 4 else None
    seeds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    torch.set_num_threads(os.cpu_count() or 1)
    inverse_mel = torchaudio.transforms.InverseMelScale(
        n_stft=8821, n_mels=512, sample_rate=44100, f_min=0.0, f_max=10000.0, norm=None, mel_scale="htk"
    )
    griffin_lim = torchaudio.transforms.GriffinLim(
        n_fft=17640, n_iter=32, win_length=4410, hop_length=441, window_fn=torch.hann_window,
        power=1.0, momentum=0.99, length=None, rand_init=True,
    )
    red = load_red(path, width)
    best = float("inf")
    best_cpu = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        cpu_start = time.process_time()
        wave = griffin_lim(inverse_mel(mel_of(red)))
        wave = wave / wave.abs().max()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu_start)
    assert wave.shape[-1] == 441 * (red.shape[1] - 1)
    print(f"seconds={best:.4f}")
    print(f"cpu_seconds={best_cpu:.4f}")
    if wave_prefix:
        linear = inverse_mel(mel_of(red))
        for seed in range(seeds):
            torch.manual_seed(seed)
            raw = griffin_lim(linear)[0].numpy().astype("<f4")
            raw.tofile(f"{wave_prefix}{seed}.f32")


if __name__ == "__main__":
    main()

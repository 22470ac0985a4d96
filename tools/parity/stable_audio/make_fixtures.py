#!/usr/bin/env python3
"""Parity fixtures for the Stable Audio 3 DiT (run by hand, not in CI).

Builds a tiny random DiffusionTransformer with the reference code of
github.com/Stability-AI/stable-audio-3 at 636f906 (SA3_SRC points at a checkout), the same
architecture as the small-music model but narrow (128 wide, 2 layers, 2 heads of 64 so that
RoPE covers 32 dimensions as at full size, 8 memory tokens), and writes:

  dit/model_config.json   the published config layout ({"model": {"io_channels", "diffusion":
                          {"config": {...}}}}) with the tiny sizes
  dit/model.safetensors   every parameter under the published prefix `model.model.`
  dit_*.f32 + manifest.json  inputs and the reference's outputs: one forward with the inpaint
                          inputs (mask + masked latents) and a padding mask, one with zeros
                          as text-to-audio passes them

Versions: torch 2.7.1, einops 0.8.1, safetensors 0.8.0, numpy 2.1.3 (the venv of
docs/stable-audio-3-port.md). Every parameter is drawn again from N(0, 0.05²): the reference
zero-initialises output layers, which would make a parity test prove nothing.
"""
import json
import os
import pathlib
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.environ.get("SA3_SRC", "stable-audio-3"))
from stable_audio_3.models.dit import DiffusionTransformer  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[3] / "models" / "tests" / "fixtures" / "stable_audio"

CONFIG = {
    "io_channels": 16, "patch_size": 1, "embed_dim": 128, "depth": 2, "num_heads": 2,
    "cond_token_dim": 32, "global_cond_dim": 32, "local_add_cond_dim": 17,
    "global_cond_type": "adaLN", "timestep_features_type": "expo", "timestep_features_dim": 256,
    "num_memory_tokens": 8, "attn_kwargs": {"qk_norm": "rms"}, "norm_type": "rms_norm",
    "diffusion_objective": "rf_denoiser",
}


def f32(name, tensor, manifest):
    array = tensor.detach().to(torch.float32).contiguous().numpy()
    array.tofile(OUT / name)
    manifest[name] = {"shape": list(array.shape)}


def main():
    torch.manual_seed(0)
    dit = DiffusionTransformer(**CONFIG).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in dit.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
        # RMS norm gains near 1, as trained ones are, so activations keep their scale.
        for name, p in dit.named_parameters():
            if name.endswith("gamma"):
                p.add_(1.0)

    folder = OUT / "dit"
    folder.mkdir(parents=True, exist_ok=True)
    state = {f"model.model.{k}": v.contiguous() for k, v in dit.state_dict().items()}
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    config = {"model_type": "diffusion_cond", "sample_rate": 44100, "audio_channels": 2,
              "model": {"io_channels": CONFIG["io_channels"],
                        "diffusion": {"type": "dit", "diffusion_objective": "rf_denoiser",
                                      "config": CONFIG}}}
    (folder / "model_config.json").write_text(json.dumps(config, indent=2))

    b, length, tokens = 2, 20, 9
    x = torch.randn(b, 16, length, generator=g)
    t = torch.tensor([0.9, 0.35])
    context = torch.randn(b, tokens, 32, generator=g)
    global_embed = torch.randn(b, 32, generator=g)
    # Inpainting: the first 12 frames known (mask 1), their latents given; the rest generated.
    mask = torch.zeros(b, 1, length)
    mask[:, :, :12] = 1.0
    known = torch.randn(b, 16, length, generator=g)
    local = torch.cat([mask, known * mask], dim=1)
    # The second item is shorter: its last 3 frames are padding.
    padding = torch.ones(b, length, dtype=torch.bool)
    padding[1, 17:] = False

    manifest = {"config": CONFIG, "reference": "stable-audio-3 636f906", "torch": torch.__version__}
    with torch.no_grad():
        inpaint = dit(x, t, cross_attn_cond=context, global_embed=global_embed,
                      local_add_cond=local, padding_mask=padding)
        plain = dit(x, t, cross_attn_cond=context, global_embed=global_embed,
                    local_add_cond=torch.zeros_like(local))
    for name, tensor in [("dit_x.f32", x), ("dit_t.f32", t), ("dit_context.f32", context),
                         ("dit_global.f32", global_embed), ("dit_local.f32", local),
                         ("dit_padding.f32", padding.float()),
                         ("dit_out_inpaint.f32", inpaint), ("dit_out_plain.f32", plain)]:
        f32(name, tensor, manifest)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2))
    print("wrote", OUT, "output std", float(inpaint.std()), float(plain.std()))


if __name__ == "__main__":
    main()

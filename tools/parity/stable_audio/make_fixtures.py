#!/usr/bin/env python3
"""Parity fixtures for the Stable Audio 3 DiT (run by hand, not in CI).

Builds a tiny random DiffusionTransformer with the reference code of
github.com/Stability-AI/stable-audio-3 at 636f906 (SA3_SRC points at a checkout), the same
architecture as the small-music model but narrow (128 wide, 2 layers, 2 heads of 64 so that
RoPE covers 32 dimensions as at full size, 8 memory tokens, a 2x feed-forward), and writes:

  dit/model_config.json   the published config layout ({"model": {"io_channels", "diffusion":
                          {"config": {...}}}}) with the tiny sizes
  dit/model.safetensors   every parameter under the published prefix `model.model.`
  dit_*.f32 + manifest.json  inputs and the reference's outputs: one forward with the inpaint
                          inputs (mask + masked latents) and a padding mask, one with zeros
                          as text-to-audio passes them
  seconds_*.f32           the duration conditioner (NumberConditioner, expo features, 0-384 s;
                          its weights in dit/model.safetensors under conditioner.conditioners.
                          seconds_total.) on a few durations
  loop_*.f32              a whole 8-step ping-pong sampling loop (sample_flow_pingpong) on the
                          schedule build_schedule makes with the default LogSNR shift: the
                          schedule, the starting noise, the noise each step drew, the result

Versions: torch 2.7.1, einops 0.8.1, safetensors 0.8.0, numpy 2.1.3 (the venv of
docs/stable-audio-3-port.md). Every parameter is drawn again from N(0, 0.05²): the reference
zero-initialises output layers, which would make a parity test prove nothing.
"""
import json
import math
import os
import pathlib
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.environ.get("SA3_SRC", "stable-audio-3"))
from stable_audio_3.inference.distribution_shift import LogSNRShift  # noqa: E402
from stable_audio_3.inference.sampling import build_schedule, sample_flow_pingpong  # noqa: E402
from stable_audio_3.models.conditioners import NumberConditioner  # noqa: E402
from stable_audio_3.models.dit import DiffusionTransformer  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[3] / "models" / "tests" / "fixtures" / "stable_audio"

CONFIG = {
    "io_channels": 16, "patch_size": 1, "embed_dim": 128, "depth": 2, "num_heads": 2,
    "cond_token_dim": 64, "global_cond_dim": 64, "local_add_cond_dim": 17,
    "global_cond_type": "adaLN", "timestep_features_type": "expo", "timestep_features_dim": 256,
    "num_memory_tokens": 8, "attn_kwargs": {"qk_norm": "rms"}, "norm_type": "rms_norm",
    "diffusion_objective": "rf_denoiser",
    # A narrower feed-forward than the real 4x keeps the committed weights small.
    "ff_kwargs": {"mult": 2},
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

    seconds = NumberConditioner(64, min_val=0, max_val=384, fourier_features_type="expo").eval()
    with torch.no_grad():
        for p in seconds.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)

    folder = OUT / "dit"
    folder.mkdir(parents=True, exist_ok=True)
    state = {f"model.model.{k}": v.contiguous() for k, v in dit.state_dict().items()}
    state.update({f"conditioner.conditioners.seconds_total.{k}": v.contiguous()
                  for k, v in seconds.state_dict().items()})
    # The prompt conditioner's learnt padding embedding (its T5Gemma is a separate folder).
    state["conditioner.conditioners.prompt.padding_embedding"] = torch.randn(64, generator=g) * 0.5
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    config = {"model_type": "diffusion_cond", "sample_rate": 44100, "audio_channels": 2,
              "model": {"io_channels": CONFIG["io_channels"],
                        "diffusion": {"type": "dit", "diffusion_objective": "rf_denoiser",
                                      "config": CONFIG}}}
    (folder / "model_config.json").write_text(json.dumps(config, indent=2))

    b, length, tokens = 2, 20, 9
    x = torch.randn(b, 16, length, generator=g)
    t = torch.tensor([0.9, 0.35])
    context = torch.randn(b, tokens, 64, generator=g)
    global_embed = torch.randn(b, 64, generator=g)
    # Inpainting: the first 12 frames known (mask 1), their latents given; the rest generated.
    mask = torch.zeros(b, 1, length)
    mask[:, :, :12] = 1.0
    known = torch.randn(b, 16, length, generator=g)
    local = torch.cat([mask, known * mask], dim=1)
    # The second item is shorter: its last 3 frames are padding.
    padding = torch.ones(b, length, dtype=torch.bool)
    padding[1, 17:] = False

    # The other fixture scripts add their entries to the same manifest: keep them.
    manifest_path = OUT / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest.update({"config": CONFIG, "reference": "stable-audio-3 636f906", "torch": torch.__version__})
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
    durations = [0.0, 10.24, 60.0, 500.0]  # 500 s is clamped to 384
    with torch.no_grad():
        embeds, _ = seconds(durations, device="cpu")
    f32("seconds_in.f32", torch.tensor(durations), manifest)
    # The 128 frequencies of the expo features as torch computes them (its vectorised f32 exp
    # is not correctly rounded everywhere: the port's may differ by an ulp).
    ramp = torch.linspace(0, 1, 128, dtype=torch.float32)
    f32("fourier_frequencies.f32",
        torch.exp(ramp * (math.log(10000.0) - math.log(0.5)) + math.log(0.5)), manifest)
    f32("seconds_out.f32", embeds, manifest)

    # The sampling loop as generate() runs it: per-item schedules from the effective lengths,
    # the padding mask, fresh noise every step (recorded here so the port can replay it).
    schedule = build_schedule(8, 1.0, LogSNRShift(rate=0, anchor_logsnr=-6.2, logsnr_end=2.0),
                              effective_seq_len=torch.tensor([18.0, 17.0]))
    start = torch.randn(b, 16, length, generator=g)
    drawn = []
    real_randn_like = torch.randn_like

    def recorded_randn_like(x):
        noise = torch.randn(x.shape, generator=g, dtype=x.dtype)
        drawn.append(noise)
        return noise

    torch.randn_like = recorded_randn_like
    try:
        with torch.no_grad():
            result = sample_flow_pingpong(
                lambda x, t, **kw: dit(x, t, **kw), start.clone(), schedule, disable_tqdm=True,
                cross_attn_cond=context, global_embed=global_embed, local_add_cond=local,
                padding_mask=padding)
    finally:
        torch.randn_like = real_randn_like
    f32("loop_schedule.f32", schedule, manifest)
    f32("loop_start.f32", start, manifest)
    f32("loop_noise.f32", torch.stack(drawn), manifest)
    f32("loop_result.f32", result, manifest)
    manifest_path.write_text(json.dumps(manifest, indent=2))
    print("wrote", OUT, "output std", float(inpaint.std()), float(plain.std()))


if __name__ == "__main__":
    main()

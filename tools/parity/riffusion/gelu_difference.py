#!/usr/bin/env python3
"""How far candle's tanh-approximated GELU in GEGLU moves a full-size Stable Diffusion run.

Usage: gelu_difference.py FOLDER [STEPS], where FOLDER holds the full-size random components
written by `make_fixtures.py --bench`. Runs the same seeded DDIM loop (STEPS steps, default 25,
guidance 7.5 over a random prompt embedding and a random unconditional one) twice on the UNet:
once with diffusers' exact (erf) GELU in every GEGLU, once with the tanh approximation that
candle-transformers' UNet used, and prints the largest and mean absolute differences of the
final latents and of the VAE-decoded images. Issue 18 asks for this figure; our UNet now uses
the exact GELU, as diffusers does.
"""

import os
import sys

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from diffusers.models.activations import GEGLU


def run(unet, scheduler, latents, context, steps, guidance=7.5):
    scheduler.set_timesteps(steps)
    x = latents.clone()
    for t in scheduler.timesteps:
        noise = unet(torch.cat([x, x]), t, encoder_hidden_states=context).sample
        uncond, cond = noise.chunk(2)
        x = scheduler.step(uncond + guidance * (cond - uncond), t, x).prev_sample
    return x


def main():
    folder = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    latents = torch.randn(1, 4, 64, 64)
    context = torch.randn(2, 77, 768)
    with torch.inference_mode():
        unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet").eval()
        scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                  clip_sample=False, set_alpha_to_one=False, steps_offset=1)
        exact = run(unet, scheduler, latents, context, steps)
        GEGLU.gelu = lambda self, gate: F.gelu(gate, approximate="tanh")
        tanh = run(unet, scheduler, latents, context, steps)
        del unet
        vae = AutoencoderKL.from_pretrained(folder, subfolder="vae").eval()
        scale = vae.config.scaling_factor
        images = [vae.decode(x / scale).sample for x in (exact, tanh)]
    d = (exact - tanh).abs()
    print(f"{steps}-step DDIM, guidance 7.5: final latents max |exact - tanh| {d.max().item():.4e}, "
          f"mean {d.mean().item():.4e} (latents up to {exact.abs().max().item():.3f})")
    d = (images[0] - images[1]).abs()
    print(f"decoded images in [-1, 1]: max {d.max().item():.4e}, mean {d.mean().item():.4e} "
          f"(x 127.5 = {127.5 * d.max().item():.2f} and {127.5 * d.mean().item():.3f} pixel levels)")


if __name__ == "__main__":
    main()

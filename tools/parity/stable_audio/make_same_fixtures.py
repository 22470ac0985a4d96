#!/usr/bin/env python3
"""Parity fixtures for Stable Audio 3's SAME-S decoder (run by hand, not in CI).

A tiny random AudioAutoencoder built by the reference's create_autoencoder_from_config
(stable-audio-3 636f906; SA3_SRC points at a checkout), SAME-S's architecture with its
geometry kept (one transformer resampling stage of stride 16, chunks of 32 with the midpoint
shift, differential attention, DyT norms, heads of 64, the k=3 weight-normed mapping, stereo
patches) but small: 32-sample patches (SAME-S: 256; the mapping still narrows, 128 to 64), 128 wide (2 heads), 2 blocks, 16 latent
channels.
Writes, under models/tests/fixtures/stable_audio/:

  same/model_config.json, same/model.safetensors   the AE-only layout (SAME-S's own repo):
                                                   {"model": {"encoder", "decoder", ...}} and
                                                   keys without the pretransform.model. prefix
  same_latents.f32, same_audio.f32                 latents (2 rows, 6 frames) and the decoded
                                                   audio (AudioAutoencoder.decode), with the
                                                   decoder's noise off (mask_noise 0,
                                                   noise_regularize false) so it is deterministic
  same_encode_audio.f32, same_encoded.f32          5,000 samples of stereo (2 rows: padded to
                                                   whole patches, then to whole chunks) and
                                                   their latents (AudioAutoencoder.encode)
"""
import json
import os
import pathlib
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.environ.get("SA3_SRC", "stable-audio-3"))
from stable_audio_3.factory import create_autoencoder_from_config  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[3] / "models" / "tests" / "fixtures" / "stable_audio"
LATENT = 16
STAGE = dict(channels=64, c_mults=[2], strides=[16], latent_dim=LATENT, transformer_depths=[2],
             differential=True, dyt=True, dim_heads=64, variable_stride=True, chunk_size=32,
             chunk_midpoint_shift=True)
CONFIG = {
    "encoder": {"type": "same", "config": {"in_channels": 64, **STAGE, "mask_noise": 0.0}},
    "decoder": {"type": "same", "config": {"out_channels": 64, **STAGE, "sinusoidal_blocks": [0],
                                           "conv_mapping": True, "mask_noise": 0.0}},
    "bottleneck": {"type": "softnorm", "config": {"dim": LATENT, "noise_augment_dim": 0,
                                                  "noise_regularize": False, "auto_scale": True}},
    "pretransform": {"type": "patched", "config": {"patch_size": 32, "channels": 2}},
    "latent_dim": LATENT, "downsampling_ratio": 4096, "io_channels": 2,
}


def main():
    torch.manual_seed(0)
    ae = create_autoencoder_from_config(CONFIG, 44100).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in ae.named_parameters():
            if name.endswith(".alpha"):
                p.copy_(0.8 + 0.4 * torch.rand(p.shape, generator=g))
            elif name.endswith(".gamma"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("weight_g"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
        ae.bottleneck.running_std.fill_(1.7)
        # Drawn apart, after the decoder's draws, so the decode fixtures stay as they were.
        affine = torch.Generator().manual_seed(2)
        ae.bottleneck.scaling_factor.copy_(1.0 + 0.2 * torch.randn(ae.bottleneck.scaling_factor.shape, generator=affine))
        ae.bottleneck.bias.copy_(0.3 * torch.randn(ae.bottleneck.bias.shape, generator=affine))
    folder = OUT / "same"
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in ae.state_dict().items()
             if v.numel() > 0}
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    (folder / "model_config.json").write_text(json.dumps(
        {"model_type": "autoencoder", "sample_rate": 44100, "audio_channels": 2, "model": CONFIG}, indent=2))

    latents = torch.randn(2, LATENT, 6, generator=g)
    with torch.no_grad():
        audio = ae.decode(latents)
    sound = torch.randn(2, 2, 5000, generator=torch.Generator().manual_seed(3)) * 0.3
    with torch.no_grad():
        encoded = ae.encode(sound)
    manifest_path = OUT / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for name, tensor in [("same_latents.f32", latents), ("same_audio.f32", audio),
                         ("same_encode_audio.f32", sound), ("same_encoded.f32", encoded)]:
        array = tensor.float().contiguous().numpy()
        array.tofile(OUT / name)
        manifest[name] = {"shape": list(array.shape)}
    manifest_path.write_text(json.dumps(manifest, indent=2))
    print("audio", tuple(audio.shape), "std", float(audio.std()))
    print("encoded", tuple(encoded.shape), "std", float(encoded.std()))


if __name__ == "__main__":
    main()

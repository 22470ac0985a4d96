# Instantiate reference modules (stable_audio_3 @ 636f906) at full small-music size on the meta
# device and print state_dict keys + shapes. Config values are reconstructed (see NOTES.md §1).
import os, sys, torch
# The reference tree: git archive of github.com/Stability-AI/stable-audio-3 at 636f906.
sys.path.insert(0, os.environ.get("SA3_SRC", "stable-audio-3"))
from stable_audio_3.models.dit import DiffusionTransformer
from stable_audio_3.models.conditioners import NumberConditioner, Conditioner
from stable_audio_3.factory import create_autoencoder_from_config

dit_cfg = dict(io_channels=256, patch_size=1, embed_dim=1024, depth=20, num_heads=16,
               cond_token_dim=768, global_cond_dim=768, global_cond_type="adaLN",
               timestep_features_type="expo", timestep_features_dim=256,
               local_add_cond_dim=257, num_memory_tokens=64,
               attn_kwargs={"qk_norm": "rms"}, norm_type="rms_norm", diffusion_objective="rf_denoiser")
blk = dict(channels=128, c_mults=[6], strides=[16], latent_dim=256, transformer_depths=[6],
           checkpointing=False, differential=True, dyt=True, dim_heads=64, variable_stride=True,
           chunk_size=32, chunk_midpoint_shift=True)
ae_cfg = {"encoder": {"type": "same", "config": {"in_channels": 512, **blk, "mask_noise": 0.0}},
          "decoder": {"type": "same", "config": {"out_channels": 512, **blk, "sinusoidal_blocks": [0],
                                                 "conv_mapping": True, "mask_noise": 0.01}},
          "bottleneck": {"type": "softnorm", "config": {"dim": 256, "noise_augment_dim": 0,
                                                          "noise_regularize": True, "auto_scale": True, "freeze": True}},
          "pretransform": {"type": "patched", "config": {"patch_size": 256, "channels": 2}},
          "latent_dim": 256, "downsampling_ratio": 4096, "io_channels": 2}
with torch.device("meta"):
    dit = DiffusionTransformer(**dit_cfg)
    sec = NumberConditioner(768, min_val=0, max_val=384, fourier_features_type="expo")
    pad = Conditioner(768, 768, padding_mode="learned")
    ae = create_autoencoder_from_config(ae_cfg, 44100)
def dump(prefix, m, only_first_layer=None):
    n = 0; tot = 0
    for k, v in m.state_dict().items():
        n += 1; tot += v.numel()
        if only_first_layer and any(f".{p}." in k for p in only_first_layer):
            continue
        print(f"{prefix}{k}\t{tuple(v.shape)}")
    print(f"# {prefix}: {n} tensors, {tot/1e6:.3f} M elements")
mode = sys.argv[1] if len(sys.argv) > 1 else "short"
skip = None if mode == "full" else [f"layers.{i}" for i in range(1, 20)] + [f"transformers.{i}" for i in range(1, 6)]
dump("model.model.", dit, skip)
dump("conditioner.conditioners.seconds_total.", sec)
dump("conditioner.conditioners.prompt.", pad)
dump("pretransform.model.", ae, skip)

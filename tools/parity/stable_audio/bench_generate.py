#!/usr/bin/env python3
"""The reference side of the whole Stable Audio 3 generate bench
(models/benches/stable_audio_generate.rs): one text-to-audio generation of `rows` candidates of
`seconds` each (8 steps, SAME-S decode included), at full small-music size with random weights.

  bench_generate.py write DIR
      DIR/model_config.json     the published layout (docs/stable-audio-3-port.md, 1.2), the
                                prompt conditioner reading its encoder from DIR/t5gemma-b-b-ul2
      DIR/model.safetensors     DiT, conditioners and SAME-S under the published prefixes,
                                random weights from fixed seeds (what make_same_fixtures.py and
                                bench_dit.py draw: N(0, 0.02²) matrices, norm gains near 1)
      DIR/t5gemma-b-b-ul2/      a full-size T5Gemma b-b encoder (768 wide, 12 layers, vocabulary
                                256,000) as save_pretrained writes it, and a word-level
                                tokenizer.json (the real Gemma tokenizer is not at hand; only
                                the prompt's token count matters to the time)
  bench_generate.py time DIR [--seconds 60] [--rows 4] [--steps 8] [--threads 2]
      Loads DIR with the reference's loader and times StableAudioModel.generate (float32, CPU,
      one run after loading); prints torch_generate_s=... and torch_peak_rss_mib=..., then times
      the SAME-S decoder alone on one candidate's latents of that length (torch_same_decode_s).

Needs SA3_SRC (stable-audio-3 at 636f906), torch 2.7.1, transformers, tokenizers, safetensors.
"""
import argparse
import json
import math
import os
import pathlib
import resource
import sys
import time

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.environ.get("SA3_SRC", "stable-audio-3"))

PROMPT = "joyful, uplifting bouncy pop piano with handclaps, upbeat fast tempo, bright major key, 120 BPM"
TEXT_FOLDER = "t5gemma-b-b-ul2"

DIT = {
    "io_channels": 256, "patch_size": 1, "embed_dim": 1024, "depth": 20, "num_heads": 16,
    "cond_token_dim": 768, "global_cond_dim": 768, "local_add_cond_dim": 257,
    "global_cond_type": "adaLN", "timestep_features_type": "expo", "timestep_features_dim": 256,
    "num_memory_tokens": 64, "attn_kwargs": {"qk_norm": "rms"}, "norm_type": "rms_norm",
    "ff_kwargs": {"mult": 4},
}
SAME_STAGE = dict(channels=128, c_mults=[6], strides=[16], latent_dim=256, transformer_depths=[6],
                  differential=True, dyt=True, dim_heads=64, variable_stride=True, chunk_size=32,
                  chunk_midpoint_shift=True)


def model_config(folder):
    return {
        "model_type": "diffusion_cond", "sample_rate": 44100, "audio_channels": 2,
        "model": {
            "io_channels": 256,
            "diffusion": {
                "type": "dit", "diffusion_objective": "rf_denoiser",
                "cross_attention_cond_ids": ["prompt", "seconds_total"],
                "global_cond_ids": ["seconds_total"],
                "local_add_cond_ids": ["inpaint_mask", "inpaint_masked_input"],
                "mask_padding_attention": True, "use_effective_length_for_schedule": True,
                "config": DIT,
            },
            "conditioning": {"cond_dim": 768, "configs": [
                {"id": "prompt", "type": "t5gemma", "config": {
                    "max_length": 256, "padding_mode": "learned",
                    "model_path": str(folder / TEXT_FOLDER)}},
                {"id": "seconds_total", "type": "number", "config": {
                    "min_val": 0, "max_val": 384, "fourier_features_type": "expo"}},
            ]},
            "pretransform": {"type": "autoencoder", "config": {
                "latent_dim": 256, "downsampling_ratio": 4096, "io_channels": 2,
                "pretransform": {"type": "patched", "config": {"patch_size": 256, "channels": 2}},
                "encoder": {"type": "same", "config": {"in_channels": 512, **SAME_STAGE, "mask_noise": 0.0}},
                "decoder": {"type": "same", "config": {"out_channels": 512, **SAME_STAGE,
                                                       "sinusoidal_blocks": [0], "conv_mapping": True,
                                                       "mask_noise": 0.01}},
                "bottleneck": {"type": "softnorm", "config": {"dim": 256, "noise_augment_dim": 0,
                                                              "noise_regularize": True, "auto_scale": True}},
            }},
        },
    }


def write_text_encoder(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    module = T5GemmaModuleConfig(
        vocab_size=256000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
        num_attention_heads=12, num_key_value_heads=12, head_dim=64, query_pre_attn_scalar=64,
        attn_logit_softcapping=50.0, sliding_window=4096, rms_norm_eps=1e-6,
        hidden_activation="gelu_pytorch_tanh",
        layer_types=["sliding_attention", "full_attention"] * 6, max_position_embeddings=8192,
    )
    config = T5GemmaConfig(encoder=module, decoder=module, is_encoder_decoder=False)
    torch.manual_seed(2)
    encoder = T5GemmaEncoderModel(config).eval()
    text = folder / TEXT_FOLDER
    encoder.save_pretrained(text)
    words = sorted(set(PROMPT.replace(",", " ").split()))
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3}
    vocab.update({w: 4 + i for i, w in enumerate(words)})
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(text / "tokenizer.json"))
    (text / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>", "unk_token": "<unk>",
        "model_max_length": 256}))


def randomize(model):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".alpha"):
                p.copy_(0.8 + 0.4 * torch.rand(p.shape, generator=g))
            elif name.endswith("gamma") or name.endswith("weight_g"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)


def cmd_write(args):
    from stable_audio_3.factory import create_diffusion_cond_from_config

    folder = pathlib.Path(args.dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    write_text_encoder(folder)
    config = model_config(folder)
    (folder / "model_config.json").write_text(json.dumps(config, indent=2))
    torch.manual_seed(0)
    model = create_diffusion_cond_from_config(config).eval()
    randomize(model)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    print(f"wrote {folder}: {sum(v.numel() for v in state.values()) / 1e6:.0f} M parameters "
          f"(T5Gemma in {TEXT_FOLDER}/)", file=sys.stderr)


def cmd_time(args):
    from stable_audio_3.loading_utils import load_diffusion_cond
    from stable_audio_3.model import StableAudioModel

    torch.set_num_threads(args.threads)
    folder = pathlib.Path(args.dir).resolve()
    config = json.loads((folder / "model_config.json").read_text())
    model = load_diffusion_cond(config, str(folder / "model.safetensors"), device="cpu", model_half=False)
    sa3 = StableAudioModel(model, config, "cpu", False)
    start = time.perf_counter()
    with torch.inference_mode():
        audio = sa3.generate(prompt=[PROMPT] * args.rows, duration=args.seconds, steps=args.steps,
                             batch_size=args.rows, seed=0)
    seconds = time.perf_counter() - start
    assert audio.shape[0] == args.rows and torch.isfinite(audio).all()
    print(f"torch_generate_s={seconds:.3f}")
    # SAME-S alone: one candidate's latents of the same length (the seconds plus the 6 s of
    # headroom, in an even number of 4,096-sample frames), as generate decodes them.
    frames = 2 * math.ceil((args.seconds + 6.0) * 44100 / 4096 / 2)
    latents = torch.randn(1, 256, frames, generator=torch.Generator().manual_seed(3))
    start = time.perf_counter()
    with torch.inference_mode():
        model.pretransform.decode(latents)
    print(f"torch_same_decode_s={time.perf_counter() - start:.3f}")
    print(f"torch_peak_rss_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("dir")
    w.set_defaults(run=cmd_write)
    t = sub.add_parser("time")
    t.add_argument("dir")
    t.add_argument("--seconds", type=float, default=60.0)
    t.add_argument("--rows", type=int, default=4)
    t.add_argument("--steps", type=int, default=8)
    t.add_argument("--threads", type=int, default=2)
    t.set_defaults(run=cmd_time)
    args = ap.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()

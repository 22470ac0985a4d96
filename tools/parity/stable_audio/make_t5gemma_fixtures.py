#!/usr/bin/env python3
"""Parity fixtures for the T5Gemma text encoder of Stable Audio 3 (run by hand, not in CI).

A tiny random T5GemmaEncoderModel (transformers 5.25.0, eager attention) of the b-b
architecture's kind, narrow: 64 wide, 2 layers (one sliding, one full, as the real model
alternates them), 2 heads of 32, GeGLU 96, vocabulary 400. Writes, under
models/tests/fixtures/stable_audio/:

  t5gemma/config.json, t5gemma/model.safetensors   as save_pretrained writes them
  t5_ids.i32, t5_mask.i32                          two prompts of 12 tokens, the second padded after 7
  t5_out_softcap.f32                               last_hidden_state with the logit soft-cap (50), as
                                                   transformers >= 5.25 runs it (eager attention)
  t5_out_plain.f32                                 the same without the cap, as the reference's
                                                   locked transformers 5.8.0 runs it (SDPA drops it)
"""
import json
import pathlib

import numpy as np
import torch
from transformers import T5GemmaConfig, T5GemmaEncoderModel
from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

OUT = pathlib.Path(__file__).resolve().parents[3] / "models" / "tests" / "fixtures" / "stable_audio"


def main():
    torch.manual_seed(0)
    module = T5GemmaModuleConfig(
        vocab_size=400, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, head_dim=32, query_pre_attn_scalar=32,
        attn_logit_softcapping=50.0, sliding_window=4096, rms_norm_eps=1e-6,
        hidden_activation="gelu_pytorch_tanh", layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=512,
    )
    config = T5GemmaConfig(encoder=module, decoder=module, is_encoder_decoder=False)
    config._attn_implementation = "eager"
    model = T5GemmaEncoderModel(config).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.1 if "norm" in name else 0.08
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    folder = OUT / "t5gemma"
    model.save_pretrained(folder)

    ids = torch.randint(4, 400, (2, 12), generator=g)
    mask = torch.ones(2, 12, dtype=torch.long)
    mask[1, 7:] = 0
    ids[1, 7:] = 0  # the pad id
    manifest_path = OUT / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    with torch.no_grad():
        capped = model(input_ids=ids, attention_mask=mask).last_hidden_state
        for layer in model.encoder.layers:
            layer.self_attn.attn_logit_softcapping = None
        plain = model(input_ids=ids, attention_mask=mask).last_hidden_state
    for name, array in [("t5_ids.i32", ids.int().numpy()), ("t5_mask.i32", mask.int().numpy()),
                        ("t5_out_softcap.f32", capped.float().numpy()),
                        ("t5_out_plain.f32", plain.float().numpy())]:
        array.tofile(OUT / name)
        manifest[name] = {"shape": list(array.shape)}
    manifest["t5gemma"] = {"transformers": __import__("transformers").__version__,
                           "attention": model.config._attn_implementation}
    manifest_path.write_text(json.dumps(manifest, indent=2))
    print("capped vs plain max diff", float((capped - plain).abs().max()))


if __name__ == "__main__":
    main()

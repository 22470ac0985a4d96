#!/usr/bin/env python3
"""PyTorch side of the GPU benchmark: diffusers and transformers on the work the Rust bench times.

  reference.py weights DIR --bpe models/tests/fixtures/riffusion/bpe_simple_vocab_16e6.txt.gz
      DIR/sd15/              Stable Diffusion 1.5, diffusers layout, random float16 safetensors
      DIR/whisper-large-v3/  Whisper large-v3, transformers layout, random float16 safetensors
  reference.py weights DIR --models sd15 (or whisper): one of the two
  reference.py bench DIR [--parts attention,unet,vae,whisper,generate] [--device cuda] [--runs 5]
      [--seconds 60] (the generate part's music: ceil(seconds / 5.12) clips)

No network at run time. The weights are drawn on the CPU from fixed seeds, so one torch version
writes the same files on any machine; their scale is the libraries' default initialisation,
which keeps every activation well inside float16's range.

bench runs float16 on CUDA (float32 with --device cpu, for smoke tests), SDPA attention, TF32
matmuls allowed, under torch.inference_mode. Each measurement is the median of --runs runs after
one warm-up, with the device synchronised around every run, printed as one `key=value` line on
stdout (seconds unless the key says otherwise); notes go to stderr. On CUDA each part also prints
its peak memory twice: the allocator's (max_memory_allocated) and the driver's count of used
memory sampled every 5 ms (context and cache included, as gpu_bench's first figure), and its
model is freed before the next part loads.
"""

import argparse
import gc
import json
import math
import pathlib
import statistics
import sys
import threading
import time

import numpy as np
import torch
from diffusers import (
    AutoencoderKL,
    DPMSolverMultistepScheduler,
    PNDMScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from diffusers.models.attention_processor import AttnProcessor2_0
from safetensors.torch import save_file
from transformers import CLIPTokenizer, WhisperConfig, WhisperForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput

REPO = pathlib.Path(__file__).resolve().parents[2]
# The parity script already knows SD 1.5's text encoder, tokenizer files and riffusion's schedule.
sys.path.insert(0, str(REPO / "tools" / "parity" / "riffusion"))
from make_fixtures import SCHEDULER_CONFIG, clip_vocab, sd15_text_encoder, write_tokenizer_files  # noqa: E402

PARTS = ("attention", "unet", "vae", "whisper", "generate")
LATENT = (4, 64, 64)  # one 512x512 image
TEXT_STATES = (77, 768)
TIMESTEP = 481
MEL = (1, 128, 3000)  # one 30 s window of large-v3's 128 mel bins
# 100 decoder tokens: SOT, <|en|>, <|transcribe|> of large-v3's vocabulary in one step, then 97
# single-token steps of fixed ids (220..316), so the work does not depend on the random weights.
WHISPER_PROMPT = [50258, 50259, 50360]
WHISPER_TOKENS = [220 + i for i in range(97)]
WHISPER_LENGTH = len(WHISPER_PROMPT) + len(WHISPER_TOKENS)
GENERATE_SECONDS = 60
CLIP_SECONDS = 5.12
# gpu_bench's attention shapes: (name, leading dims, tokens, depth, gain of q = k).
ATTENTION_SHAPES = [("unet", (2, 8), 4096, 40, 48.0), ("vae", (1, 1), 4096, 512, 12.0)]
SPECIAL_TOKENS = {
    "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
    "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
}
PROMPTS = [
    "calm piano with soft strings",
    "tense cinematic drums, low brass",
    "upbeat acoustic guitar, hand claps",
    "sad cello solo, slow tempo",
]


def emit(key, value):
    print(f"{key}={value:.6f}", flush=True)


def note(text):
    print(text, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# weights


def write_sd15(folder, bpe):
    torch.manual_seed(0)
    vocab, merges = clip_vocab(bpe, 10**9)
    write_tokenizer_files(folder / "tokenizer", vocab, merges)
    tokenizer = CLIPTokenizer(
        str(folder / "tokenizer" / "vocab.json"), str(folder / "tokenizer" / "merges.txt"),
        pad_token="<|endoftext|>", model_max_length=77,
    )
    # diffusers' UNet defaults are SD 1.5's, but for the head count and the text width.
    unet = UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8, sample_size=64)
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=512,
    )
    text_encoder = sd15_text_encoder()
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=PNDMScheduler(**SCHEDULER_CONFIG), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(torch.float16)
    pipe.save_pretrained(folder, safe_serialization=True)
    # transformers 5 saves a CLIPTextModel made from scratch without the `text_model.` prefix
    # that every SD 1.5 checkpoint has (and the Rust loader reads); it strips it when loading.
    state = {f"text_model.{k}": v.contiguous() for k, v in text_encoder.state_dict().items()}
    save_file(state, folder / "text_encoder" / "model.safetensors", metadata={"format": "pt"})
    # Riffusion's tokenizer folder is vocab.json + merges.txt + special_tokens_map.json (the Rust
    # loader would prefer a tokenizer.json), and its scheduler file predates timestep_spacing.
    (folder / "tokenizer" / "tokenizer.json").unlink(missing_ok=True)
    write_tokenizer_files(folder / "tokenizer", vocab, merges)
    (folder / "tokenizer" / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS, indent=2))
    scheduler = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", **SCHEDULER_CONFIG}
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler, indent=2))


def whisper_large_v3_config():
    """The shapes and special ids of openai/whisper-large-v3's config.json."""
    return WhisperConfig(
        vocab_size=51866, num_mel_bins=128, d_model=1280,
        encoder_layers=32, decoder_layers=32, encoder_attention_heads=20, decoder_attention_heads=20,
        encoder_ffn_dim=5120, decoder_ffn_dim=5120,
        max_source_positions=1500, max_target_positions=448,
        bos_token_id=50257, eos_token_id=50257, pad_token_id=50256, decoder_start_token_id=50258,
        begin_suppress_tokens=[220, 50257],
    )


def write_whisper(folder):
    torch.manual_seed(1)
    model = WhisperForConditionalGeneration(whisper_large_v3_config())
    model.to(torch.float16)
    # transformers 5 always writes safetensors (model.safetensors; the tied proj_out is left out).
    model.save_pretrained(folder)


def folder_mib(folder):
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def cmd_weights(args):
    root = pathlib.Path(args.dir)
    writers = {"sd15": ("sd15", lambda f: write_sd15(f, args.bpe)), "whisper": ("whisper-large-v3", write_whisper)}
    for model in args.models.split(","):
        if model not in writers:
            raise SystemExit(f"unknown model {model}; choose from {','.join(writers)}")
        if model == "sd15" and not args.bpe:
            raise SystemExit("--bpe is needed to write sd15's tokenizer")
        name, write = writers[model]
        start = time.perf_counter()
        write(root / name)
        note(f"wrote {root / name} ({folder_mib(root / name):.0f} MiB) in {time.perf_counter() - start:.0f} s")


# ----------------------------------------------------------------------------------------------
# bench


class Bench:
    """The device, dtype and timing rules shared by every part."""

    def __init__(self, root, device, runs):
        self.root = pathlib.Path(root)
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.dtype = torch.float16 if self.cuda else torch.float32
        self.runs = runs

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def randn(self, *shape, seed):
        # Drawn on the CPU so that inputs do not depend on the device's generator.
        g = torch.Generator().manual_seed(seed)
        return torch.randn(*shape, generator=g).to(self.device, self.dtype)

    def median_s(self, fn):
        """Median seconds of `fn` over the runs after one warm-up; also the warm-up's output."""
        out = fn()
        self.sync()
        times = []
        for _ in range(self.runs):
            start = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - start)
        return statistics.median(times), out


def check_finite(what, tensor):
    # Random weights must stay in float16's range, or the timings would be of NaN arithmetic.
    if not torch.isfinite(tensor).all():
        raise SystemExit(f"{what}: non-finite output, the random weights are badly scaled")


def load_unet(b):
    unet = UNet2DConditionModel.from_pretrained(b.root / "sd15", subfolder="unet", dtype=b.dtype)
    unet.set_attn_processor(AttnProcessor2_0())  # SDPA, diffusers' default on torch 2
    return unet.to(b.device).eval()


def bench_unet(b, rows_list):
    unet = load_unet(b)
    timestep = torch.tensor(TIMESTEP, device=b.device)
    for rows in rows_list:
        latents = b.randn(rows, *LATENT, seed=rows)
        text = b.randn(rows, *TEXT_STATES, seed=100 + rows)
        step_s, out = b.median_s(lambda: unet(latents, timestep, encoder_hidden_states=text).sample)
        check_finite(f"unet rows {rows}", out)
        emit(f"torch_unet_rows{rows}_step_s", step_s)
        emit(f"torch_unet_rows{rows}_steps_per_s", 1.0 / step_s)


def bench_vae(b):
    vae = AutoencoderKL.from_pretrained(b.root / "sd15", subfolder="vae", dtype=b.dtype)
    vae.set_attn_processor(AttnProcessor2_0())
    vae = vae.to(b.device).eval()
    for count in (1, 4):
        latents = b.randn(count, *LATENT, seed=count)
        decode_s, out = b.median_s(lambda: vae.decode(latents).sample)
        check_finite(f"vae decode {count}", out)
        emit(f"torch_vae_decode{count}_s", decode_s)


def bench_whisper(b):
    model = WhisperForConditionalGeneration.from_pretrained(
        b.root / "whisper-large-v3", dtype=b.dtype, attn_implementation="sdpa"
    ).to(b.device).eval()
    mel = torch.from_numpy(np.random.default_rng(0).uniform(-1.0, 1.0, MEL).astype(np.float32))
    mel = mel.to(b.device, b.dtype)
    encoder_s, features = b.median_s(lambda: model.model.encoder(mel).last_hidden_state)
    check_finite("whisper encoder", features)
    emit("torch_whisper_encoder_s", encoder_s)

    # Token ids live on the device before timing, so the loop makes no host-to-device copies.
    prompt = torch.tensor([WHISPER_PROMPT], device=b.device)
    steps = torch.tensor([WHISPER_TOKENS], device=b.device)
    encoded = BaseModelOutput(last_hidden_state=features)

    def decode():
        # The first step feeds the prompt and fills the cross-attention cache; then one token each.
        # Logits over the whole vocabulary every step, as the Rust decoder computes them.
        out = model(encoder_outputs=encoded, decoder_input_ids=prompt, use_cache=True)
        for i in range(len(WHISPER_TOKENS)):
            out = model(
                encoder_outputs=encoded, decoder_input_ids=steps[:, i : i + 1],
                past_key_values=out.past_key_values, use_cache=True,
            )
        return out

    decode_s, out = b.median_s(decode)
    check_finite("whisper decoder", out.logits)
    assert out.past_key_values.get_seq_length() == WHISPER_LENGTH
    emit(f"torch_whisper_decode{WHISPER_LENGTH}_s", decode_s)
    emit("torch_whisper_rtf", 30.0 / (encoder_s + decode_s))


class DriverPeak:
    """The most memory the driver counts as used while the part runs, sampled every 5 ms."""
    def __init__(self, device):
        self.device, self.peak, self.done = device, 0, threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
    def sample(self):
        while not self.done.is_set():
            free, total = torch.cuda.mem_get_info(self.device)
            self.peak = max(self.peak, total - free)
            time.sleep(0.005)
    def finish(self):
        self.done.set()
        self.thread.join()
        return self.peak
def bench_attention(b):
    """SDPA at gpu_bench's shapes, q = k = gain x unit noise, against float32 on the CPU."""
    import torch.nn.functional as F
    for name, lead, tokens, depth, gain in ATTENTION_SHAPES:
        g = torch.Generator().manual_seed(3)
        qk = torch.randn(*lead, tokens, depth, generator=g) * gain
        v = torch.randn(*lead, tokens, depth, generator=g)
        exact = F.scaled_dot_product_attention(qk, qk, v)
        q, vd = qk.to(b.device, b.dtype), v.to(b.device, b.dtype)
        seconds, out = b.median_s(lambda: F.scaled_dot_product_attention(q, q, vd))
        out = out.float().cpu()
        finite = torch.isfinite(out)
        emit(f"torch_attention_{name}_s", seconds)
        emit(f"torch_attention_{name}_max_error", (out - exact).abs()[finite].max().item())
        emit(f"torch_attention_{name}_non_finite", (~finite).sum().item())
def bench_generate(b, clips, steps):
    """Four candidates of clips x 5.12 s of music: one 4-prompt txt2img call plus a VAE decode
    per clip, after one warm-up clip."""
    pipe = StableDiffusionPipeline.from_pretrained(
        b.root / "sd15", dtype=b.dtype, safety_checker=None, requires_safety_checker=False
    )
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.unet.set_attn_processor(AttnProcessor2_0())
    pipe.vae.set_attn_processor(AttnProcessor2_0())
    pipe = pipe.to(b.device)
    pipe.set_progress_bar_config(disable=True)

    def clip(seed):
        latents = pipe(
            PROMPTS, num_inference_steps=steps, guidance_scale=7.0, height=512, width=512,
            output_type="latent", generator=torch.Generator(b.device).manual_seed(seed),
        ).images
        return pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample

    check_finite("generate warm-up", clip(clips))  # a seed no timed clip uses
    b.sync()
    start = time.perf_counter()
    for seed in range(clips):
        clip(seed)
    b.sync()
    emit("torch_generate_s", time.perf_counter() - start)
    emit("torch_generate_clips", clips)
    emit("torch_generate_seconds", clips * CLIP_SECONDS)


def cmd_bench(args):
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown parts {unknown}; choose from {','.join(PARTS)}")
    b = Bench(args.dir, args.device, args.runs)
    if b.cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        note(f"{torch.cuda.get_device_name(b.device)}, CUDA {torch.version.cuda}")
    note(f"torch {torch.__version__}, {b.dtype}, {b.runs} runs after one warm-up")
    rows = [int(r) for r in args.rows.split(",")]
    clips = math.ceil(args.seconds / CLIP_SECONDS - 1e-9)
    jobs = {
        "attention": lambda: bench_attention(b),
        "unet": lambda: bench_unet(b, rows),
        "vae": lambda: bench_vae(b),
        "whisper": lambda: bench_whisper(b),
        "generate": lambda: bench_generate(b, clips, args.steps),
    }
    with torch.inference_mode():
        for part in parts:
            if b.cuda:
                torch.cuda.reset_peak_memory_stats(b.device)
                driver = DriverPeak(b.device)
            jobs[part]()
            # The part's model went out of scope with its function: collect it before the next.
            gc.collect()
            if b.cuda:
                emit(f"torch_peak_alloc_{part}_mib", torch.cuda.max_memory_allocated(b.device) / 2**20)
                emit(f"torch_peak_vram_{part}_mib", driver.finish() / 2**20)
                torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    w = sub.add_parser("weights", help="write random-weight SD 1.5 and Whisper large-v3 to DIR")
    w.add_argument("dir")
    w.add_argument("--bpe", help="CLIP's bpe_simple_vocab_16e6.txt.gz (for sd15)")
    w.add_argument("--models", default="sd15,whisper", help="comma-separated, of sd15,whisper")
    w.set_defaults(run=cmd_weights)
    bp = sub.add_parser("bench", help="time the parts on the weights in DIR")
    bp.add_argument("dir")
    bp.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {','.join(PARTS)}")
    bp.add_argument("--device", default="cuda", help="cuda (float16) or cpu (float32, smoke tests)")
    bp.add_argument("--runs", type=int, default=5)
    bp.add_argument("--rows", default="2,8", help="UNet batch sizes")
    bp.add_argument("--seconds", type=float, default=GENERATE_SECONDS, help="music the generate part makes")
    bp.add_argument("--steps", type=int, default=25, help="diffusion steps of the generate part")
    bp.set_defaults(run=cmd_bench)
    args = ap.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()

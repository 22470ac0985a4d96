"""Parity fixtures for the Riffusion stage (models/src/riffusion/).

Builds tiny random Stable Diffusion 1.5 components of the real architecture (CLIP text encoder,
UNet2DConditionModel, AutoencoderKL), saves them in diffusers layout as PyTorch .bin (the layout
of riffusion/riffusion-model-v1) and as safetensors, runs diffusers/transformers on fixed inputs
and writes the expected outputs to models/tests/fixtures/riffusion/:

  tiny-bin/                       the tiny pipeline, float16 PyTorch .bin files (the Rust
                                  tests also write it as safetensors)
  bpe_simple_vocab_16e6.txt.gz    CLIP's real BPE merges (from open_clip_torch, MIT licence)
  *.f32                           raw little-endian float32 arrays
  manifest.json                   shapes, file names, prompts, token ids, timesteps

The tiny tokenizer uses the first TINY_MERGES merges of the real list; the ids of the real
49408-token vocabulary are also stored, so the Rust test can check its build from the gz.

With --bench DIR it instead writes full-size SD 1.5 components with random weights (diffusers
layout, safetensors) to DIR for models/benches/riffusion.rs.

Run by hand with the pinned requirements:
  pip download open_clip_torch --no-deps   (for the merges; pass the .gz with --bpe)
  python make_fixtures.py --bpe .../open_clip/bpe_simple_vocab_16e6.txt.gz
"""

import argparse
import gzip
import json
import pathlib
import shutil
import tempfile

import numpy as np
import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    PNDMScheduler,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
import diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img as img2img_module
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

OUT = pathlib.Path(__file__).resolve().parents[3] / "models" / "tests" / "fixtures" / "riffusion"
TINY_MERGES = 1000

PROMPTS = ["jazzy rapping from paris", "Acoustic folk violin jam, slow tempo!"]
NEGATIVE = "vocals, low quality"
# The scheduler config of riffusion/riffusion-model-v1 (a PNDM config, as in SD 1.5).
SCHEDULER_CONFIG = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def clip_vocab(bpe_gz, n_merges):
    """vocab.json and merges.txt contents, as open_clip/CLIP build them."""
    lines = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1][:n_merges]
    symbols = bytes_to_unicode()
    vocab = symbols + [s + "</w>" for s in symbols]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    merges_txt = "#version: 0.2\n" + "\n".join(merges) + "\n"
    return {t: i for i, t in enumerate(vocab)}, merges_txt


def write_tokenizer_files(folder, vocab, merges_txt):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text(merges_txt)


def save(name, array, manifest):
    array = np.ascontiguousarray(array.detach().float().cpu().numpy() if torch.is_tensor(array) else array, dtype="<f4")
    (OUT / f"{name}.f32").write_bytes(array.tobytes())
    manifest["arrays"][name] = list(array.shape)


def randomize(module, scale):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * scale)


def tiny_components(vocab_size):
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=16,
            intermediate_size=24,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            projection_dim=16,
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=vocab_size - 1,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        # Attention only at half resolution (and in the mid block): full-resolution attention over
        # 64x64 latents makes a 512x512 test image cost seconds per step even this small.
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(32, 32, 32),
        layers_per_block=1,
        cross_attention_dim=16,
        attention_head_dim=2,
        # candle's DownBlock2D/UpBlock2D resnets always use 32 groups, as SD 1.5 does.
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(4, 4, 8, 8),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=2,
        sample_size=64,
    )
    # Default inits leave some outputs near zero; larger random weights exercise every path.
    for module in (unet, vae):
        with torch.no_grad():
            for name, p in module.named_parameters():
                if "norm" in name and name.endswith("weight"):
                    p.copy_(1.0 + 0.1 * torch.randn_like(p))
                else:
                    p.copy_(torch.randn_like(p) * 0.2)
    # Weights are stored as float16 to keep the fixtures small; round them now so that the
    # float32 references are computed with exactly the stored values.
    for module in (text_encoder, unet, vae):
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(p.half().float())
    return text_encoder.eval(), unet.eval(), vae.eval()


def make_tiny(bpe_gz):
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    shutil.copy(bpe_gz, OUT / "bpe_simple_vocab_16e6.txt.gz")
    torch.manual_seed(1234)
    manifest = {"arrays": {}, "prompts": PROMPTS, "negative_prompt": NEGATIVE}

    # Tokenizers: the real vocabulary (ids only) and the tiny one (files for the tiny model).
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        full_vocab, full_merges = clip_vocab(bpe_gz, 10**9)
        assert len(full_vocab) == 49408
        write_tokenizer_files(tmp / "full", full_vocab, full_merges)
        full = CLIPTokenizer(str(tmp / "full" / "vocab.json"), str(tmp / "full" / "merges.txt"), pad_token="<|endoftext|>", model_max_length=77)
        texts = PROMPTS + [NEGATIVE, "", "Ünïcode café — 120 BPM, lo-fi hip-hop's groove", "word " * 100]
        manifest["tokenizer_texts"] = texts
        manifest["full_vocab_ids"] = [full(t, padding="max_length", max_length=77, truncation=True).input_ids for t in texts]

        tiny_vocab, tiny_merges = clip_vocab(bpe_gz, TINY_MERGES)
        write_tokenizer_files(tmp / "tiny", tiny_vocab, tiny_merges)
        tokenizer = CLIPTokenizer(str(tmp / "tiny" / "vocab.json"), str(tmp / "tiny" / "merges.txt"), pad_token="<|endoftext|>", model_max_length=77)
        manifest["tiny_vocab_ids"] = [tokenizer(t, padding="max_length", max_length=77, truncation=True).input_ids for t in texts]

    text_encoder, unet, vae = tiny_components(len(tiny_vocab))
    scheduler = PNDMScheduler(**SCHEDULER_CONFIG)
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    # Only the .bin layout is committed (the real repo's); the Rust tests write the safetensors
    # layout from it, which keeps the fixtures under 3 MB.
    pipe.to(torch.float16)
    pipe.save_pretrained(OUT / "tiny-bin", safe_serialization=False)
    pipe.to(torch.float32)
    # diffusers writes every default; riffusion's file (diffusers 0.x) has no timestep_spacing,
    # so each scheduler uses its own default (DDIM: leading, DPM-Solver: linspace). Mirror it.
    for folder in ("tiny-bin",):
        config = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", **SCHEDULER_CONFIG}
        (OUT / folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(config, indent=2))

    with torch.no_grad():
        # CLIP last hidden states for the two prompts.
        ids = torch.tensor(manifest["tiny_vocab_ids"][:2])
        save("clip_hidden", text_encoder(ids)[0], manifest)
        # UNet noise prediction: fixed latents (batch 2, 8x16), timestep, embeddings.
        latents = torch.randn(2, 4, 8, 16)
        embeddings = torch.randn(2, 77, 16)
        save("unet_latents", latents, manifest)
        save("unet_embeddings", embeddings, manifest)
        manifest["unet_timestep"] = 481
        save("unet_noise", unet(latents, 481, encoder_hidden_states=embeddings).sample, manifest)
        # VAE decode and encode (mean of the latent distribution).
        vae_latents = torch.randn(1, 4, 4, 8)
        save("vae_latents", vae_latents, manifest)
        save("vae_decoded", vae.decode(vae_latents).sample, manifest)
        image = torch.rand(1, 3, 32, 64) * 2 - 1
        save("vae_image", image, manifest)
        save("vae_encoded_mean", vae.encode(image).latent_dist.mean, manifest)

    # Scheduler timesteps from the riffusion config.
    ddim = DDIMScheduler.from_pretrained(OUT / "tiny-bin", subfolder="scheduler", clip_sample=False)
    dpm = DPMSolverMultistepScheduler.from_pretrained(
        OUT / "tiny-bin", subfolder="scheduler", algorithm_type="dpmsolver++", solver_order=2
    )
    manifest["timesteps"] = {}
    manifest["scheduler_spacing"] = {"ddim": ddim.config.timestep_spacing, "dpmpp2m": dpm.config.timestep_spacing}
    for name, sched in (("ddim", ddim), ("dpmpp2m", dpm)):
        for steps in (10, 25, 50):
            sched.set_timesteps(steps)
            manifest["timesteps"][f"{name}_{steps}"] = [int(t) for t in sched.timesteps]

    # Full deterministic loops from fixed initial noise, txt2img with CFG (2 prompts, batch 2).
    init_noise = torch.randn(2, 4, 8, 16)
    save("loop_noise", init_noise, manifest)
    manifest["loop"] = {"steps": 10, "guidance_scale": 7.0, "height": 64, "width": 128}
    # Our UNet uses the exact GELU in GEGLU, as diffusers does: the loops compare with diffusers
    # as shipped (gelu_difference.py measures what candle's approximate GELU changed).
    for name, sched in (("ddim", ddim), ("dpmpp2m", dpm)):
        pipe.scheduler = sched
        out = pipe(
            PROMPTS, negative_prompt=[NEGATIVE] * 2, num_inference_steps=10, guidance_scale=7.0,
            height=64, width=128, latents=init_noise.clone(), output_type="latent",
        ).images
        save(f"loop_{name}_latents", out, manifest)

    # img2img from a fixed image with strength 0.6: noise fixed, VAE mean (not a sample).
    init_image = torch.rand(1, 3, 64, 128) * 2 - 1
    img_noise = torch.randn(1, 4, 8, 16)
    save("img2img_image", init_image, manifest)
    save("img2img_noise", img_noise, manifest)
    img2img_module.randn_tensor = lambda shape, generator=None, device=None, dtype=None, **kw: img_noise.clone().to(dtype)
    original_retrieve = img2img_module.retrieve_latents
    img2img_module.retrieve_latents = lambda out, generator=None, sample_mode="sample": original_retrieve(out, generator, "argmax")
    i2i = StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=ddim,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    manifest["img2img"] = {"steps": 10, "strength": 0.6, "guidance_scale": 7.0}
    out = i2i(
        PROMPTS[0], image=init_image / 2 + 0.5, strength=0.6, num_inference_steps=10, guidance_scale=7.0,
        negative_prompt=NEGATIVE, output_type="latent",
    ).images
    save("img2img_latents", out, manifest)

    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1))
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


def sd15_text_encoder():
    """CLIP ViT-L/14's text tower, as SD 1.5's text_encoder/config.json has it."""
    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
            num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
            projection_dim=768,
        )
    )


def make_bench(folder, bpe_gz):
    folder = pathlib.Path(folder)
    torch.manual_seed(0)
    vocab, merges = clip_vocab(bpe_gz, 10**9)
    with tempfile.TemporaryDirectory() as tmp:
        write_tokenizer_files(pathlib.Path(tmp), vocab, merges)
        tokenizer = CLIPTokenizer(str(pathlib.Path(tmp) / "vocab.json"), str(pathlib.Path(tmp) / "merges.txt"), pad_token="<|endoftext|>", model_max_length=77)
    text_encoder = sd15_text_encoder()
    unet = UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8, sample_size=64)
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=512,
    )
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=PNDMScheduler(**SCHEDULER_CONFIG), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    print(f"wrote {folder}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bpe", required=True, help="open_clip/bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument("--bench", help="write full-size random SD 1.5 components here instead")
    args = parser.parse_args()
    if args.bench:
        make_bench(args.bench, args.bpe)
    else:
        make_tiny(args.bpe)

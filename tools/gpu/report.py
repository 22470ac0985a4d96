#!/usr/bin/env python3
"""Sets our GPU timings beside PyTorch's: `report.py OURS.txt TORCH.txt GPU.txt` prints a
Markdown table for docs/benchmarks.md. Both files hold `key=value` lines (gpu_bench and
reference.py bench); GPU.txt is nvidia-smi's name, driver and memory line."""

import sys


def read_values(path):
    values = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep:
                try:
                    values[key] = float(value)
                except ValueError:
                    pass
    return values


# (what, our key, PyTorch's key, unit, True when more is better)
ROWS = [
    ("Stable Audio 3, 4 candidates of {sa3_seconds} s, whole generate", "sa3_generate_s", "sa3_generate_s", "s", False),
    ("Stable Audio 3, text encoding and first step", "sa3_text_and_first_step_s", "sa3_text_and_first_step_s", "s", False),
    ("Stable Audio 3, one DiT step of 4 candidates", "sa3_step_s", "sa3_step_s", "s", False),
    ("Stable Audio 3, SAME-S decode of one candidate", "sa3_decode_s", "sa3_decode_s", "s", False),
    ("Attention, UNet first block (2x8 heads, 4096 tokens, 40 wide)", "attention_unet_s", "attention_unet_s", "s", False),
    ("Attention, VAE mid block (one 512-wide head, 4096 tokens)", "attention_vae_s", "attention_vae_s", "s", False),
    ("Whisper large-v3 encoder, 30 s window", "whisper_encoder_s", "whisper_encoder_s", "s", False),
    ("Whisper large-v3, 100 decoder steps", "whisper_decode100_s", "whisper_decode100_s", "s", False),
    ("Whisper large-v3 real-time factor", "whisper_rtf", "whisper_rtf", "x", True),
    ("UNet, 2 rows", "unet_rows2_steps_per_s", "unet_rows2_steps_per_s", "steps/s", True),
    ("UNet, 8 rows", "unet_rows8_steps_per_s", "unet_rows8_steps_per_s", "steps/s", True),
    ("VAE decode, 1 image", "vae_decode1_s", "vae_decode1_s", "s", False),
    ("VAE decode, 4 images", "vae_decode4_s", "vae_decode4_s", "s", False),
    # PyTorch's side stops at the decoded images; ours also turns them into audio (next line).
    ("4 candidates of {seconds} s music, diffusion and VAE", "generate_diffusion_s", "generate_s", "s", False),
    ("4 candidates of {seconds} s music, with audio", "generate_s", None, "s", False),
]
PARTS = ["sa3", "attention", "whisper", "unet", "vae", "generate"]


def per_clip(values, seconds_key, clips_key):
    seconds, clips = values.get(seconds_key), values.get(clips_key)
    return seconds / clips if seconds and clips else None


def main():
    ours, torch = read_values(sys.argv[1]), read_values(sys.argv[2])
    gpu = open(sys.argv[3]).read().strip() if len(sys.argv) > 3 else "unknown GPU"
    print(f"GPU: {gpu}\n")
    print("| work | ours | PyTorch fp16 | ours vs PyTorch |")
    print("|---|---|---|---|")
    seconds = ours.get("ours_generate_seconds") or torch.get("torch_generate_seconds") or 0
    sa3_seconds = ours.get("ours_sa3_seconds") or torch.get("torch_sa3_seconds") or 0
    for what, key, torch_key, unit, more_is_better in ROWS:
        mine = ours.get(f"ours_{key}")
        theirs = torch.get(f"torch_{torch_key}") if torch_key else None
        if mine is None and theirs is None:
            continue
        cell = lambda v: "-" if v is None else f"{v:.3f} {unit}"
        ratio = "-"
        if mine and theirs:
            # Always "how many times as fast as PyTorch": above 1 is better for us.
            speed = mine / theirs if more_is_better else theirs / mine
            ratio = f"{speed:.2f}x as fast"
        what = what.format(seconds=f"{seconds:g}", sa3_seconds=f"{sa3_seconds:g}")
        print(f"| {what} | {cell(mine)} | {cell(theirs)} | {ratio} |")
    # Our clips overlap (each continues the last), so the same music takes more of them than
    # PyTorch's back-to-back clips: per clip is the like-for-like figure.
    mine_clip = per_clip(ours, "ours_generate_diffusion_s", "ours_generate_clips")
    theirs_clip = per_clip(torch, "torch_generate_s", "torch_generate_clips")
    if mine_clip and theirs_clip:
        print(f"| one clip of 4 candidates, diffusion and VAE | {mine_clip:.3f} s | {theirs_clip:.3f} s "
              f"| {theirs_clip / mine_clip:.2f}x as fast |")
    print()
    rms, bad = ours.get("ours_sa3_rms"), ours.get("ours_sa3_non_finite")
    if rms is not None:
        print(f"- Stable Audio 3 (random weights), ours: audio RMS {rms:.4f}, {bad:.0f} non-finite samples")
    for name in ("unet", "vae"):
        for side, values in (("ours", ours), ("PyTorch", torch)):
            error = values.get(f"{'ours' if side == 'ours' else 'torch'}_attention_{name}_max_error")
            bad = values.get(f"{'ours' if side == 'ours' else 'torch'}_attention_{name}_non_finite")
            if error is not None:
                print(f"- attention at the {name.upper()} shape, {side}: largest error against f32 "
                      f"{error:.3e}, {bad:.0f} non-finite outputs")
    for part in PARTS:
        fmt = lambda v: "-" if v is None else f"{v:.0f} MiB"
        cells = [ours.get(f"ours_peak_vram_{part}_mib"), ours.get(f"ours_peak_alloc_{part}_mib"),
                 torch.get(f"torch_peak_vram_{part}_mib"), torch.get(f"torch_peak_alloc_{part}_mib")]
        if any(c is not None for c in cells):
            print(f"- peak GPU memory, {part}: ours {fmt(cells[0])} driver / {fmt(cells[1])} allocator; "
                  f"PyTorch {fmt(cells[2])} driver / {fmt(cells[3])} allocator")
    total = ours.get("ours_generate_s")
    if total is not None and seconds:
        # The target: a 60 s video's four candidates in under a minute, so music at least as
        # fast as real time.
        verdict = "meets" if total < seconds else "misses"
        print(f"- {seconds:g} s of music, 4 candidates, {ours.get('ours_generate_steps', 0):.0f} steps: "
              f"{total:.1f} s ({verdict} the real-time target)")


if __name__ == "__main__":
    main()

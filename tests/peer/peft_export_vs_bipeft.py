"""Loads a `bipeft export --format peft` adapter with Hugging Face peft and
compares its logits with `bipeft eval --save-predictions` on the same
examples. Run by native-cli/tests/export.rs when BIPEFT_PEER_TESTS=1:

    python peft_export_vs_bipeft.py MODEL_DIR ADAPTER_DIR SENTENCES.json PREDICTIONS.jsonl

Exits 1 when a logit differs by 1e-4 or more.
"""

import json
import os
import sys

# Everything is local; never look anything up on a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"

import torch
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer

TOLERANCE = 1e-4


def main():
    model_dir, adapter_dir, sentences_path, predictions_path = sys.argv[1:5]
    with open(sentences_path) as f:
        sentences = json.load(f)
    with open(predictions_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    assert len(rows) == len(sentences), (len(rows), len(sentences))
    assert [r["index"] for r in rows] == list(range(len(rows)))
    ours = torch.tensor([r["logits"] for r in rows], dtype=torch.float32)

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=ours.shape[1], attn_implementation="eager"
    )
    model = PeftModel.from_pretrained(base, adapter_dir)
    model.eval()
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        theirs = model(**batch).logits
        # The same model with the LoRA factors zeroed: how much LoRA moves the logits.
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.zero_()
        without_lora = model(**batch).logits
    diff = (theirs - ours).abs().max().item()
    moved = (theirs - without_lora).abs().max().item()
    print(
        f"{len(rows)} examples: max abs diff {diff:.3e} between peft and bipeft logits "
        f"(LoRA moves the logits by up to {moved:.3e}; tolerance {TOLERANCE:g})"
    )
    sys.exit(0 if diff < TOLERANCE else 1)


if __name__ == "__main__":
    main()

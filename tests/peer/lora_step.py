"""The peer of `bipeft bench`'s LoRA step (issue 15), for `bipeft bench --peer PYTHON`.

One training step of LoRA r = 8 on all six linears of every block (query,
key, value, attention output, FFN in, FFN out) of a frozen BERT-family model
with a trainable pooler + classifier, on a synthetic batch of random token
ids and binary labels: forward, backward, AdamW. This is what bipeft's
`bench` measures as its `lora` step, built the way a PyTorch user would build
it, with Hugging Face `transformers` + `peft`.

Prints one JSON object: the median, min and max milliseconds of the timed
steps, the process's peak resident memory, and the trainable parameters.
Needs torch, transformers and peft in the interpreter that runs it.
"""

import argparse
import json
import resource
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForSequenceClassification

# The six linears of a BERT block, and nothing else (not the pooler).
SIX_LINEARS = (
    r".*layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense"
    r"|intermediate\.dense|output\.dense)"
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(7)
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
    lora = LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        target_modules=SIX_LINEARS,
        modules_to_save=["pooler", "classifier"],
    )
    model = get_peft_model(model, lora)
    model.train()
    # No dropout on either side: the step's arithmetic alone.
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimiser = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=3e-4, weight_decay=1e-4
    )

    generator = torch.Generator().manual_seed(11)
    vocab = model.config.vocab_size
    # Ids above the special tokens (the first 1000 of BERT vocabularies; the
    # first half of a tiny one), as bipeft's bench draws them.
    first = min(1000, vocab // 2)
    input_ids = torch.randint(first, vocab, (args.batch, args.seq_len), generator=generator)
    labels = torch.randint(0, 2, (args.batch,), generator=generator)
    attention_mask = torch.ones_like(input_ids)

    times = []
    for i in range(args.warmup + args.steps):
        started = time.perf_counter()
        out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        out.loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        if i >= args.warmup:
            times.append((time.perf_counter() - started) * 1e3)
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        json.dumps(
            {
                "backend": f"pytorch {torch.__version__}",
                "median_ms": median,
                "min_ms": times[0],
                "max_ms": times[-1],
                "peak_rss_mb": peak_rss_mb,
                "trainable_params": trainable,
                "threads": args.threads,
            }
        )
    )


if __name__ == "__main__":
    main()

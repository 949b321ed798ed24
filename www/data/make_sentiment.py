"""Writes sentiment.tsv, the explore view's built-in task: 320 sentences of
SST-2 (GLUE) train, 160 positive and 160 negative, phrases of 6 to 30
words, taken at an even stride so the set is deterministic and spread over the
file. Run by developers (python3 www/data/make_sentiment.py), never by CI.

Source: ../shared/data/glue/SST-2/train.tsv (see shared/data/SOURCES.md).
"""

import csv
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE.parents[3] / "shared" / "data" / "glue" / "SST-2" / "train.tsv"
PER_CLASS = 160


def main():
    with SOURCE.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    picked = []
    for label in ("0", "1"):
        pool = [
            r["sentence"].strip()
            for r in rows
            if r["label"] == label and 6 <= len(r["sentence"].split()) <= 30
        ]
        stride = len(pool) // PER_CLASS
        picked += [(pool[i * stride], label) for i in range(PER_CLASS)]
    # Interleave the classes so any prefix of the file is balanced.
    picked = [x for pair in zip(picked[:PER_CLASS], picked[PER_CLASS:]) for x in pair]
    with (HERE / "sentiment.tsv").open("w", newline="") as f:
        f.write("sentence\tlabel\n")
        for text, label in picked:
            f.write(f"{text}\t{label}\n")
    print(f"wrote {len(picked)} rows from {SOURCE}")


if __name__ == "__main__":
    main()

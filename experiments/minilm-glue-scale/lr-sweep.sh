#!/usr/bin/env bash
# The learning-rate sweep behind experiments/minilm-glue-scale.toml's
# [retrain] rates: the same three runs for each method family, scored on the
# validation split the experiment's protocol holds out of SST-2's training
# data (never on the test split the report scores).
#
# - searched family: BIPEFT's configuration (seed 0, the plan's search
#   settings), retrained at each rate;
# - baseline family: uniform LoRA sized to the same budget, retrained at each
#   rate.
# Everything else is the plan's: 4,000 training examples, max length 64,
# 3 retrain epochs of batch 32, budget 0.5%.
#
# Run from the repository root:  bash experiments/minilm-glue-scale/lr-sweep.sh
# It writes experiments/minilm-glue-scale/lr-sweep.json (the best validation
# score of every run) and keeps its work under runs/lr-sweep/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${BIN:-target/release/bipeft}
MODEL=${MODEL:-$HOME/.cache/bipeft/all-MiniLM-L6-v2}
DATA=${DATA:-../shared/data/glue/SST-2}
WORK=runs/lr-sweep
RATES=(3e-4 1e-3 3e-3)
COMMON=(--task sst2 --data "$DATA" --model "$MODEL" --seed 0 --max-train-examples 4000 --max-length 64 --batch-size 32)

[ -x "$BIN" ] || cargo build --release -p bipeft-cli
mkdir -p "$WORK"

for family in bipeft uniform_lora; do
    search_dir="$WORK/$family/search"
    if [ ! -f "$search_dir/peft_config.json" ]; then
        "$BIN" search "${COMMON[@]}" --budget 0.5% --space s1 --epochs 5 \
            --selection-start-epoch 1 --mode "$family" --out "$search_dir" --force --quiet
    fi
    for lr in "${RATES[@]}"; do
        out="$WORK/$family/lr-$lr"
        if [ ! -f "$out/trained.json" ]; then
            "$BIN" retrain "${COMMON[@]}" --config "$search_dir" --epochs 3 --lr "$lr" \
                --out "$out" --force --quiet
        fi
    done
done

python3 - "$WORK" "${RATES[@]}" <<'EOF' > experiments/minilm-glue-scale/lr-sweep.json.tmp
import json, sys
work, rates = sys.argv[1], sys.argv[2:]
result = {"task": "sst2", "split": "validation (held out of the training data)", "runs": []}
for family in ["bipeft", "uniform_lora"]:
    best = None
    for lr in rates:
        trained = json.load(open(f"{work}/{family}/lr-{lr}/trained.json"))
        score = trained["validation"]["accuracy"]
        result["runs"].append({"family": family, "lr": float(lr), "validation_accuracy": score,
                               "best_epoch": trained["best_epoch"]})
        if best is None or score > best[1]:
            best = (float(lr), score)
    result[f"best_{family}"] = best[0]
print(json.dumps(result, indent=2))
EOF
mv experiments/minilm-glue-scale/lr-sweep.json.tmp experiments/minilm-glue-scale/lr-sweep.json
cat experiments/minilm-glue-scale/lr-sweep.json

#!/usr/bin/env bash
# The learning-rate sweep behind experiments/minilm-glue-scale.toml's
# learning rates: for one task, the same four runs for each method family,
# scored on the validation split the experiment's protocol holds out of the
# task's training data (never on the test split the report scores).
#
# - searched family: BIPEFT's configuration (seed 0, the plan's search
#   settings), retrained at each rate;
# - baseline family: uniform LoRA sized to the same budget, retrained at each
#   rate.
# Everything else is the plan's: 4,000 training examples, the task's max
# length and held-out validation, 3 retrain epochs of batch 32, budget 0.5%.
#
# Run from the repository root, once per task of the plan:
#   bash experiments/minilm-glue-scale/lr-sweep.sh sst2 SST-2 --max-length 64
#   bash experiments/minilm-glue-scale/lr-sweep.sh stsb STS-B --max-length 128 --validation-from-train 1000
# Each writes experiments/minilm-glue-scale/lr-sweep-TASK.json (the best
# validation score of every run) and keeps its work under runs/lr-sweep/TASK/
# (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${BIN:-target/release/bipeft}
MODEL=${MODEL:-${BIPEFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bipeft}/all-MiniLM-L6-v2}
TASK=$1
DATA=${DATA:-../shared/data/glue/$2}
shift 2
WORK=runs/lr-sweep/$TASK
RESULT=experiments/minilm-glue-scale/lr-sweep-$TASK.json
RATES=(3e-4 1e-3 3e-3 1e-2)
COMMON=(--task "$TASK" --data "$DATA" --model "$MODEL" --seed 0 --max-train-examples 4000 --batch-size 32 "$@")

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

python3 - "$TASK" "$WORK" "${RATES[@]}" <<'EOF' > "$RESULT.tmp"
import json, sys
task, work, rates = sys.argv[1], sys.argv[2], sys.argv[3:]
result = {"task": task, "split": "validation (held out of the training data)", "runs": []}
for family in ["bipeft", "uniform_lora"]:
    best = None
    for lr in rates:
        trained = json.load(open(f"{work}/{family}/lr-{lr}/trained.json"))
        metric = "pearson" if "pearson" in trained["validation"] else "accuracy"
        score = trained["validation"][metric]
        result["runs"].append({"family": family, "lr": float(lr), "metric": metric, "validation": score,
                               "best_epoch": trained["best_epoch"]})
        if best is None or score > best[1]:
            best = (float(lr), score)
    result[f"best_{family}"] = best[0]
print(json.dumps(result, indent=2))
EOF
mv "$RESULT.tmp" "$RESULT"
cat "$RESULT"

#!/usr/bin/env bash
# Two peers of the trial on 127.0.0.1, each in its own process.
# usage: run2.sh PORT_BASE STEPS VARIANT STRATEGY [TIMEOUT_S]
#   VARIANT: loop (register once, STEPS all-reduces) | rereg (register,
#   all-reduce, finish per step) | grads (burn's GradientsParams::all_reduce)
#   | grads-manual (one all-reduce per parameter, in module order)
#   STRATEGY: ring | tree | centralized
# Build first: cargo build (from this folder; its own workspace).
set -u
P=$1; K=$2; V=$3; S=$4; T=${5:-120}
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${CARGO_TARGET_DIR:-$here/target}/debug/trial"
LOG="$here/logs"; mkdir -p "$LOG"
N="$V-$S-K$K-P$P"
# The orchestrator on node 0 catches SIGTERM: -k 5 kills it after the timeout.
timeout -k 5 "$T" "$BIN" --node 0 --nodes 2 --port-base "$P" --steps "$K" --variant "$V" --strategy "$S" > "$LOG/$N.n0" 2>&1 &
A=$!
sleep 0.5
timeout -k 5 "$T" "$BIN" --node 1 --nodes 2 --port-base "$P" --steps "$K" --variant "$V" --strategy "$S" > "$LOG/$N.n1" 2>&1 &
B=$!
wait $A; echo "node 0 exit $?"; wait $B; echo "node 1 exit $?"
tail -n 3 "$LOG/$N.n0" "$LOG/$N.n1"

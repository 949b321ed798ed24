#!/usr/bin/env bash
# The project's test command: every Rust test (unit, integration, reference
# fixtures, the real MiniLM model) and the wasm build of the web crate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/fetch-minilm.sh
cargo test --locked   # default members: core, native-cli, tests (web is checked by its wasm build below)
cargo build -p bipeft-web --target wasm32-unknown-unknown --locked
echo "all tests passed"

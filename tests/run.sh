#!/usr/bin/env bash
# The project's test command: every Rust test (unit, integration, reference
# fixtures, the real MiniLM model), the wasm build of the web crate, and the
# site's browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/fetch-minilm.sh
# One test at a time inside each binary: the searches draw from the backend's
# global generator, so two tests of one binary running at once (search_toy's
# known-answer test and its resume test) could interleave their draws.
cargo test --locked -- --test-threads=1   # default members: core, native-cli, tests (web is checked by its wasm build below)
cargo build -p bipeft-web --target wasm32-unknown-unknown --locked

# A plan as a Slurm job array on a throwaway single-node cluster (root only:
# it starts munged, slurmctld and slurmd).
if [ "$(id -u)" = 0 ]; then bash tests/slurm/run.sh; else echo "skipped tests/slurm/run.sh: it needs root"; fi

# The site in headless Chromium: a debug build of www/ (wasm-bindgen-cli at the
# Cargo.lock version; Debian's chromium), run with a software WebGPU adapter
# and without one. Screenshots land in tests/artifacts/.
cargo test -p bipeft-web --lib --locked   # the wasm surface's logic, on the host
bash www/build.sh --dev --demo-model tests/fixtures/web/tiny-bert
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
node tests/browser/run.mjs --dist www/dist
echo "all tests passed"

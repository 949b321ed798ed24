#!/usr/bin/env bash
# Builds the static site into www/dist/: the web crate (bipeft-web) for
# wasm32-unknown-unknown, its JavaScript bindings (wasm-bindgen --target web),
# and the static files. Everything the page needs is in dist/; it makes no
# request to any other host.
#
#   bash www/build.sh                      release build (the real site)
#   bash www/build.sh --dev                debug build: quick to compile, slow to
#                                          run; what the browser tests use
#                                          (BIPEFT_WEB_DEV=1 does the same)
#   bash www/build.sh --demo-model DIR     also ship the Hugging Face model in DIR
#                                          (config.json, model.safetensors,
#                                          tokenizer.json) as the demo model
#
# Needs the wasm32-unknown-unknown Rust target and wasm-bindgen-cli at the
# version of the wasm-bindgen crate in Cargo.lock.
set -euo pipefail

www="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$www")"
profile=release
[ "${BIPEFT_WEB_DEV:-0}" = 1 ] && profile=dev
demo=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) profile=dev ;;
    --release) profile=release ;;
    --demo-model) demo="${2:?--demo-model needs a directory}"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$root/Cargo.lock")"
if ! command -v wasm-bindgen >/dev/null; then
  echo "build.sh: wasm-bindgen not found; install it with" >&2
  echo "  cargo install wasm-bindgen-cli --version $want --locked" >&2
  exit 1
fi
have="$(wasm-bindgen --version | awk '{print $2}')"
if [ "$have" != "$want" ]; then
  echo "build.sh: wasm-bindgen $have is installed but Cargo.lock pins $want; run" >&2
  echo "  cargo install wasm-bindgen-cli --version $want --locked --force" >&2
  exit 1
fi
if [ -n "$demo" ]; then
  for f in config.json model.safetensors tokenizer.json; do
    [ -f "$demo/$f" ] || { echo "build.sh: --demo-model $demo has no $f" >&2; exit 1; }
  done
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
if [ "$profile" = release ]; then
  (cd "$root" && cargo build -p bipeft-web --target wasm32-unknown-unknown --release --locked)
  wasm="$target_dir/wasm32-unknown-unknown/release/bipeft_web.wasm"
else
  (cd "$root" && cargo build -p bipeft-web --target wasm32-unknown-unknown --locked)
  wasm="$target_dir/wasm32-unknown-unknown/debug/bipeft_web.wasm"
fi

dist="$www/dist"
rm -rf "$dist"
mkdir -p "$dist/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$dist/pkg" "$wasm"
cp "$www/index.html" "$www/style.css" "$dist/"
cp -r "$www/js" "$dist/"
mkdir -p "$dist/data" "$dist/examples"
cp "$www/data/sentiment.tsv" "$dist/data/"
# The example result is the browser tests' fixture: one copy, in tests/.
cp "$root/tests/fixtures/web/peft_config.json" "$root/tests/fixtures/web/search_trace.json" "$dist/examples/"
if [ -n "$demo" ]; then
  mkdir -p "$dist/models/demo"
  cp "$demo/config.json" "$demo/model.safetensors" "$demo/tokenizer.json" "$dist/models/demo/"
fi
# What the page reads to know how it was built.
cat > "$dist/build.json" <<JSON
{"profile": "$profile", "demo_model": $([ -n "$demo" ] && echo '"models/demo/"' || echo null)}
JSON
echo "built $dist ($profile$([ -n "$demo" ] && echo ", demo model from $demo"))"

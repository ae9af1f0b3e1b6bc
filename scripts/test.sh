#!/usr/bin/env bash
# npm test [unit|lab|integration ...]: the test tiers (all by default). Builds whatever part of
# `npm run setup` is still missing first.
#
# Two lanes side by side: the real-TripleO seed (tests/integration/real-tripleo.test.ts, ~33 min,
# most of it one real Heat engine busy on one core) followed by two imitation files (preview-exact,
# upgrade: ~5 min, to even the lanes out), and every other file, one at a time (lab and Pulumi tests start daemons and
# share the CPU). Each lane is its own node:test run; the real lane's report follows the other's,
# and npm test fails when either fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
tiers=()
while (($#)) && [[ "$1" =~ ^(unit|lab|integration)$ ]]; do tiers+=("$1"); shift; done
((${#tiers[@]})) || tiers=(unit lab integration)

bash scripts/setup.sh --quiet
npx --no-install tsc -p tsconfig.json
# Built once here: test files running side by side must not rewrite bin/ under each other.
export DCN_PROGRAM_BUILT=1
shopt -s globstar nullglob
files=() real=()
for tier in "${tiers[@]}"; do
  for f in tests/"$tier"/**/*.test.ts; do
    case "$f" in
      tests/integration/real-tripleo.test.ts) real=("$f" "${real[@]}") ;;
      tests/integration/preview-exact.test.ts | tests/integration/upgrade.test.ts) real+=("$f") ;;
      *) files+=("$f") ;;
    esac
  done
done
run() { node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@"; }

# One lane only (a tier without the real-TripleO file, or that file alone). `run` is a function:
# not for `exec`.
if ((${#real[@]} == 0)); then run "${files[@]}" "$@"; exit; fi
if ((${#files[@]} == 0)); then run "${real[@]}" "$@"; exit; fi

real_log="$(mktemp "${TMPDIR:-/tmp}/dcn-real-lane.XXXXXX")"
echo "npm test: ${real[*]} runs beside the other files; its report follows theirs (live: $real_log)"
run "${real[@]}" "$@" >"$real_log" 2>&1 &
real_pid=$!
trap 'kill "$real_pid" 2>/dev/null || true' INT TERM
status=0
run "${files[@]}" "$@" || status=$?
wait "$real_pid" || status=$((status ? status : $?))
echo
echo "=== ${real[*]}"
cat "$real_log"
rm -f "$real_log"
exit "$status"

#!/usr/bin/env bash
# npm start: set up what is missing, start the lab undercloud if needed, deploy the dev stack
# (the seed topology) with `pulumi up`, and print a readable summary.
set -euo pipefail
STACK="${STACK:-dev}"
source "$(dirname "${BASH_SOURCE[0]}")/pulumi-env.sh" --stack "$STACK"
cd "$PROJECT_ROOT"

bash scripts/setup.sh
echo "[start] starting the lab undercloud (no-op when running)"
npx --no-install tsx lab/cli.ts start
npx --no-install tsc -p tsconfig.json
pulumi stack select "$STACK" --create --non-interactive >/dev/null
echo "[start] pulumi up on stack $STACK"
pulumi up --yes --non-interactive --skip-preview "$@"
npx --no-install tsx scripts/summary.ts "$STACK"
# Where the time went: the run as a chart (from the program's own timings, logs/<stack>/timeline.jsonl).
if timeline=$(npx --no-install tsx tools/timeline.ts --stack "$STACK" 2>&1); then
  echo "[start] timeline of this run: $timeline"
else
  echo "[start] no timeline: $timeline"
fi

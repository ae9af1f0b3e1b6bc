#!/usr/bin/env bash
# npm run pulumi -- <args>: the project's Pulumi CLI, offline, from the project root, on a fresh
# build of the program (bin/ is what Pulumi.yaml runs).
set -euo pipefail
# The stack the arguments name (else the selected one) decides the passphrase (see pulumi-env.sh).
source "$(dirname "${BASH_SOURCE[0]}")/pulumi-env.sh" "$@"
cd "$PROJECT_ROOT"
bash scripts/setup.sh --quiet
npx --no-install tsc -p tsconfig.json
exec pulumi "$@"

#!/usr/bin/env bash
# npm run graph: the deployed stack's resource graph as a picture (docs/graph.png), from the
# engine's own record (`pulumi stack graph`), rendered by graphviz. Dependency edges only:
# parent edges (components owning resources) would hide the order the graph derives. One box per
# site (the sites of the `sites` stack output); resources with no dependency edge (the stack,
# providers, components) left out (tools/graph.ts).
set -euo pipefail
STACK="${1:-${STACK:-dev}}"
source "$(dirname "${BASH_SOURCE[0]}")/pulumi-env.sh" --stack "$STACK"
cd "$PROJECT_ROOT"
OUT="${2:-docs/graph.png}"
command -v dot >/dev/null || { echo "error: graphviz 'dot' missing (npm run setup installs it)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp --suffix=.dot)
trap 'rm -f "$tmp"' EXIT
pulumi stack graph "$tmp" --stack "$STACK" --short-node-name --ignore-parent-edges >/dev/null
mapfile -t sites < <(pulumi stack output sites --json --stack "$STACK" | node -e \
  'for (const s of Object.keys(JSON.parse(require("fs").readFileSync(0, "utf8")) ?? {})) console.log(s)')
((${#sites[@]})) || { echo "error: stack $STACK has no sites output (deploy it first)" >&2; exit 1; }
"$PROJECT_ROOT/node_modules/.bin/tsx" tools/graph.ts "$tmp" "${sites[@]}" | dot -Tpng -Gdpi=110 -o "$OUT"
echo "wrote $OUT"

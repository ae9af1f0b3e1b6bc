#!/usr/bin/env bash
# npm run graph: the deployed stack's resource graph as a picture (docs/graph.png), from the
# engine's own record (`pulumi stack graph`), rendered by graphviz. Dependency edges only:
# parent edges (components owning resources) would hide the order the graph derives.
set -euo pipefail
STACK="${1:-${STACK:-dev}}"
source "$(dirname "${BASH_SOURCE[0]}")/pulumi-env.sh" --stack "$STACK"
cd "$PROJECT_ROOT"
OUT="${2:-docs/graph.png}"
command -v dot >/dev/null || { echo "error: graphviz 'dot' missing (npm run setup installs it)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp --suffix=.dot)
trap 'rm -f "$tmp"' EXIT
pulumi stack graph "$tmp" --stack "$STACK" --short-node-name --ignore-parent-edges \
  --dot-fragment 'rankdir=LR; node [shape=box, fontname="Helvetica", fontsize=10];'
dot -Tpng -Gdpi=110 "$tmp" -o "$OUT"
echo "wrote $OUT"

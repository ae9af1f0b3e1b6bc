#!/usr/bin/env bash
# npm run setup: idempotent. Installs the Debian packages in scripts/setup/debian-packages.txt that
# are missing, builds the Pulumi toolchain (cached), then installs real TripleO for the lab
# (scripts/setup/tripleo.sh, cached). --quiet prints only what it does.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUIET=false
[[ "${1:-}" == "--quiet" ]] && QUIET=true
say() { $QUIET || printf '[setup] %s\n' "$*"; }

wanted=()
while read -r line; do
  pkg="${line%%#*}"; pkg="${pkg//[[:space:]]/}"
  [[ -z "$pkg" ]] && continue
  # Go may come from elsewhere (e.g. /usr/local/go); only install Debian's when there is none.
  if [[ "$pkg" == golang-go ]] && command -v go >/dev/null; then continue; fi
  wanted+=("$pkg")
done < "$ROOT/scripts/setup/debian-packages.txt"

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  printf '[setup] installing Debian packages: %s\n' "${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: installing packages needs root; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "Debian packages installed"
else
  say "Debian packages present"
fi

if $QUIET; then
  bash "$ROOT/tools/pulumi/build.sh" | grep -v 'cached)$' || true
  [[ -x "$ROOT/.pulumi/bin/pulumi" ]]
else
  bash "$ROOT/tools/pulumi/build.sh"
fi

# Real TripleO for the lab (python-tripleoclient, THT, Debian's Heat): .tripleo, cached.
if $QUIET; then
  bash "$ROOT/scripts/setup/tripleo.sh" | grep -v '(cached)$' || true
  [[ -x "$ROOT/.tripleo/bin/openstack" ]]
else
  bash "$ROOT/scripts/setup/tripleo.sh"
fi

#!/usr/bin/env bash
# Builds the offline Pulumi toolchain from Go modules into .pulumi/bin (gitignored).
# Cached: does nothing when every binary is present and reports the pinned version.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/pulumi"
OUT="$ROOT/.pulumi/bin"
# shellcheck source=versions.env
source "$HERE/versions.env"

mkdir -p "$OUT"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# The language host exists on the proxy only as a pseudo-version the checksum DB does not list;
# go.sum (committed) pins its hash, so this only matters when go.sum is regenerated.
export GONOSUMDB="github.com/pulumi/pulumi/sdk/nodejs"

log() { printf '[toolchain] %s\n' "$*"; }

# Prints a heartbeat while a slow command runs, so a cold build visibly moves.
with_heartbeat() {
  local label="$1"; shift
  local start=$SECONDS
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 20
    if kill -0 "$pid" 2>/dev/null; then
      local mod cache
      mod=$(du -sm "$(go env GOMODCACHE)" 2>/dev/null | cut -f1 || echo 0)
      cache=$(du -sm "$(go env GOCACHE)" 2>/dev/null | cut -f1 || echo 0)
      log "$label: $((SECONDS - start))s elapsed (module cache ${mod} MiB, build cache ${cache} MiB)"
    fi
  done
  wait "$pid"
  log "$label: done in $((SECONDS - start))s"
}

cli_ok() { [[ -x "$OUT/pulumi" && "$("$OUT/pulumi" version 2>/dev/null)" == "$PULUMI_VERSION" ]]; }
lang_ok() { [[ -x "$OUT/pulumi-language-nodejs" && -f "$OUT/.language-nodejs.version" && "$(cat "$OUT/.language-nodejs.version")" == "$LANGUAGE_NODEJS_VERSION" ]]; }

if ! command -v go >/dev/null; then
  echo "error: Go is required to build the Pulumi toolchain (apt-get install golang-go, or Go >= 1.25)" >&2
  exit 1
fi

if cli_ok && lang_ok; then
  log "pulumi $PULUMI_VERSION and pulumi-language-nodejs already built (cached)"
else
  log "building pulumi $PULUMI_VERSION + pulumi-language-nodejs from Go modules"
  log "a cold build downloads ~300 MB of modules and compiles for 10-20 minutes on 2 cores"
  with_heartbeat "go mod download" bash -c "cd '$HERE' && go mod download"
  with_heartbeat "go build pulumi + language host" \
    go build -C "$HERE" -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
      -o "$OUT/" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
      github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
  echo "$LANGUAGE_NODEJS_VERSION" > "$OUT/.language-nodejs.version"
fi

# pulumi-resource-command: the Go module github.com/pulumi/pulumi-command/provider is refused by the
# module proxy here (every version), so @pulumi/command's plugin is our TypeScript implementation of the
# same gRPC provider (tools/command-provider), installed under the name the engine looks for.
COMMAND_LAUNCHER="$ROOT/tools/command-provider/pulumi-resource-command"
if [[ -x "$COMMAND_LAUNCHER" ]]; then
  # Precompiled with esbuild for a faster start; the launcher falls back to tsx when this is stale.
  if [[ -f "$ROOT/node_modules/.bin/esbuild" ]]; then
    bash "$ROOT/tools/command-provider/build.sh" >/dev/null
  fi
  ln -sf "$COMMAND_LAUNCHER" "$OUT/pulumi-resource-command"
else
  log "note: $COMMAND_LAUNCHER missing; @pulumi/command resources will not load"
fi

# The dynamic-provider plugin is a shell script shipped inside the @pulumi/pulumi npm package.
SHIM="$ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
if [[ -f "$SHIM" ]]; then
  install -m 0755 "$SHIM" "$OUT/pulumi-resource-pulumi-nodejs"
else
  log "note: node_modules missing; run npm ci, then this again, to install pulumi-resource-pulumi-nodejs"
fi

log "toolchain ready in $OUT: $("$OUT/pulumi" version)"

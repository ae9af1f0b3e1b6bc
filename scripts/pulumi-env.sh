# Sourced by the project's scripts: the offline environment for the project's own Pulumi CLI.
# Every variable here is documented in README.md ("Offline environment"); export the same ones to
# run a plain `pulumi` by hand.
#
# Source it with the pulumi arguments (`source pulumi-env.sh "$@"`, or `--stack <name>`): the stack
# they name decides the passphrase. Only the dev stack (the lab) gets the published default
# passphrase; any other stack needs PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE from
# the user, else sourcing fails with an error.
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PROJECT_ROOT
export PATH="$PROJECT_ROOT/.pulumi/bin:$PATH"
export PULUMI_HOME="${PULUMI_HOME:-$PROJECT_ROOT/.pulumi/home}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PROJECT_ROOT/.pulumi/state}"
# No network: no update check, no plugin download, no registry lookups, no prompts.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_SKIP_CONFIRMATIONS=true
# Steps wait on the undercloud, not on local CPU: the engine's default of 4 × CPUs queues the metal
# and Ceph steps of larger topologies (bench P2: three Ceph deploys waited ~10 s for a slot).
export PULUMI_PARALLEL="${PULUMI_PARALLEL:-64}"
mkdir -p "$PULUMI_HOME" "${PULUMI_BACKEND_URL#file://}"

# The stack a pulumi command line names: `--stack`/`-s`, or the one name given to
# `stack init|select|rm`; empty when it names none, `?` when it cannot be told (`-C` without
# `--stack`, several names).
_dcn_stack_of_args() {
  local a cwd="" pos=()
  while (($#)); do
    a="$1"
    shift
    case "$a" in
      --stack | -s) printf '%s' "${1:-?}" && return ;;
      --stack=* | -s=*) printf '%s' "${a#*=}" && return ;;
      -C | --cwd)
        cwd=y
        (($#)) && shift
        ;;
      -C=* | --cwd=*) cwd=y ;;
      --secrets-provider | --copy-config-from | --teams | --color | --tracing | --tracing-header | -v | --verbose)
        (($#)) && shift
        ;;
      -*) ;;
      *) pos+=("$a") ;;
    esac
  done
  if [[ "${pos[0]:-}" == stack && "${pos[1]:-}" =~ ^(init|select|rm)$ ]]; then
    case "${#pos[@]}" in
      2) ;;
      3) printf '%s' "${pos[2]}" && return ;;
      *) printf '?' && return ;;
    esac
  fi
  [[ -z "$cwd" ]] || printf '?'
}

# The selected stack of this project (pulumi's workspace file), empty when none is.
_dcn_selected_stack() {
  local hash file
  hash="$(printf '%s' "$PROJECT_ROOT/Pulumi.yaml" | sha1sum | cut -d' ' -f1)"
  file="$PULUMI_HOME/workspaces/dcn-storage-$hash-workspace.json"
  [[ -f "$file" ]] && sed -n 's/.*"stack"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$file" | head -n 1
  return 0
}

_dcn_stack="$(_dcn_stack_of_args "$@")"
# Pulumi's own order: the flag, then PULUMI_STACK, then the selected stack.
[[ -n "$_dcn_stack" ]] || _dcn_stack="${PULUMI_STACK:-}"
[[ -n "$_dcn_stack" ]] || _dcn_stack="$(_dcn_selected_stack)"
_dcn_stack="${_dcn_stack##*/}" # organization/dcn-storage/dev -> dev
unset -f _dcn_stack_of_args _dcn_selected_stack
if [[ -n "${PULUMI_CONFIG_PASSPHRASE+set}" || -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then
  # The user's choice; but the published one must not protect a real stack.
  if [[ -n "$_dcn_stack" && "$_dcn_stack" != dev && "${PULUMI_CONFIG_PASSPHRASE:-}" == dcn-lab-dev ]]; then
    echo "warning: stack $_dcn_stack uses the published dev passphrase dcn-lab-dev: give it its own" \
      "(pulumi stack change-secrets-provider passphrase)" >&2
  fi
elif [[ "$_dcn_stack" == dev ]]; then
  # The dev stack's passphrase protects only lab secrets; it is published here on purpose.
  export PULUMI_CONFIG_PASSPHRASE=dcn-lab-dev
elif [[ -n "$_dcn_stack" ]]; then
  _dcn_what="stack $_dcn_stack needs"
  [[ "$_dcn_stack" != "?" ]] || _dcn_what="cannot tell the stack from the arguments; a stack other than dev needs"
  echo "error: $_dcn_what its own passphrase: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)." \
    "The default dcn-lab-dev is published in this repository and only used for the dev stack (the lab)." >&2
  unset _dcn_what
  unset _dcn_stack
  return 1 2> /dev/null || exit 1
fi
unset _dcn_stack

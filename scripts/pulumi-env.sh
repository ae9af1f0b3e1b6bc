# Sourced by the project's scripts: the offline environment for the project's own Pulumi CLI.
# Every variable here is documented in README.md ("Offline environment"); export the same ones to
# run a plain `pulumi` by hand.
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PROJECT_ROOT
export PATH="$PROJECT_ROOT/.pulumi/bin:$PATH"
export PULUMI_HOME="${PULUMI_HOME:-$PROJECT_ROOT/.pulumi/home}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PROJECT_ROOT/.pulumi/state}"
# The dev stack's passphrase protects only lab secrets; a real stack sets its own.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-dcn-lab-dev}"
# No network: no update check, no plugin download, no registry lookups, no prompts.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_SKIP_CONFIRMATIONS=true
# Steps wait on the undercloud, not on local CPU: the engine's default of 4 × CPUs queues the metal
# and Ceph steps of larger topologies (bench P2: three Ceph deploys waited ~10 s for a slot).
export PULUMI_PARALLEL="${PULUMI_PARALLEL:-64}"
mkdir -p "$PULUMI_HOME" "${PULUMI_BACKEND_URL#file://}"

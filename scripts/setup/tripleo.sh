#!/usr/bin/env bash
# Real TripleO for the lab (issue 10): python-tripleoclient 20.0.0, tripleo-common 18.0.0,
# tripleo-ansible 6.0.0 and the tripleo-heat-templates 18.0.0 tree, in a venv on Debian 12's Zed
# OpenStack libraries, with Debian's Heat 19.0.0 (heat-all, heat-manage) for tripleoclient's
# ephemeral Heat. Everything lands in <repo>/.tripleo (gitignored); outside it, only the Debian
# packages named below are installed. Cached: a second run checks a stamp and does nothing.
#
#   .tripleo/venv/     python3 -m venv --system-site-packages (Debian's python3-heat, -openstackclient, …)
#   .tripleo/tht/      the tripleo-heat-templates 18.0.0 sdist tree (the PyPI wheel has no data files)
#   .tripleo/bin/      openstack (the real client on the venv), heat-all, heat-manage (from heat-common, whose postinst would pull dbconfig-common)
#   .tripleo/usr-share/  ansible -> venv/share/ansible, openstack-tripleo-heat-templates -> tht:
#                      the lab mounts this over /usr/share in a private mount namespace, the paths
#                      tripleoclient hard-codes (lab/tripleo/README.md)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/setup"
T="${TRIPLEO_DIR:-$ROOT/.tripleo}"
CONSTRAINTS="$HERE/tripleo-constraints.txt"
PY=/usr/bin/python3 # Debian's: the venv must see /usr/lib/python3/dist-packages
log() { printf '[tripleo] %s\n' "$*"; }

stamp() { cat "$CONSTRAINTS" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16; }
if [[ -f "$T/.stamp" && "$(cat "$T/.stamp")" == "$(stamp)" ]] &&
  "$T/venv/bin/python3" -c 'import tripleoclient, tripleo_common, heat' 2>/dev/null; then
  log "real TripleO already installed in .tripleo (cached)"
  exit 0
fi

start=$SECONDS
step() { log "$* (t+$((SECONDS - start))s)"; }
rm -f "$T/.stamp"
mkdir -p "$T/dl" "$T/bin" "$T/usr-share"

if ! dpkg-query -W -f='${Status}' python3-heat 2>/dev/null | grep -q "install ok installed"; then
  step "installing Debian's python3-heat (Heat 19.0.0 Zed library and the Zed clients it depends on)"
  [[ $(id -u) -eq 0 ]] || { echo "error: needs root: sudo apt-get install -y python3-heat" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-heat >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-heat >/dev/null; }
fi

if [[ ! -x "$T/bin/heat-all" ]]; then
  step "taking heat-all and heat-manage from Debian's heat-common package (not installed)"
  rm -rf "$T/dl/heat-common" && mkdir -p "$T/dl/heat-common"
  (cd "$T/dl" && rm -f heat-common_*.deb && { apt-get download heat-common >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download heat-common >/dev/null; }; })
  dpkg-deb -x "$T/dl"/heat-common_*.deb "$T/dl/heat-common"
  cp "$T/dl/heat-common/usr/bin/heat-all" "$T/dl/heat-common/usr/bin/heat-manage" "$T/bin/"
fi

if [[ ! -x "$T/venv/bin/python3" ]]; then
  step "creating the venv on Debian's Python and its Zed libraries"
  "$PY" -m venv --system-site-packages "$T/venv"
fi
PIP=("$T/venv/bin/python3" -m pip --disable-pip-version-check --no-input)

have() { "$T/venv/bin/python3" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null; }
pin() { sed -n "s/^$1==//p" "$CONSTRAINTS"; }
if ! have python-tripleoclient "$(pin python-tripleoclient)" || ! have tripleo-ansible "$(pin tripleo-ansible)" ||
  ! have tripleo-common "$(pin tripleo-common)"; then
  step "pip: the four TripleO packages on Zed-era pins (about 1 min warm, a few cold)"
  # validations-libs 1.7.0 pins ansible<2.10: resolve without the ansible pins first …
  grep -vE '^ansible(-core)?==' "$CONSTRAINTS" >"$T/dl/constraints-step1.txt"
  "${PIP[@]}" install -q --progress-bar off -c "$T/dl/constraints-step1.txt" \
    python-tripleoclient tripleo-common tripleo-ansible 2>&1 | grep -v "^ *$" || true
  "$T/venv/bin/python3" -c 'import tripleoclient' || { echo "error: pip did not install tripleoclient" >&2; exit 1; }
fi
if ! have ansible-core "$(pin ansible-core)" || ! have ansible "$(pin ansible)" || [[ ! -x "$T/venv/bin/ansible-playbook" ]]; then
  step "pip: ansible-core 2.14 + ansible 7.7 collections in place of the ansible 2.9 validations-libs pulls"
  "${PIP[@]}" uninstall -q -y ansible 2>/dev/null || true
  # … then these (pip would warn that validations-libs wants ansible<2.10: the Zed playbooks need 2.14).
  "${PIP[@]}" install -q --progress-bar off -c "$CONSTRAINTS" ansible-core ansible 2>&1 | grep -v "validations-libs\|^ *$\|dependency resolver" || true
  # (a re-run after pip had put ansible 2.9 back owns the ansible-playbook script: reinstall it)
  "${PIP[@]}" install -q --progress-bar off --force-reinstall --no-deps "ansible-core==$(pin ansible-core)"
fi
"$T/venv/bin/ansible-playbook" --version | head -1 | grep -q "core 2.14" || { echo "error: ansible-core 2.14 missing" >&2; exit 1; }

# openstack.cloud 1.10.0 refuses openstacksdk > 0.98.999; Debian bookworm's is 0.101.0.
F="$T/venv/lib/python3.11/site-packages/ansible_collections/openstack/cloud/plugins/module_utils/openstack.py"
sed -i "s/^MAXIMUM_SDK_VERSION = '0.98.999'/MAXIMUM_SDK_VERSION = '0.101.999'/" "$F"
grep -q "^MAXIMUM_SDK_VERSION = '0.101.999'" "$F" || { echo "error: could not raise openstack.cloud's MAXIMUM_SDK_VERSION" >&2; exit 1; }

if [[ ! -f "$T/tht/roles_data.yaml" ]]; then
  step "the tripleo-heat-templates 18.0.0 tree (sdist)"
  THT_VERSION=$(sed -n 's/^tripleo-heat-templates==//p' "$CONSTRAINTS")
  "${PIP[@]}" download -q --no-deps --no-binary :all: "tripleo-heat-templates==$THT_VERSION" -d "$T/dl"
  rm -rf "$T/dl/tripleo-heat-templates-$THT_VERSION"
  tar -C "$T/dl" -xzf "$T/dl/tripleo-heat-templates-$THT_VERSION.tar.gz"
  ln -sfn "dl/tripleo-heat-templates-$THT_VERSION" "$T/tht"
fi

# The real OpenStack client: Debian's python3-openstackclient 6.0.0 run by the venv's Python, so it
# loads tripleoclient's `openstack overcloud …` commands from the venv.
cat >"$T/bin/openstack" <<EOS
#!/bin/sh
exec "$T/venv/bin/python3" -c 'import sys; sys.argv[0] = "openstack"; from openstackclient.shell import main; sys.exit(main(sys.argv[1:]))' "\$@"
EOS
chmod 755 "$T/bin/openstack"

# The /usr/share layer the lab mounts (read-only overlay, so any number of commands may mount it).
ln -sfn "$T/venv/share/ansible" "$T/usr-share/ansible"
ln -sfn "$T/tht" "$T/usr-share/openstack-tripleo-heat-templates"

"$T/venv/bin/python3" -c 'import tripleoclient, tripleo_common, heat, heatclient, ansible_runner' ||
  { echo "error: the TripleO venv does not import" >&2; exit 1; }
stamp >"$T/.stamp"
step "real TripleO installed in .tripleo ($(du -sm "$T" | cut -f1) MiB)"

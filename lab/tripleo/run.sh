#!/bin/bash
# Runs a command of the lab undercloud's real TripleO (lab/tripleo/README.md) as a real undercloud
# would have it: in a private mount namespace where
#   /usr/share is a read-only overlay that adds .tripleo/usr-share (ansible -> the venv's tripleo-ansible
#     playbooks/roles/plugins, openstack-tripleo-heat-templates -> the THT tree): tripleoclient hard-codes
#     those paths;
#   the user's passwd home is the lab's undercloud home (tripleoclient writes ansible.log, fact caches
#     and ~/.tripleo there by pw_dir, not by $HOME);
# and PATH puts the lab's hardware seam (<LAB_DIR>/bin/seam, from lab/tripleo/shims) before the venv.
# Nothing outside the lab and .tripleo changes on the host. Usage: run.sh <command> [args...]
# Needs: TRIPLEO_DIR, LAB_TRIPLEO_BIN (the seam's bin dir) and HOME (the lab's undercloud home).
set -e
: "${TRIPLEO_DIR:?}" "${LAB_TRIPLEO_BIN:?}" "${HOME:?}"
exec unshare -m --propagation private /bin/bash -c '
  set -e
  mount -t overlay lab-usr-share -o ro,lowerdir="$TRIPLEO_DIR/usr-share":/usr/share /usr/share
  pwhome=$(getent passwd "$(id -u)" | cut -d: -f6)
  if [ -n "$pwhome" ] && [ "$pwhome" != "$HOME" ] && [ -d "$pwhome" ]; then mount --bind "$HOME" "$pwhome"; fi
  export PATH="$LAB_TRIPLEO_BIN:$TRIPLEO_DIR/bin:$TRIPLEO_DIR/venv/bin:$PATH"
  cd "${LAB_TRIPLEO_CWD:-$HOME}"
  exec "$@"' lab-tripleo "$@"

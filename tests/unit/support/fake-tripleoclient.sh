#!/bin/sh
# A fake `openstack` for tests/unit/crud.test.ts. Behaves as python-tripleoclient 20.0.0 does for the commands the providers run here.
echo "$*" >> "$HOME/openstack.log"
die() { echo "$1" >&2; exit "${2:-1}"; }
case "$1 $2" in
"overcloud status")
  # v1/overcloud_deploy.py GetDeploymentStatus: a plain cliff Command (--plan/--stack, --working-dir).
  shift 2; stack=overcloud; wd=""
  while [ $# -gt 0 ]; do case "$1" in
    --stack|--plan) stack="$2"; shift 2 ;;
    --working-dir) wd="$2"; shift 2 ;;
    *) die "openstack overcloud status: error: unrecognized arguments: $*" 2 ;;
  esac; done
  st=$(sed -n 's/^deployment_status: *//p' "${wd:-$HOME/overcloud-deploy/$stack}/$stack-deployment_status.yaml" 2>/dev/null)
  [ -n "$st" ] || { echo "No deployment was found for $stack"; exit 0; }
  # PrettyTable(['Stack Name', 'Deployment Status']), one row.
  awk -v a="Stack Name" -v b="Deployment Status" -v s="$stack" -v t="$st" '
    function rep(ch, n,  o) { o = ""; while (n-- > 0) o = o ch; return o }
    function c(x, w,  l) { l = int((w - length(x)) / 2); return rep(" ", l) x rep(" ", w - length(x) - l) }
    BEGIN {
      w1 = (length(a) > length(s) ? length(a) : length(s)) + 2
      w2 = (length(b) > length(t) ? length(b) : length(t)) + 2
      sep = "+" rep("-", w1) "+" rep("-", w2) "+"
      print sep; print "|" c(a, w1) "|" c(b, w2) "|"; print sep; print "|" c(s, w1) "|" c(t, w2) "|"; print sep
    }' ;;
"overcloud delete")
  # v2/overcloud_delete.py DeleteOvercloud: without --skip-ipa-cleanup the playbook list starts
  # with tripleo-ipa's cli-cleanup-ipa.yml (not shipped with tripleo-ansible 6.0.0).
  shift 2; stack=""; yes=""; skip=""
  while [ $# -gt 0 ]; do case "$1" in
    -y|--yes) yes=1 ;; -s|--skip-ipa-cleanup) skip=1 ;;
    -b|--baremetal-deployment|--networks-file|--heat-type) shift ;;
    -*) die "openstack overcloud delete: error: unrecognized arguments: $1" 2 ;;
    *) stack="$1" ;;
  esac; shift; done
  [ -n "$yes" ] || die "Action not confirmed, exiting."
  [ -n "$skip" ] || die "RuntimeError: No such playbook: /usr/share/ansible/tripleo-playbooks/cli-cleanup-ipa.yml"
  rm -rf "$HOME/config-download/$stack" "$HOME/overcloud-deploy/$stack"
  echo "Success." ;;
"overcloud export")
  # v1/overcloud_export_ceph.py + export.py export_ceph.
  [ "$3" = ceph ] || die "unexpected: $*" 2
  shift 3; out=""; cdd=""; stacks=""; cephx=openstack
  while [ $# -gt 0 ]; do case "$1" in
    --stack) stacks="$2"; shift 2 ;;
    -o|--output-file) out="$2"; shift 2 ;;
    --config-download-dir) cdd="$2"; shift 2 ;;
    -k|--cephx-key-client-name) cephx="$2"; shift 2 ;;
    -f|--force-overwrite) shift ;;
    *) die "openstack overcloud export ceph: error: unrecognized arguments: $1" 2 ;;
  esac; done
  printf 'parameter_defaults:\n  CephExternalMultiConfig:\n' > "$out.tmp"
  for s in $(echo "$stacks" | tr , ' '); do
    d="${cdd:-$HOME/overcloud-deploy/$s/config-download}/$s"
    # os.listdir(<config-download-dir>/<stack>) must name 'cephadm' (or 'ceph-ansible').
    ls "$d" > /dev/null 2>&1 || die "FileNotFoundError: [Errno 2] No such file or directory: '$d'"
    ls "$d" | grep -qx cephadm ||
      die "UnboundLocalError: cannot access local variable 'ceph_data' where it is not associated with a value"
    cv="$HOME/overcloud-deploy/$s/ceph_client.yml"
    [ -f "$cv" ] || die "FileNotFoundError: [Errno 2] No such file or directory: '/home/stack/ceph_client.yaml'"
    printf '  - cluster: %s\n    fsid: %s\n    external_cluster_mon_ips: "%s"\n    keys: [{name: client.%s, key: %s}]\n    dashboard_enabled: false\n' \
      "$(sed -n 's/^tripleo_ceph_client_cluster: //p' "$cv")" "$(sed -n 's/^tripleo_ceph_client_fsid: //p' "$cv")" \
      "$(sed -n 's/^external_cluster_mon_ips: "\(.*\)"$/\1/p' "$cv")" "$cephx" \
      "$(sed -n "/name: client.$cephx\$/{n;s/^ *key: //p}" "$cv")" >> "$out.tmp"
  done
  mv "$out.tmp" "$out" ;;
"overcloud ceph")
  # v2/overcloud_ceph.py OvercloudCephDeploy: a new cephx key when the --ansible-extra-vars file
  # has tripleo_cephadm_pools and not tripleo_cephadm_keys; tripleo_ceph_client_vars is
  # <working dir>/ceph_client.yml (the CLI's own extra var wins over the file's).
  [ "$3" = deploy ] || die "unexpected: $*" 2
  shift 3; out=""; ev=""; stack=overcloud; cluster=ceph
  while [ $# -gt 0 ]; do case "$1" in
    -o|--output) out="$2"; shift 2 ;;
    --ansible-extra-vars) ev="$2"; shift 2 ;;
    --stack) stack="$2"; shift 2 ;;
    --cluster) cluster="$2"; shift 2 ;;
    --container-image-prepare|--network-data|--roles-data) shift 2 ;;
    -y|--yes|--force|--single-host-defaults) shift ;;
    -*) die "openstack overcloud ceph deploy: error: unrecognized arguments: $1" 2 ;;
    *) shift ;;
  esac; done
  if grep -q '^tripleo_cephadm_pools:' "$ev" && ! grep -q '^tripleo_cephadm_keys:' "$ev"; then
    key=$(head -c 28 /dev/urandom | base64 | tr -d '\n')
    echo "Generating tripleo_cephadm_keys" >> "$HOME/ceph-deploy.log"
  else
    key=$(sed -n 's/^ceph_client_key: *//p' "$ev" | tr -d "\"'")
  fi
  wd="$HOME/overcloud-deploy/$stack"; mkdir -p "$wd"
  fsid=$(printf '%s' "$cluster" | md5sum | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)\(.\{12\}\).*/\1-\2-\3-\4-\5/')
  printf -- '---\ntripleo_ceph_client_fsid: %s\ntripleo_ceph_client_cluster: %s\nexternal_cluster_mon_ips: "[v2:172.16.11.61:3300/0,v1:172.16.11.61:6789/0]"\nkeys:\n- name: client.openstack\n  key: %s\n  caps:\n    mgr: allow *\n    mon: profile rbd\n    osd: profile rbd pool=vms\n' \
    "$fsid" "$cluster" "$key" > "$wd/ceph_client.yml"
  printf 'parameter_defaults:\n  CephClusterFSID: %s\n  CephClusterName: %s\n  CephClientUserName: openstack\n  CephClientKey: %s\n' \
    "$fsid" "$cluster" "$key" > "$out" ;;
*) die "unexpected: $*" 2 ;;
esac

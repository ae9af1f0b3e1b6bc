/**
 * Commands on a site's overcloud nodes, the way an operator runs them from the undercloud:
 * `ssh tripleo-admin@<ctlplane ip> sudo cephadm shell --config /etc/ceph/<cluster>.conf --keyring
 * /etc/ceph/<cluster>.client.admin.keyring -- ceph|rbd …`.
 *
 * - Which node: a host cephadm labelled `_admin` (TripleO's mon hosts: deployed Ceph leaves the
 *   cluster's conf and admin keyring in their /etc/ceph), read from the stack's
 *   `~/overcloud-deploy/<stack>/generated_ceph_spec.yaml` (the spec `openstack overcloud ceph
 *   deploy` applied: `service_type: host` documents with `hostname`, `addr` = ctlplane address,
 *   `labels`). Values read from it are validated (hostname pattern, IP address) before use.
 * - The SSH key: the one tripleoclient's `get_key(stack)` gives the nodes' tripleo-admin user (the
 *   stack's `ssh_private_key`, else `~/.ssh/id_rsa_tripleo`, else `~/.ssh/id_rsa`). Host keys are
 *   not pinned, as in config-download's own ansible.cfg (nodes are re-provisioned on the same
 *   addresses).
 * - Quoting: the node's command is one shell word of the undercloud's command line (`shJoin` of
 *   its argv), itself a `shJoin` of every argument: two shells, each sees exactly the argv.
 */
import { parseAllDocuments } from "yaml";
import { HOST_NAME, shJoin } from "./shell";

/** IPv4 dotted quad or an IPv6 address (hex groups and colons). */
export const IP_ADDRESS = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$|^[0-9a-fA-F:]{2,39}$/;

/** The deployed Ceph spec of a stack on the undercloud (`~/`-relative). */
export function cephSpecPath(stack: string): string {
    return `~/overcloud-deploy/${stack}/generated_ceph_spec.yaml`;
}

export interface CephHost {
    hostname: string;
    addr: string;
    labels: string[];
}

/**
 * The hosts of a generated_ceph_spec.yaml. Documents that are not a well-formed host spec (bad
 * hostname or address) are rejected with an error naming them: nothing unchecked reaches a shell.
 */
export function parseCephSpecHosts(text: string): CephHost[] {
    const hosts: CephHost[] = [];
    for (const doc of parseAllDocuments(text)) {
        const d = doc.toJSON() as { service_type?: unknown; hostname?: unknown; addr?: unknown; labels?: unknown };
        if (!d || d.service_type !== "host") {
            continue;
        }
        if (typeof d.hostname !== "string" || !HOST_NAME.test(d.hostname)) {
            throw new Error(`Ceph spec: host ${JSON.stringify(d.hostname)} is not a valid hostname`);
        }
        if (typeof d.addr !== "string" || !IP_ADDRESS.test(d.addr)) {
            throw new Error(`Ceph spec: host ${d.hostname} has no valid address (${JSON.stringify(d.addr)})`);
        }
        const labels = Array.isArray(d.labels) ? d.labels.filter((l): l is string => typeof l === "string") : [];
        hosts.push({ hostname: d.hostname, addr: d.addr, labels });
    }
    return hosts;
}

/** The `_admin` hosts of a spec (they hold the cluster's conf and admin keyring), minus `exclude`. */
export function cephAdminHosts(text: string, exclude: readonly string[] = []): CephHost[] {
    return parseCephSpecHosts(text).filter((h) => h.labels.includes("_admin") && !exclude.includes(h.hostname));
}

/**
 * Runs its arguments after `--` on node `$2` of stack `$1` as tripleo-admin (a constant script: the
 * stack, address and command are positional arguments).
 */
export const NODE_SSH_SCRIPT = [
    's="$1"; ip="$2"; shift 2',
    'k=""; for f in "$HOME/overcloud-deploy/$s/ssh_private_key" "$HOME/.ssh/id_rsa_tripleo" "$HOME/.ssh/id_rsa"; do if [ -f "$f" ]; then k="$f"; break; fi; done',
    'exec ssh ${k:+-i "$k"} -o BatchMode=yes -o ConnectTimeout=20 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "tripleo-admin@$ip" "$@"',
].join("\n");

/** Undercloud argv running `remote` (an argv) on the node at `ip` of `stack`. */
export function nodeCommand(stack: string, ip: string, remote: readonly string[]): string[] {
    if (!IP_ADDRESS.test(ip)) {
        throw new Error(`node address ${JSON.stringify(ip)} is not an IP address`);
    }
    return ["sh", "-c", NODE_SSH_SCRIPT, "node-ssh", stack, ip, shJoin(remote)];
}

/** The node-side argv of a `ceph`/`rbd` command in cephadm's shell, as the cluster's admin. */
export function cephadmShell(cluster: string, command: readonly string[]): string[] {
    return [
        "sudo",
        "cephadm",
        "shell",
        "--config",
        `/etc/ceph/${cluster}.conf`,
        "--keyring",
        `/etc/ceph/${cluster}.client.admin.keyring`,
        "--",
        ...command,
    ];
}

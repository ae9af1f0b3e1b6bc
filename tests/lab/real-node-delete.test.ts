// `openstack overcloud node delete --baremetal-deployment` through the real python-tripleoclient
// 20.0.0 (LAB_TRIPLEO=real; no Heat involved): its unprovision prompt run lists the instances
// marked `provisioned: false`, the stack's config-download `scale_playbook.yaml` goes through the
// lab's hardware seam, then the unprovision; a second run finds nothing; node provision of the
// same file keeps the other instance's HostnameMap index and writes the removal policy
// (tripleo-ansible's baremetal_deploy.expand()). Skipped without real TripleO (npm run setup).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import { Lab, REPO, portFor } from "./helpers";

const tripleoDir = process.env.TRIPLEO_DIR ?? path.join(REPO, ".tripleo");
const installed = fs.existsSync(path.join(tripleoDir, "bin", "openstack"));

class RealLab extends Lab {
    env(): NodeJS.ProcessEnv {
        return { ...super.env(), LAB_TRIPLEO: "real", TRIPLEO_DIR: tripleoDir };
    }
}
// LAB_SSH_PORT: the port agreed for a real-mode lab on a shared machine (one real lab runs Heat).
const lab = new RealLab(Number(process.env.LAB_SSH_PORT ?? portFor("real-node-delete")), 0.02);

const file = (provisioned: boolean) => `- name: DistributedComputeHCIScaleOut
  count: ${provisioned ? 2 : 1}
  instances:
  - {hostname: oc0-ceph-2, name: oc0-ceph-2${provisioned ? "" : ", provisioned: false"}}
  - {hostname: oc0-ceph-4, name: oc0-spare-0}
  defaults:
    networks: [{network: ctlplane, vif: true}]
`;
const PROVISION = `cd ~/dcn/s1 && openstack overcloud node provision --stack s1 --templates ~/templates -o deployed-metal.yaml -y bm.yaml`;

before(async () => {
    if (!installed) return;
    lab.start();
    await lab.ok(
        `mkdir -p ~/dcn/s1 && cd ~/dcn/s1 && openstack overcloud network provision --templates ~/templates --output deployed-network.yaml ~/oc0-network-data.yaml`,
    );
    await lab.put("dcn/s1/bm.yaml", file(true));
    await lab.ok(PROVISION);
});
after(() => {
    if (installed) lab.destroy();
});

test(
    "real tripleoclient's node delete: prompt run, scale playbook, unprovision; indexes kept",
    { skip: !installed && "real TripleO not installed" },
    async () => {
        const metal0 = parse((await lab.ok(`cat ~/dcn/s1/deployed-metal.yaml`)).stdout).parameter_defaults;
        await lab.put("dcn/s1/bm.yaml", file(false));
        const noPlaybook = await lab.ssh(`cd ~/dcn/s1 && openstack overcloud node delete -y --stack s1 -b bm.yaml`);
        assert.notEqual(noPlaybook.code, 0, "a stack never deployed has no scale playbook");
        assert.match(
            noPlaybook.stdout + noPlaybook.stderr,
            /No such playbook: .*config-download\/s1\/scale_playbook\.yaml/,
        );
        // What a deploy's config-download leaves (THT deploy-steps.j2's scale_playbook).
        await lab.put("overcloud-deploy/s1/config-download/s1/scale_playbook.yaml", "- hosts: DEPLOY_TARGET_HOST\n");
        const del = await lab.ok(`cd ~/dcn/s1 && openstack overcloud node delete -y --stack s1 -b bm.yaml`);
        assert.match(del.stdout, /\| oc0-ceph-2 +\| oc0-ceph-2 +\|/);
        assert.ok(del.stdout.indexOf("PLAY [Scaling]") < del.stdout.indexOf("PLAY [Overcloud Node Unprovision]"));
        const again = await lab.ok(`cd ~/dcn/s1 && openstack overcloud node delete -y --stack s1 -b bm.yaml`);
        assert.match(again.stdout, /No nodes to unprovision/);
        const nodes = JSON.parse(lab.cli("state", "--json").stdout).nodes as Array<{
            name: string;
            stack: string | null;
        }>;
        assert.equal(nodes.find((n) => n.name === "oc0-ceph-2")!.stack, null);
        assert.equal(nodes.find((n) => n.name === "oc0-spare-0")!.stack, "s1");
        await lab.ok(PROVISION);
        const metal1 = parse((await lab.ok(`cat ~/dcn/s1/deployed-metal.yaml`)).stdout).parameter_defaults;
        assert.deepEqual(metal1.HostnameMap, metal0.HostnameMap);
        assert.deepEqual(metal1.DistributedComputeHCIScaleOutRemovalPolicies, [{ resource_list: [0] }]);
        assert.equal(metal1.DistributedComputeHCIScaleOutCount, 1);
        assert.deepEqual(Object.keys(metal1.DeployedServerPortMap), ["oc0-ceph-4-ctlplane"]);
    },
);

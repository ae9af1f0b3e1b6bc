// The COW boot the lab's `openstack server create --availability-zone <site>` performs at a site:
// Nova's libvirt rbd image backend clones the site's local copy of the Glance image
// (`images/<id>@snap`) into `vms/<server>_disk`. With NovaDisableImageDownloadToRbd (TripleO's
// dcn-storage.yaml: `[workarounds] never_download_image_if_on_rbd = True`) it refuses to boot when
// the image is not in that site's pool instead of downloading and re-uploading it.
import { cephClusterInfo } from "../ceph";
import { CephCommandError, runCommand } from "../ceph/commands";

/** Nova refused to boot because the image is not in the site's Ceph (NovaDisableImageDownloadToRbd). */
export class ImageNotOnRbdError extends Error {
    constructor(
        readonly imageId: string,
        readonly cluster: string,
    ) {
        super(
            `Image ${imageId} is not on my ceph (cluster ${cluster}, pool images) and ` +
                `[workarounds]/never_download_image_if_on_rbd=True; refusing to fetch and upload.`,
        );
        this.name = "ImageNotOnRbdError";
    }
}

/** cephx user Nova uses at a TripleO site (CephClientUserName). */
const NOVA_CEPH_USER = "openstack";

/**
 * Clones `images/<imageId>@snap` into `vms/<serverId>_disk` on the cluster in `cephDir` as
 * client.openstack, as Nova does at boot. Throws ImageNotOnRbdError when that site's pool has no
 * protected `snap` of the image. Returns the disk and its parent as `rbd info` reports it.
 */
export async function cowBootFromStore(
    cephDir: string,
    imageId: string,
    serverId: string,
): Promise<{ disk: string; parent: string }> {
    const info = await cephClusterInfo(cephDir);
    if (!info) throw new Error(`no Ceph cluster in ${cephDir}`);
    const rbd = (args: string[]) =>
        runCommand("rbd", ["-c", info.confPath, "--id", NOVA_CEPH_USER, ...args], { timeoutMs: 60_000 });
    const snap = `images/${imageId}@snap`;
    let snapInfo: { protected?: string };
    try {
        snapInfo = JSON.parse(await rbd(["info", "--format", "json", snap])) as { protected?: string };
    } catch (err) {
        if (err instanceof CephCommandError && /No such file or directory|\(2\)/.test(err.stderr)) {
            throw new ImageNotOnRbdError(imageId, info.name);
        }
        throw err;
    }
    if (snapInfo.protected !== "true") throw new ImageNotOnRbdError(imageId, info.name);
    const disk = `vms/${serverId}_disk`;
    await rbd(["clone", snap, disk]);
    const diskInfo = JSON.parse(await rbd(["info", "--format", "json", disk])) as {
        parent?: { pool: string; image: string; snapshot: string };
    };
    if (!diskInfo.parent) throw new Error(`rbd clone of ${snap} into ${disk} on ${info.name} has no parent`);
    return { disk, parent: `${diskInfo.parent.pool}/${diskInfo.parent.image}@${diskInfo.parent.snapshot}` };
}

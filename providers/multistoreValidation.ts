/**
 * MultistoreValidation — the seed's purpose checked as part of `pulumi up` (tripleo-dcn.md §6): the
 * flow of tools/validate (`validateMultistore`, also behind `npm run validate`) run over the one SSH
 * transport (pinned host key) after every site's OvercloudStack, as an operator would on a real
 * cloud: the overcloud APIs from the undercloud with the central rc (`glance stores-info`, an image
 * created in the central store and copied with copy-image to every DCN store, a server booted with
 * `--wait` on a flavor the run creates and the configured `--nic` in each site's AZ), and the RBD
 * checks on each site's own Ceph through one of its nodes (`ssh tripleo-admin@<ctlplane ip> sudo
 * cephadm shell -- rbd info`: `images/<id>@snap` protected, the server's root disk a clone of it).
 *
 *   create/update → run the flow; every site is checked even when another fails. Any failure (a
 *                   leak at cleanup included) fails the operation with a message naming each
 *                   failing site and what is wrong (the resource is then not recorded, so the next
 *                   `up` runs it again). Outputs: image id, stores, per site {copied, snapProtected,
 *                   cowBoot}, seconds.
 *   re-runs       → when any input that the flow consumes changes: the sites, the central rc file,
 *                   `keep`, the NIC choice, and `stackSpecs` (every stack's deploy spec, so any
 *                   redeploy re-runs the validation).
 *   read          → returns the stored result (a point-in-time check; refresh shows no drift).
 *   delete        → nothing remote: without `keep` the flow already deleted its servers, image and
 *                   flavor (in that order: the servers' clones keep the image's snapshot protected);
 *                   with `keep` they stay for the operator (and go with the stacks' delete).
 *
 * The provider captures only functions and plain data: the flow (tools/validate/validate.ts, pure
 * TypeScript over an `exec` callback), the SSH transport and the shared helpers.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { validateMultistore } from "../tools/validate/validate";
import {
    BaseInputs,
    DiffPolicy,
    baseShape,
    checkWith,
    diffByPolicy,
    diffResult,
    guardChanges,
    progress,
    remotePath,
    targetOf,
    unk,
    updateByPolicy,
} from "./common";
import { BaseArgs, DcnResource } from "./resource";
import { exec } from "./remote/ssh";
import { knownSecrets } from "./remote/redact";
import { AZ_NAME, CEPH_CLUSTER_NAME, GLANCE_STORE_ID, NETWORK_CHOICE, STACK_NAME } from "./remote/shell";
import { traced } from "./remote/trace";

export const PROVIDER_VERSION = "3"; // 2: RBD checks through the sites' nodes, own flavor, --wait, --nic; 3: stackSpecs

/** One DCN site to validate. */
export interface ValidationTarget {
    /** Site (stack) name: the key of the per-site results. */
    name: string;
    /** Its Glance store id in the central Glance. */
    store: string;
    /** Its Nova availability zone (where the COW boot lands). */
    az: string;
    /** TripleO stack (its deployed Ceph spec names the nodes the RBD checks run on). */
    stack: string;
    cephCluster: string;
}

export interface MultistoreValidationInputs extends BaseInputs {
    /** Central stack's rc file on the undercloud. */
    rcFile: string;
    targets: ValidationTarget[];
    /** Keep the image and servers after the run. */
    keep: boolean;
    /** Stack name → deploy spec (OvercloudStack.deploySpec): any redeploy re-runs the validation. */
    stackSpecs: Record<string, string>;
    /** Budget of the copy-image wait, minutes. */
    copyTimeoutMinutes: number;
    /** Budget of a server's boot (and delete), minutes. */
    bootTimeoutMinutes: number;
    /** NIC of the test servers: `none`, `auto` or a network name/id. */
    network: string;
}

export interface SiteValidation {
    copied: boolean;
    snapProtected: boolean;
    cowBoot: boolean;
}

export interface MultistoreValidationOutputs extends MultistoreValidationInputs {
    /** The test image (deleted after the run unless `keep`). */
    image: string;
    /** Stores the image was in after copy-image. */
    stores: string[];
    sites: Record<string, SiteValidation>;
    ok: boolean;
    seconds: number;
    validatedAt: string;
}

export const POLICY: DiffPolicy = {
    replace: [],
    update: ["rcFile", "targets", "keep", "stackSpecs", "network"],
    quiet: ["undercloud", "privateKey", "providerVersion", "copyTimeoutMinutes", "bootTimeoutMinutes"],
    adopted: ["stackSpecs"],
};

export function inputSchema() {
    return z.object({
        ...baseShape(),
        rcFile: remotePath(),
        targets: unk(
            z.array(
                unk(
                    z.object({
                        name: unk(z.string().regex(STACK_NAME)),
                        store: unk(z.string().regex(GLANCE_STORE_ID)),
                        az: unk(z.string().regex(AZ_NAME)),
                        stack: unk(z.string().regex(STACK_NAME)),
                        cephCluster: unk(z.string().regex(CEPH_CLUSTER_NAME)),
                    }),
                ),
            ),
        ),
        keep: unk(z.boolean()),
        stackSpecs: unk(z.record(z.string(), unk(z.string()))),
        copyTimeoutMinutes: unk(z.number().positive()),
        bootTimeoutMinutes: unk(z.number().positive()),
        network: unk(z.string().regex(NETWORK_CHOICE)),
    });
}

/** The failure message of a report: the flow's error, then each site: why it failed, or "passed". */
export function failureMessage(r: {
    error?: string;
    sites: Record<string, { error?: string }>;
    image: string | null;
}): string {
    const lines = [`multistore validation failed (image ${r.image ?? "none"}):`];
    if (r.error) {
        lines.push(`  ${r.error}`);
    }
    for (const [site, s] of Object.entries(r.sites)) {
        lines.push(`  site ${site}: ${s.error ?? "passed"}`);
    }
    return lines.join("\n");
}

async function validate(inputs: MultistoreValidationInputs): Promise<MultistoreValidationOutputs> {
    const t = targetOf(inputs);
    const log = progress("multistore validation", knownSecrets(inputs));
    const report = await validateMultistore({
        exec: (command: string, timeoutMs?: number) => exec(t, command, { timeoutMs }),
        sites: inputs.targets.map((s) => ({
            name: s.name,
            store: s.store,
            az: s.az,
            stack: s.stack,
            cephCluster: s.cephCluster,
        })),
        rcFile: inputs.rcFile,
        keep: inputs.keep,
        copyTimeoutMs: inputs.copyTimeoutMinutes * 60000,
        bootTimeoutMs: inputs.bootTimeoutMinutes * 60000,
        network: inputs.network,
        log,
    });
    if (!report.ok) {
        throw new Error(failureMessage(report));
    }
    const sites: Record<string, SiteValidation> = {};
    for (const [name, s] of Object.entries(report.sites)) {
        sites[name] = { copied: s.copied, snapProtected: s.snapProtected, cowBoot: s.cowBoot };
    }
    log(`passed in ${report.seconds} s: image ${report.image} in ${report.stores.join(",")}`);
    return {
        ...inputs,
        image: report.image ?? "",
        stores: report.stores,
        sites,
        ok: report.ok,
        seconds: report.seconds,
        validatedAt: new Date().toISOString(),
    };
}

export const multistoreValidationProvider: pulumi.dynamic.ResourceProvider = traced("MultistoreValidation", {
    async check(olds: MultistoreValidationInputs, news: MultistoreValidationInputs) {
        const r = checkWith(inputSchema(), news);
        r.failures.push(...guardChanges(POLICY, olds, news, () => ""));
        return r;
    },

    async diff(_id: string, olds: MultistoreValidationOutputs, news: MultistoreValidationInputs) {
        // POLICY has no replace keys: deleteBeforeReplace is always false.
        return diffResult(diffByPolicy(POLICY, olds, news));
    },

    async create(inputs: MultistoreValidationInputs) {
        return { id: "multistore-validation", outs: await validate(inputs) };
    },

    async read(id: string, props: MultistoreValidationOutputs) {
        return { id, props };
    },

    async update(_id: string, olds: MultistoreValidationOutputs, news: MultistoreValidationInputs) {
        return updateByPolicy(POLICY, olds, news, () => validate(news));
    },

    async delete() {
        // Nothing remote (see the header).
    },
});

export interface MultistoreValidationArgs extends BaseArgs {
    /** Central stack's rc file (OvercloudStack.rcFile of central). */
    rcFile: pulumi.Input<string>;
    /** The DCN sites to check. */
    targets: pulumi.Input<pulumi.Input<ValidationTarget>[]>;
    /** Keep the test image and servers; default false. */
    keep?: pulumi.Input<boolean>;
    /** Stack name → deploy spec of every site (any redeploy re-runs the validation). */
    stackSpecs: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** copy-image wait, minutes; default 5. */
    copyTimeoutMinutes?: pulumi.Input<number>;
    /** A server's boot (and delete) wait, minutes; default 10. */
    bootTimeoutMinutes?: pulumi.Input<number>;
    /** NIC of the test servers: `none` (default), `auto` or a network name/id. */
    network?: pulumi.Input<string>;
}

/** The multistore validation result (`pulumi-nodejs:dynamic/dcn:MultistoreValidation`). */
export class MultistoreValidation extends DcnResource {
    declare public readonly image: pulumi.Output<string>;
    declare public readonly stores: pulumi.Output<string[]>;
    declare public readonly sites: pulumi.Output<Record<string, SiteValidation>>;
    declare public readonly ok: pulumi.Output<boolean>;
    declare public readonly seconds: pulumi.Output<number>;
    declare public readonly validatedAt: pulumi.Output<string>;

    constructor(name: string, args: MultistoreValidationArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            multistoreValidationProvider,
            name,
            args,
            {
                type: "MultistoreValidation",
                providerVersion: PROVIDER_VERSION,
                defaults: {
                    keep: args.keep ?? false,
                    copyTimeoutMinutes: args.copyTimeoutMinutes ?? 5,
                    bootTimeoutMinutes: args.bootTimeoutMinutes ?? 10,
                    network: args.network ?? "none",
                },
                outputs: ["image", "stores", "sites", "ok", "seconds", "validatedAt"],
            },
            opts,
        );
    }
}

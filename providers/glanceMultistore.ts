/**
 * GlanceMultistore — renders one site's Glance env file and writes it to the undercloud.
 *
 * Central: its default rbd store plus one rbd store per DCN site. A DCN site: its own store as the
 * default plus central's. (reference §4.5)
 *
 *   create/update → render, write (atomic, 0600), output path + content hash.
 *   read          → hash of the remote file (drift: a hand-edited or deleted file shows as a diff,
 *                   because diff compares that hash with the hash of what the inputs render).
 *   delete        → remove the file.
 */
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { z } from "zod";
import {
    BaseInputs,
    DiffPolicy,
    baseShape,
    checkWith,
    containsUnknown,
    derive,
    diffByPolicy,
    diffResult,
    guardChanges,
    moveFiles,
    remotePath,
    sha256,
    targetOf,
    unk,
} from "./common";
import { BaseArgs, DcnResource } from "./resource";
import { readFile, remoteHome, removeFiles, writeFile } from "./remote/jobs";
import { CEPH_CLUSTER_NAME, GLANCE_STORE_ID, STACK_NAME } from "./remote/shell";
import { traced } from "./remote/trace";

// ---------------------------------------------------------------- inputs and outputs

export const PROVIDER_VERSION = "2"; // 2: contentHash and storeIds derived by check

/** One extra (non-default) rbd store. */
export interface GlanceStore {
    id: string;
    cephClusterName: string;
    description: string;
    /** Default `openstack`. */
    clientUserName?: string;
}

export interface GlanceMultistoreInputs extends BaseInputs {
    stack: string;
    /** Env file path on the undercloud. */
    file: string;
    /** GlanceBackendID of the site's default store. */
    backendId: string;
    description: string;
    stores: GlanceStore[];
    /** GlanceEnabledImportMethods. */
    importMethods: string;
    /** GlanceShowMultipleLocations (central). */
    showMultipleLocations: boolean;
}

export interface GlanceMultistoreOutputs extends GlanceMultistoreInputs {
    contentHash: string;
    /** Every store id the site's Glance knows, default first. */
    storeIds: string[];
}

// ---------------------------------------------------------------- diff policy

/** No identity key: a new `file` (settings.workRoot moved) writes it there and removes the old one. */
export const POLICY: DiffPolicy = {
    replace: [],
    update: ["stack", "backendId", "description", "stores", "importMethods", "showMultipleLocations", "file"],
    quiet: ["undercloud", "privateKey", "providerVersion"],
    location: "file",
    derived: ["contentHash", "storeIds"],
};

export function inputSchema() {
    return z.object({
        ...baseShape(),
        stack: unk(z.string().regex(STACK_NAME)),
        file: remotePath(),
        backendId: unk(z.string().regex(GLANCE_STORE_ID)),
        description: unk(z.string().max(200)),
        stores: unk(
            z.array(
                unk(
                    z.object({
                        id: unk(z.string().regex(GLANCE_STORE_ID)),
                        cephClusterName: unk(z.string().regex(CEPH_CLUSTER_NAME)),
                        description: unk(z.string().max(200)),
                        clientUserName: unk(z.string().regex(/^[a-z][a-z0-9_-]*$/)).optional(),
                    }),
                ),
            ),
        ),
        importMethods: unk(z.string().regex(/^[a-z-]+(,[a-z-]+)*$/)),
        showMultipleLocations: unk(z.boolean()),
    });
}

// ---------------------------------------------------------------- provider

export const glanceMultistoreProvider: pulumi.dynamic.ResourceProvider = traced("GlanceMultistore", {
    async check(olds: GlanceMultistoreInputs, news: GlanceMultistoreInputs) {
        const r = checkWith(inputSchema(), news);
        r.failures.push(...guardChanges(POLICY, olds, news, () => ""));
        if (r.failures.length === 0 && !containsUnknown(news.stores) && !containsUnknown(news.backendId)) {
            for (const p of storeProblems(news.backendId, news.stores)) {
                r.failures.push({ property: "stores", reason: p });
            }
        }
        if (r.failures.length === 0) {
            r.inputs = await derive(olds, news, () => derivedOf(news));
        }
        return r;
    },

    async diff(_id: string, olds: GlanceMultistoreOutputs, news: GlanceMultistoreInputs) {
        // Drift: the remote file (hash recorded by create/read) is not what the inputs render.
        const drift =
            !containsUnknown(news) &&
            inputSchema().safeParse(news).success &&
            olds.contentHash !== sha256(renderGlanceEnv(news));
        return diffResult(diffByPolicy(POLICY, olds, news), drift);
    },

    async create(inputs: GlanceMultistoreInputs) {
        return { id: `${inputs.stack}/glance`, outs: await write(inputs) };
    },

    async read(id: string, props: GlanceMultistoreOutputs) {
        const text = await readFile(targetOf(props), props.file);
        if (text === undefined) {
            return { id: "", props: {} };
        }
        return { id, props: { ...props, contentHash: sha256(text) } };
    },

    async update(_id: string, olds: GlanceMultistoreOutputs, news: GlanceMultistoreInputs) {
        // Writing the file is cheap and idempotent: every update rewrites it, at its new place
        // when it moved (the old copy is moved there first, so none is left behind).
        if (olds.file !== news.file) {
            const t = targetOf(news);
            await moveFiles(t, await remoteHome(t), [{ from: olds.file, to: news.file }]);
        }
        return { outs: await write(news) };
    },

    async delete(_id: string, props: GlanceMultistoreOutputs) {
        await removeFiles(targetOf(props), [props.file]);
    },
});

async function write(inputs: GlanceMultistoreInputs): Promise<GlanceMultistoreOutputs> {
    const content = renderGlanceEnv(inputs);
    await writeFile(targetOf(inputs), inputs.file, content);
    return { ...inputs, contentHash: sha256(content), storeIds: storeIdsOf(inputs) };
}

/** Every store id of the site's Glance, its own first. */
function storeIdsOf(inputs: GlanceMultistoreInputs): string[] {
    return [inputs.backendId, ...inputs.stores.map((s) => s.id)];
}

/**
 * What check derives (`derive` in providers/common.ts): the file's content hash (the deploy's
 * consumed spec) and the store ids, both functions of the inputs, so known at preview.
 */
export function derivedOf(inputs: GlanceMultistoreInputs): Record<string, unknown> {
    if (containsUnknown(inputs)) {
        return { contentHash: undefined, storeIds: undefined };
    }
    return { contentHash: sha256(renderGlanceEnv(inputs)), storeIds: storeIdsOf(inputs) };
}

// ---------------------------------------------------------------- pure helpers

/** Store id collisions (the default id must not be a multistore key; ids unique). */
export function storeProblems(backendId: string, stores: GlanceStore[]): string[] {
    const problems: string[] = [];
    const seen = new Set<string>([backendId]);
    for (const s of stores) {
        if (seen.has(s.id)) {
            problems.push(`Glance store id ${s.id} is used twice (the default store is ${backendId})`);
        }
        seen.add(s.id);
    }
    return problems;
}

/** The site's Glance env file (parameter_defaults). */
export function renderGlanceEnv(
    i: Pick<GlanceMultistoreInputs, "backendId" | "description" | "stores" | "importMethods" | "showMultipleLocations">,
): string {
    const pd: Record<string, unknown> = {
        GlanceBackend: "rbd",
        GlanceBackendID: i.backendId,
        GlanceStoreDescription: i.description,
        GlanceEnabledImportMethods: i.importMethods,
    };
    if (i.showMultipleLocations) {
        pd.GlanceShowMultipleLocations = true;
    }
    const multi: Record<string, unknown> = {};
    for (const s of i.stores) {
        multi[s.id] = {
            GlanceBackend: "rbd",
            GlanceStoreDescription: s.description,
            CephClientUserName: s.clientUserName ?? "openstack",
            CephClusterName: s.cephClusterName,
        };
    }
    if (i.stores.length > 0) {
        pd.GlanceMultistoreConfig = multi;
    }
    return "# generated by dcn-storage (GlanceMultistore); do not edit\n" + stringify({ parameter_defaults: pd });
}

// ---------------------------------------------------------------- resource

export interface GlanceMultistoreArgs extends BaseArgs {
    /** TripleO stack whose deploy consumes the file. */
    stack: pulumi.Input<string>;
    /** Env file path on the undercloud (identity). */
    file: pulumi.Input<string>;
    /** GlanceBackendID of the site's default store. */
    backendId: pulumi.Input<string>;
    /** Description of the default store; default `<id> rbd glance store`. */
    description?: pulumi.Input<string>;
    /** Extra rbd stores (central: one per DCN site; DCN: central). */
    stores: pulumi.Input<pulumi.Input<GlanceStore>[]>;
    /** GlanceEnabledImportMethods; default `web-download,copy-image` (copy-image is needed to copy between sites). */
    importMethods?: pulumi.Input<string>;
    /** GlanceShowMultipleLocations; default false. */
    showMultipleLocations?: pulumi.Input<boolean>;
}

/** A site's Glance multistore env file (`pulumi-nodejs:dynamic/dcn:GlanceMultistore`). */
export class GlanceMultistore extends DcnResource {
    declare public readonly file: pulumi.Output<string>;
    declare public readonly contentHash: pulumi.Output<string>;
    declare public readonly storeIds: pulumi.Output<string[]>;

    constructor(name: string, args: GlanceMultistoreArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            glanceMultistoreProvider,
            name,
            args,
            {
                type: "GlanceMultistore",
                providerVersion: PROVIDER_VERSION,
                defaults: {
                    description: args.description ?? pulumi.interpolate`${args.backendId} rbd glance store`,
                    importMethods: args.importMethods ?? "web-download,copy-image",
                    showMultipleLocations: args.showMultipleLocations ?? false,
                },
                outputs: ["contentHash", "storeIds"],
            },
            opts,
        );
    }
}

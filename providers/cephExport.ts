/**
 * CephExport — `openstack overcloud export ceph` for one or several stacks.
 *
 *   create/update → `export ceph -f --stack a,b --config-download-dir ~/overcloud-deploy/
 *                   --output-file <file>` as a detached job (an SSH drop re-attaches instead of
 *                   exporting twice; a hang is stopped at the program's timeout), then parse the file.
 *   read          → parse the file again; gone when it is missing.
 *   delete        → remove the file, the cephadm marker dirs and the export's jobs.
 *   A new `outputFile` (settings.workRoot moved) moves the file there; with nothing else changed
 *   that is the whole update (no new export).
 *
 * Several stacks go in ONE export on purpose: `CephExternalMultiConfig` is a list parameter and
 * a later `-e` file replaces it rather than merging, so the central deploy must get every DCN
 * cluster from a single file.
 */
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { z } from "zod";
import {
    BaseInputs,
    DiffPolicy,
    baseShape,
    checkWith,
    derive,
    diffByPolicy,
    diffResult,
    guardChanges,
    moveFiles,
    progress,
    stepProgress,
    remotePath,
    sha256,
    specOf,
    targetOf,
    unk,
    updateByPolicy,
} from "./common";
import { BaseArgs, DcnResource } from "./resource";
import { pruneJobs, readFile, remoteHome, removeFiles, run, runJob } from "./remote/jobs";
import { knownSecrets } from "./remote/redact";
import { STACK_NAME, expandHome } from "./remote/shell";
import { traced } from "./remote/trace";

// ---------------------------------------------------------------- inputs and outputs

export const PROVIDER_VERSION = "3"; // 2: cephadm marker dirs, jobs pruned on delete, step progress; 3: sourceSpecs consumed, exportSpec derived by check

export interface CephExportInputs extends BaseInputs {
    /** Stacks exported, in order (one CephExternalMultiConfig item each). */
    stacks: string[];
    /** Export file on the undercloud. */
    outputFile: string;
    /**
     * What each exported cluster's export holds comes from (components/site.ts cephIdentity: the
     * cluster made, its key generation, its mon hosts): a change re-exports.
     */
    sourceSpecs: string[];
    /** `--cephx-key-client-name` (default openstack). */
    keyClientName: string;
    /**
     * `--config-download-dir`; "" (the default): a dir next to the export file holding only
     * `<stack>/cephadm/` for each stack. tripleoclient's export.py export_ceph lists
     * `<config-download-dir>/<stack>` to tell cephadm from ceph-ansible, then reads cephadm's data
     * from `~/overcloud-deploy/<stack>/ceph_client.yml` (written by `ceph deploy` with pools and
     * keys). A stack's own config-download exists only once it is deployed, and the seed order
     * exports the DCN clusters before that: without the marker the real command crashes.
     */
    configDownloadDir: string;
    /** Own deadline of the job, minutes. */
    timeoutMinutes: number;
}

/** One item of CephExternalMultiConfig. */
export interface ExternalCephCluster {
    cluster: string;
    fsid: string;
    monIps: string;
    keys: Array<{ name: string; key: string }>;
}

export interface CephExportOutputs extends CephExportInputs {
    /** Parsed CephExternalMultiConfig (secret: it holds cephx keys). */
    clusters: ExternalCephCluster[];
    /** sha256 of the export file (refresh records what is there). */
    exportHash: string;
    /** What the export is made of: the stacks deploying with it re-run when it changes. Derived by check. */
    exportSpec: string;
}

// ---------------------------------------------------------------- diff policy

/** No identity key: the export is a file, and a new `outputFile` moves it (never a delete-first replace). */
export const POLICY: DiffPolicy = {
    replace: [],
    update: ["stacks", "sourceSpecs", "keyClientName", "configDownloadDir", "outputFile"],
    quiet: ["undercloud", "privateKey", "providerVersion", "timeoutMinutes"],
    location: "outputFile",
    derived: ["exportSpec"],
    adopted: ["sourceSpecs"],
};

/** What check derives (`derive` in providers/common.ts): the export's spec (not its path: a move is no new export). */
export function derivedOf(inputs: CephExportInputs): Record<string, unknown> {
    return { exportSpec: exportSpecOf(inputs) };
}

/** The export's spec (undefined while an input is unknown). */
export function exportSpecOf(inputs: CephExportInputs): string | undefined {
    const { stacks, sourceSpecs, keyClientName } = inputs;
    return specOf({ stacks, sourceSpecs, keyClientName });
}

export function inputSchema() {
    const path = remotePath();
    return z.object({
        ...baseShape(),
        stacks: unk(z.array(unk(z.string().regex(STACK_NAME))).min(1)),
        outputFile: path,
        sourceSpecs: unk(z.array(unk(z.string()))),
        keyClientName: unk(z.string().regex(/^[a-z][a-z0-9_-]*$/)),
        configDownloadDir: z.union([path, z.literal("")]),
        timeoutMinutes: unk(z.number().positive()),
    });
}

// ---------------------------------------------------------------- provider

export const cephExportProvider: pulumi.dynamic.ResourceProvider = traced("CephExport", {
    async check(olds: CephExportInputs, news: CephExportInputs) {
        const r = checkWith(inputSchema(), news);
        r.failures.push(...guardChanges(POLICY, olds, news, () => ""));
        if (r.failures.length === 0) {
            r.inputs = await derive(olds, news, () => derivedOf(news));
        }
        return r;
    },

    async diff(_id: string, olds: CephExportOutputs, news: CephExportInputs) {
        return diffResult(diffByPolicy(POLICY, olds, news));
    },

    async create(inputs: CephExportInputs) {
        return { id: inputs.stacks.join(","), outs: await exportCeph(inputs) };
    },

    async read(id: string, props: CephExportOutputs) {
        const text = await readFile(targetOf(props), props.outputFile);
        if (text === undefined) {
            return { id: "", props: {} };
        }
        return { id, props: { ...props, clusters: parseCephExport(text), exportHash: sha256(text) } };
    },

    async update(_id: string, olds: CephExportOutputs, news: CephExportInputs) {
        return updateByPolicy(
            POLICY,
            olds,
            news,
            () => exportCeph(news, olds),
            false,
            async (move, home) => {
                const missing = await moveFiles(targetOf(news), home, [
                    { from: olds.outputFile, to: news.outputFile, required: true },
                ]);
                if (missing.length > 0) {
                    return undefined;
                }
                progress(`export ceph ${news.stacks.join(",")}`)(`moved ${olds.outputFile} to ${news.outputFile}`);
                return { ...olds, ...news };
            },
        );
    },

    async delete(_id: string, props: CephExportOutputs) {
        const t = targetOf(props);
        const home = await remoteHome(t);
        await removeFiles(t, [props.outputFile]);
        if (!props.configDownloadDir) {
            // The cephadm marker dir this resource made (only empty dirs; never a real config-download).
            await run(t, ["sh", "-c", 'rm -rf -- "$1"', "sh", exportConfigDownloadDir(props, home)]);
        }
        await pruneJobs(t, [{ stack: props.stacks.join(","), step: "export-ceph" }]);
    },
});

/** `olds`: the previous outputs on update (their cephx keys are redacted from the job's output). */
async function exportCeph(inputs: CephExportInputs, olds?: CephExportOutputs): Promise<CephExportOutputs> {
    const t = targetOf(inputs);
    const home = await remoteHome(t);
    const argv = exportCommand(inputs, home);
    const job = await runJob(t, {
        stack: inputs.stacks.join(","),
        step: "export-ceph",
        // A redeployed cluster is a new export: the same argv must not re-attach to the old job.
        identity: sha256(inputs.sourceSpecs.join(",")),
        timeoutMs: inputs.timeoutMinutes * 60000,
        report: stepProgress(inputs, inputs.stacks.join("+"), "export-ceph"),
        secrets: knownSecrets(inputs, olds),
        commands: [
            { argv: ["mkdir", "-p", "--", expandHome(inputs.outputFile, home).replace(/\/[^/]*$/, "") || "/"] },
            ...(inputs.configDownloadDir
                ? []
                : [
                      {
                          argv: [
                              "mkdir",
                              "-p",
                              "--",
                              ...inputs.stacks.map((s) => `${exportConfigDownloadDir(inputs, home)}/${s}/cephadm`),
                          ],
                      },
                  ]),
            { argv },
        ],
        // Read by the exec that sees the job end (one round trip).
        collect: [inputs.outputFile],
    });
    const text = job.files[inputs.outputFile];
    if (text === undefined) {
        throw new Error(`export ceph of ${inputs.stacks.join(",")} succeeded but ${inputs.outputFile} is missing`);
    }
    const clusters = parseCephExport(text);
    const got = clusters.map((c) => c.cluster);
    if (clusters.length !== inputs.stacks.length) {
        throw new Error(
            `export ceph of ${inputs.stacks.join(",")} produced ${clusters.length} clusters (${got.join(",")})`,
        );
    }
    return { ...inputs, clusters, exportHash: sha256(text), exportSpec: exportSpecOf(inputs) ?? "" };
}

// ---------------------------------------------------------------- remote commands

/** The `--config-download-dir` of the export (see CephExportInputs.configDownloadDir). */
export function exportConfigDownloadDir(inputs: CephExportInputs, home: string): string {
    if (inputs.configDownloadDir) {
        return expandHome(inputs.configDownloadDir, home);
    }
    const out = expandHome(inputs.outputFile, home);
    return `${out.replace(/\/[^/]*$/, "") || "/"}/.config-download-${out.replace(/^.*\//, "").replace(/\.ya?ml$/, "")}`;
}

export function exportCommand(inputs: CephExportInputs, home: string): string[] {
    return [
        "openstack",
        "overcloud",
        "export",
        "ceph",
        "-f",
        "--stack",
        inputs.stacks.join(","),
        "--cephx-key-client-name",
        inputs.keyClientName,
        "--config-download-dir",
        exportConfigDownloadDir(inputs, home),
        "--output-file",
        expandHome(inputs.outputFile, home),
    ];
}

// ---------------------------------------------------------------- pure helpers

/** Parses `CephExternalMultiConfig` of an export file (§4.3). */
export function parseCephExport(text: string): ExternalCephCluster[] {
    const doc = (parse(text) ?? {}) as { parameter_defaults?: { CephExternalMultiConfig?: unknown[] } };
    const items = doc.parameter_defaults?.CephExternalMultiConfig ?? [];
    return items.map((raw) => {
        const it = raw as Record<string, unknown>;
        const keys = (Array.isArray(it.keys) ? it.keys : []) as Array<Record<string, unknown>>;
        return {
            cluster: String(it.cluster ?? ""),
            fsid: String(it.fsid ?? ""),
            monIps: String(it.external_cluster_mon_ips ?? ""),
            keys: keys.map((k) => ({ name: String(k.name ?? ""), key: String(k.key ?? "") })),
        };
    });
}

// ---------------------------------------------------------------- resource

export interface CephExportArgs extends BaseArgs {
    /** Stacks to export, in order. */
    stacks: pulumi.Input<pulumi.Input<string>[]>;
    /** Export file on the undercloud (absolute or `~/`). Identity. */
    outputFile: pulumi.Input<string>;
    /** What each exported cluster's export holds comes from (components/site.ts cephIdentity). */
    sourceSpecs: pulumi.Input<pulumi.Input<string>[]>;
    /** Exported key's client name; default `openstack`. */
    keyClientName?: pulumi.Input<string>;
    /** `--config-download-dir`; default a marker dir next to the export file (see CephExportInputs). */
    configDownloadDir?: pulumi.Input<string>;
    /** Own deadline of the export job, minutes; default 30. */
    timeoutMinutes?: pulumi.Input<number>;
}

/** A ceph export env file (`pulumi-nodejs:dynamic/dcn:CephExport`). */
export class CephExport extends DcnResource {
    declare public readonly outputFile: pulumi.Output<string>;
    /** Secret: holds cephx keys. */
    declare public readonly clusters: pulumi.Output<ExternalCephCluster[]>;
    declare public readonly exportHash: pulumi.Output<string>;
    declare public readonly exportSpec: pulumi.Output<string>;

    constructor(name: string, args: CephExportArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            cephExportProvider,
            name,
            args,
            {
                type: "CephExport",
                providerVersion: PROVIDER_VERSION,
                defaults: {
                    keyClientName: args.keyClientName ?? "openstack",
                    configDownloadDir: args.configDownloadDir ?? "",
                    timeoutMinutes: args.timeoutMinutes ?? 30,
                },
                outputs: ["clusters", "exportHash", "exportSpec"],
                secretOutputs: ["clusters"],
            },
            opts,
        );
    }
}

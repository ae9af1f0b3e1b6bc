/**
 * OvercloudStack — `openstack overcloud deploy` of one stack, split in its two phases.
 *
 *   create/update → write the site's overrides env file; then
 *       phase 1, Heat:   detached job `overcloud deploy … --stack-only` run under
 *                        `flock ~/.dcn-jobs/heat.lock`: the undercloud has ONE ephemeral Heat, so
 *                        no two stacks' Heat phases may overlap (reference §9). The lock lives on the
 *                        undercloud, so it also holds across pulumi processes and projects.
 *       phase 2, Ansible: detached job `overcloud deploy … --config-download-only`, unlocked
 *                        (config-download phases of different stacks may run side by side).
 *     Both phases run in ONE detached job (config-download starts as soon as Heat is done and the
 *     lock is released); each leaves a marker with the hash of everything it consumed, and a rerun
 *     after a failure leaves out a phase whose marker matches while the undercloud still shows its
 *     result (no repeated Heat phase after a config-download failure). The central stack's job
 *     ends with `openstack overcloud export -f` (reference §3.5, main.sh's CENTRAL_EXPORT phase):
 *     the export the DCN deploys consume is regenerated from the finished stack, not trusted from
 *     whatever the deploy left.
 *   A new `workDir` moves the generated files (overrides, phase markers, status record) there
 *   first; when nothing else changed but the paths of files under the moved root, that move is
 *   the whole update: the stack is not redeployed (its markers are rewritten for the new paths).
 *   check  → refuses a new `stack` or `kind` once the stack exists: neither can change in place,
 *            and a replace would run `overcloud delete` on the deployed site first.
 *   read   → the stack's working dir, rc file and deployment status; gone when the stack is gone.
 *   delete → detached `openstack overcloud delete <stack> --yes`; "not found" counts as deleted. Then
 *            what the program made for the stack goes: its generated files (and the work dir once
 *            empty), its deploy and delete jobs under ~/.dcn-jobs, and what tripleoclient wrote
 *            outside the working dir the delete removed (`~/<stack>rc`, the clouds.yaml entry).
 *
 * The post-deploy sanity checks (central `openstack token issue`; a DCN site `openstack aggregate
 * show <az>` against central) are NOT run here: they are one-shot `@pulumi/command` remote.Command
 * resources owned by the site component (components/site.ts), built from `sanityCommands` below and
 * triggered by this resource's `deploySpec`, with the undercloud's host key pinned.
 */
import * as pulumi from "@pulumi/pulumi";
import { parse, parseDocument, stringify } from "yaml";
import { z } from "zod";
import {
    BaseInputs,
    DiffPolicy,
    Move,
    baseShape,
    checkWith,
    derive,
    diffByPolicy,
    diffResult,
    guardChanges,
    moveFiles,
    movedLine,
    progress,
    stepProgress,
    remotePath,
    sha256,
    specOf,
    stableStringify,
    stackRenameRefusal,
    targetOf,
    unk,
    updateByPolicy,
} from "./common";
import { BaseArgs, DcnResource } from "./resource";
import {
    JOBS_DIR,
    JobCommand,
    pruneJobs,
    readFile,
    remoteHome,
    removeEmptyDirs,
    removeFiles,
    run,
    runJob,
    runOk,
    writeFile,
} from "./remote/jobs";
import { knownSecrets } from "./remote/redact";
import { AZ_NAME, SAFE_ARG, STACK_NAME, expandHome, isRemotePath } from "./remote/shell";
import { traced } from "./remote/trace";

// ---------------------------------------------------------------- inputs and outputs

export const PROVIDER_VERSION = "3"; // 2: status table, seed -e order, Heat start retried; delete removes rc, clouds.yaml entry, jobs; step progress; 3: consumedSpecs, deploySpec/exportSpec and paths derived by check

export type SiteKind = "central" | "dcn";

/** Files a stack's deploy consumes; each is `-e`'d in the order of `orderedEnvFiles`. */
export interface DeployFiles {
    /** Environment files common to every stack (e.g. podman, low-memory), first in the list. */
    commonEnvFiles: string[];
    containerPrepareFile: string;
    /** Empty when the stack has no VIPs. */
    vipsFile: string;
    networkFile: string;
    metalFile: string;
    cephFile: string;
    glanceFile: string;
    /** Central only: the export of every DCN cluster (empty when there is no DCN site). */
    dcnCephExportFile: string;
    /** DCN only: central's stack export. */
    centralExportFile: string;
    /** DCN only: central's ceph export. */
    centralCephExportFile: string;
}

export type OverrideValue = string | number | boolean;

export interface OvercloudStackInputs extends BaseInputs {
    stack: string;
    kind: SiteKind;
    templatesDir: string;
    rolesFile: string;
    networkDataFile: string;
    files: DeployFiles;
    /** parameter_defaults of the site's generated overrides file. */
    overrides: Record<string, OverrideValue>;
    /**
     * Specs of what the deploy consumes (metal, ceph, glance, exports; each its producer's derived
     * spec, known at preview): any change re-deploys.
     */
    consumedSpecs: Record<string, string>;
    /** Extra `overcloud deploy` arguments, e.g. `--timeout 90 --libvirt-type qemu`. */
    deployArgs: string[];
    /** Availability zone (the aggregate a DCN deploy creates in central Nova). */
    az: string;
    workDir: string;
    timeoutMinutes: number;
}

export interface OvercloudStackOutputs extends OvercloudStackInputs {
    status: string;
    overridesFile: string;
    /** `<stack>-export.yaml` (holds passwords: consumed by DCN deploys, never read into state). */
    exportFile: string;
    rcFile: string;
    /** Endpoint name → URI, from the export's EndpointMapOverride (Keystone, Glance, Nova, Cinder…). */
    endpoints: Record<string, string>;
    /** Hash of everything the deploy consumed (the phase markers hold it). */
    deployHash: string;
    /**
     * When this resource last ran (or re-attached to) the deploy, ISO time. Changes on every
     * redeploy, also one with unchanged inputs (e.g. the repair after a refresh found the stack
     * gone), so dependents such as the sanity checks and the validation re-run.
     */
    deployedAt: string;
    /** Hash of the stack export (what the last deploy or refresh found). */
    exportHash: string;
    /**
     * What the deploy is made of (everything it consumes): the sanity checks and the validation
     * re-run when it changes. Derived by check, so known at preview (`derive`).
     */
    deploySpec: string;
    /**
     * Central: what its stack export is made of: the DCN deploys re-run when it changes. The export
     * (tripleoclient export.py: passwords, EndpointMap, HostsEntry, GlobalConfig, AllNodesConfig)
     * does not depend on the Glance stores and external Ceph clusters central is given, so their
     * specs are left out: a new DCN site redeploys central, not the other DCN sites. "" for a DCN
     * stack. Derived by check.
     */
    exportSpec: string;
}

// ---------------------------------------------------------------- diff policy

/**
 * `stack` and `kind` are the identity: check refuses a change of either once the stack exists
 * (`refusal`). `workDir` is where the generated files live: a change moves them.
 */
export const POLICY: DiffPolicy = {
    replace: ["stack", "kind"],
    location: "workDir",
    update: [
        "workDir",
        "templatesDir",
        "rolesFile",
        "networkDataFile",
        "files",
        "overrides",
        "consumedSpecs",
        "deployArgs",
        "az",
    ],
    quiet: ["undercloud", "privateKey", "providerVersion", "timeoutMinutes"],
    derived: ["deploySpec", "exportSpec", "exportFile", "rcFile"],
    adopted: ["consumedSpecs"],
};

/** What central's deploy gets from the DCN sites: not part of its stack export (`exportSpec`). */
const NOT_EXPORTED = ["glance", "dcnCephExport"];

/**
 * What check derives (`derive` in providers/common.ts): the deploy's spec, central's export spec
 * and, with the undercloud's $HOME, the export and rc files' paths. The specs take the user's files
 * by path and the generated ones (metal, Ceph, Glance, exports) by their producers' specs
 * (`consumedSpecs`), not by path: a moved work dir is no new deploy.
 */
export function derivedOf(inputs: OvercloudStackInputs, home: string | undefined): Record<string, unknown> {
    const p = home === undefined ? undefined : stackPaths(inputs.stack, home);
    return { ...specsOf(inputs), ...(p && { exportFile: p.exportFile, rcFile: p.rcFile }) };
}

/** The deploy's and (central) its export's specs (undefined while an input is unknown). */
export function specsOf(inputs: OvercloudStackInputs): { deploySpec?: string; exportSpec?: string } {
    const { stack, kind, templatesDir, networkDataFile, files, overrides, consumedSpecs } = inputs;
    const made = {
        stack,
        kind,
        templatesDir,
        networkDataFile,
        overrides,
        deployArgs: inputs.deployArgs,
        az: inputs.az,
        // `files` is one unknown as a whole at preview when any file is (a new site's paths).
        userFiles: typeof files === "object" ? [files.commonEnvFiles, files.containerPrepareFile] : files,
    };
    const exported = Object.fromEntries(Object.entries(consumedSpecs).filter(([k]) => !NOT_EXPORTED.includes(k)));
    return {
        deploySpec: specOf({ ...made, consumedSpecs }),
        exportSpec: kind === "central" ? specOf({ ...made, consumedSpecs: exported }) : "",
    };
}

export function inputSchema() {
    const path = remotePath();
    const optPath = unk(z.string().refine((p) => p === "" || isRemotePath(p), "not a safe remote path"));
    return z.object({
        ...baseShape(),
        stack: unk(z.string().regex(STACK_NAME)),
        kind: unk(z.enum(["central", "dcn"])),
        templatesDir: path,
        rolesFile: path,
        networkDataFile: path,
        files: unk(
            z.object({
                commonEnvFiles: unk(z.array(path)),
                containerPrepareFile: path,
                vipsFile: optPath,
                networkFile: path,
                metalFile: path,
                cephFile: path,
                glanceFile: path,
                dcnCephExportFile: optPath,
                centralExportFile: optPath,
                centralCephExportFile: optPath,
            }),
        ),
        overrides: unk(
            z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/), unk(z.union([z.string(), z.number(), z.boolean()]))),
        ),
        consumedSpecs: unk(z.record(z.string(), unk(z.string()))),
        deployArgs: unk(z.array(unk(z.string().regex(SAFE_ARG)))),
        az: unk(z.string().regex(AZ_NAME)),
        workDir: path,
        timeoutMinutes: unk(z.number().positive()),
    });
}

// ---------------------------------------------------------------- provider

export const overcloudStackProvider: pulumi.dynamic.ResourceProvider = traced("OvercloudStack", {
    async check(olds: OvercloudStackInputs, news: OvercloudStackInputs) {
        const r = checkWith(inputSchema(), news);
        r.failures.push(...guardChanges(POLICY, olds, news, (k, o, n) => refusal(k, o, n, news.stack)));
        if (r.failures.length === 0) {
            r.inputs = await derive(olds, news, (home) => derivedOf(news, home));
        }
        return r;
    },

    async diff(_id: string, olds: OvercloudStackOutputs, news: OvercloudStackInputs) {
        // A refresh that found the stack failed (or half-deleted) makes the next up redeploy.
        const broken = olds.status !== undefined && olds.status !== "DEPLOY_SUCCESS";
        return diffResult(diffByPolicy(POLICY, olds, news), broken);
    },

    async create(inputs: OvercloudStackInputs) {
        return { id: inputs.stack, outs: await deploy(inputs) };
    },

    async read(id: string, props: OvercloudStackOutputs) {
        const t = targetOf(props);
        const home = await remoteHome(t);
        const p = stackPaths(props.stack, home);
        const probe = await run(t, ["sh", "-c", 'test -d "$1" && echo present || echo absent', "sh", p.dir]);
        if (probe.stdout.trim() !== "present") {
            return { id: "", props: {} };
        }
        const status = await readStatus(props.stack, home, t);
        const exportText = await readFile(t, p.exportFile);
        return {
            id,
            props: {
                ...props,
                status,
                endpoints: exportText ? parseEndpoints(exportText) : props.endpoints,
                exportHash: exportText ? sha256(exportText) : "",
            },
        };
    },

    async update(_id: string, olds: OvercloudStackOutputs, news: OvercloudStackInputs) {
        return updateByPolicy(
            POLICY,
            olds,
            news,
            () => deploy(news, olds),
            olds.status !== "DEPLOY_SUCCESS",
            (move, home, onlyMoved) => relocate(olds, news, move, home, onlyMoved),
        );
    },

    async delete(_id: string, props: OvercloudStackOutputs) {
        const t = targetOf(props);
        const home = await remoteHome(t);
        const work = expandHome(props.workDir, home);
        try {
            await runJob(t, {
                stack: props.stack,
                step: "delete",
                timeoutMs: props.timeoutMinutes * 60000,
                report: stepProgress(props, props.stack, "delete"),
                secrets: knownSecrets(props),
                // --skip-ipa-cleanup: the program deploys no TLS-everywhere, so nothing is enrolled
                // in IPA (without it tripleoclient runs tripleo-ipa's cli-cleanup-ipa.yml).
                commands: [{ argv: ["openstack", "overcloud", "delete", props.stack, "--yes", "--skip-ipa-cleanup"] }],
            });
        } catch (err) {
            if (!isAlreadyGone((err as Error).message)) {
                throw err;
            }
            progress(`overcloud ${props.stack}`)("stack already gone");
        }
        // What the program made for this stack: its generated files in the work dir (the work dir
        // itself once empty), the jobs of its deploys and deletes, and what tripleoclient wrote
        // outside the stack's working dir (which `overcloud delete` removed): the rc file in the
        // home and the stack's clouds.yaml entry (both hold the admin password).
        await removeFiles(t, [...stackWorkFiles(work, props.stack), `${home}/${props.stack}rc`]);
        await dropCloudEntry(t, home, props.stack);
        await pruneJobs(t, [
            { stack: props.stack, step: "deploy" },
            { stack: props.stack, step: "delete" },
        ]);
        await removeEmptyDirs(t, [work]);
    },
});

/** The files the program writes in a stack's work dir (overrides, phase markers, status record). */
export function stackWorkFiles(work: string, stack: string): string[] {
    const status = `${work}/.deploy-status`;
    return [
        markerPath(work, "heat"),
        markerPath(work, "config"),
        `${work}/overrides-${stack}.yaml`,
        status,
        `${status}.tmp`,
    ];
}

/** clouds.yaml of the undercloud user, where tripleoclient records each deployed stack's cloud. */
export const USER_CLOUDS_YAML = "~/.config/openstack/clouds.yaml";

/**
 * clouds.yaml text without the cloud `stack`: undefined when it has no such cloud (nothing to
 * write), null when nothing else is left in it (the file goes). Comments and the other clouds
 * stay as they are.
 */
export function withoutCloud(text: string, stack: string): string | null | undefined {
    const doc = parseDocument(text);
    if (doc.errors.length > 0 || !doc.hasIn(["clouds", stack])) {
        return undefined;
    }
    doc.deleteIn(["clouds", stack]);
    const rest = doc.toJS() as { clouds?: Record<string, unknown> } | null;
    const empty =
        rest === null ||
        (typeof rest === "object" &&
            Object.keys(rest).every((k) => k === "clouds") &&
            Object.keys(rest.clouds ?? {}).length === 0);
    return empty ? null : doc.toString();
}

/**
 * Removes the stack's entry from the user's clouds.yaml (the file, and its empty directories, when
 * it was the last entry). The provider's deletes edit the file one at a time; a failure (e.g. a
 * file tripleoclient copied as root) is reported, not fatal: the stack is gone.
 */
async function dropCloudEntry(t: ReturnType<typeof targetOf>, home: string, stack: string): Promise<void> {
    const g = globalThis as unknown as { __dcnCloudsEdit?: Promise<void> };
    const edit = async () => {
        const file = expandHome(USER_CLOUDS_YAML, home);
        const text = await readFile(t, file);
        const next = text === undefined ? undefined : withoutCloud(text, stack);
        if (next === null) {
            await removeFiles(t, [file]);
            await removeEmptyDirs(t, [`${home}/.config/openstack`, `${home}/.config`]);
        } else if (next !== undefined) {
            await writeFile(t, file, next);
        }
    };
    const mine = (g.__dcnCloudsEdit ?? Promise.resolve()).then(edit);
    g.__dcnCloudsEdit = mine.catch(() => undefined);
    try {
        await mine;
    } catch (err) {
        progress(`overcloud ${stack}`)(
            `could not remove the cloud ${stack} from ${USER_CLOUDS_YAML}: ${(err as Error).message}`,
        );
    }
}

/** Why an identity key may not change on an existing stack, and what to do instead. */
export function refusal(key: string, oldValue: string, newValue: string, stack: string): string {
    if (key !== "kind") {
        return stackRenameRefusal(oldValue, newValue);
    }
    return (
        `stack ${stack} is deployed as the ${oldValue} site: it cannot become a ${newValue} site in place (other ` +
        `environments, exports and Glance stores), and replacing it would run overcloud delete on it first. Set its ` +
        `kind in dcn-storage:sites back to ${oldValue}; or remove the site from dcn-storage:sites and run up (that ` +
        `destroys it), then add it again as a ${newValue} site (a full redeploy).`
    );
}

/** What a deploy of `inputs` consumes: the overrides file, the ordered `-e` list and their hash. */
export function deployPlan(inputs: OvercloudStackInputs, home: string) {
    const work = expandHome(inputs.workDir, home);
    const overridesFile = `${work}/overrides-${inputs.stack}.yaml`;
    const overrides = renderOverridesFile(inputs.overrides);
    // Expanded first: which common files are THT's is decided by path (`~/templates/…` vs /home/…).
    const x = (f: string) => (f ? expandHome(f, home) : f);
    const files: DeployFiles = {
        ...inputs.files,
        commonEnvFiles: inputs.files.commonEnvFiles.map(x),
        containerPrepareFile: x(inputs.files.containerPrepareFile),
    };
    const envFiles = orderedEnvFiles(inputs.kind, x(inputs.templatesDir), files, overridesFile).map(x);
    const deployHash = sha256(
        stableStringify({
            envFiles,
            overrides,
            specs: inputs.consumedSpecs,
            args: inputs.deployArgs,
            roles: inputs.rolesFile,
        }),
    );
    return { work, overridesFile, overrides, envFiles, deployHash };
}

/**
 * Moves the overrides file, the phase markers and the status record from the old work dir to the
 * new one (no deploy). When nothing but paths moved (`onlyMoved`), a marker of the deployed inputs
 * is rewritten with the hash of the same inputs at their new paths (a later retry still skips a
 * finished phase); otherwise, and when stale, the markers are dropped (the deploy that follows runs
 * both phases). Undefined when the overrides file is at neither place (then the update deploys).
 */
async function relocate(
    olds: OvercloudStackOutputs,
    news: OvercloudStackInputs,
    _move: Move,
    home: string,
    onlyMoved: boolean,
): Promise<OvercloudStackOutputs | undefined> {
    const t = targetOf(news);
    const log = progress(`overcloud ${news.stack}`);
    const oldWork = expandHome(olds.workDir, home);
    const plan = deployPlan(news, home);
    const missing = await moveFiles(
        t,
        home,
        [
            { from: `${oldWork}/overrides-${olds.stack}.yaml`, to: plan.overridesFile, required: true },
            { from: `${oldWork}/.deploy-status`, to: `${plan.work}/.deploy-status` },
        ],
        undefined,
    );
    if (missing.length > 0) {
        log(`cannot move the generated files (${missing.join(", ")} missing): deploying at ${news.workDir}`);
        return undefined;
    }
    await runOk(t, [
        "sh",
        "-c",
        MOVE_MARKERS_SCRIPT,
        "sh",
        onlyMoved ? (olds.deployHash ?? "") : "",
        plan.deployHash,
        oldWork,
        markerPath(oldWork, "heat"),
        markerPath(plan.work, "heat"),
        markerPath(oldWork, "config"),
        markerPath(plan.work, "config"),
    ]);
    log(movedLine(olds.workDir, news.workDir, home) + (onlyMoved ? "; nothing else changed: no redeploy" : ""));
    return { ...olds, ...news, overridesFile: plan.overridesFile, deployHash: plan.deployHash };
}

/**
 * $1 old deploy hash, $2 new one, $3 old work dir (removed when empty), then pairs of old and new
 * marker paths: a marker holding $1 is written anew with $2, the old one removed (unless the same file).
 */
export const MOVE_MARKERS_SCRIPT = [
    "umask 077",
    'old="$1"; new="$2"; dir="$3"; shift 3',
    'while [ $# -ge 2 ]; do f="$1"; t="$2"; shift 2',
    '  if [ "$f" = "$t" ] || { [ -e "$f" ] && [ "$f" -ef "$t" ]; }; then continue; fi',
    '  if [ -f "$f" ]; then',
    '    if [ -n "$old" ] && [ "$(head -n 1 "$f")" = "$old" ]; then',
    '      mkdir -p "$(dirname "$t")" && printf "%s\\n" "$new" > "$t.tmp" && mv -f "$t.tmp" "$t" || exit 1',
    "    fi",
    '    rm -f -- "$f" || exit 1',
    "  fi",
    "done",
    'rmdir -- "$dir" 2>/dev/null',
    "exit 0",
].join("\n");

/** `olds`: the previous outputs on update (their password overrides are redacted from the job's output). */
async function deploy(inputs: OvercloudStackInputs, olds?: OvercloudStackOutputs): Promise<OvercloudStackOutputs> {
    const t = targetOf(inputs);
    const home = await remoteHome(t);
    const { work, overridesFile, overrides, envFiles, deployHash } = deployPlan(inputs, home);
    const p = stackPaths(inputs.stack, home);
    const log = progress(`overcloud ${inputs.stack}`);
    const base = deployCommand(inputs, envFiles, home);

    // A marker counts only while the undercloud still shows the phase's result: the Heat phase
    // leaves `config-download/<stack>` in the working dir, a finished deploy reports DEPLOY_SUCCESS.
    // (A stack deleted and re-provisioned out of band has neither, whatever the markers say.)
    // Both markers and the directory are read by one exec.
    const probe = parsePhaseProbe(
        (
            await runOk(t, [
                "sh",
                "-c",
                PHASE_PROBE_SCRIPT,
                "sh",
                markerPath(work, "heat"),
                markerPath(work, "config"),
                `${p.dir}/config-download/${inputs.stack}`,
            ])
        ).stdout,
    );
    const heatDone = probe.heat === deployHash && probe.heatDir;
    const configDone =
        heatDone && probe.config === deployHash && (await readStatus(inputs.stack, home, t)) === "DEPLOY_SUCCESS";
    const commands = deployJobCommands(base, {
        heatLock: expandHome(`${JOBS_DIR}/heat.lock`, home),
        heatMarker: markerPath(work, "heat"),
        configMarker: markerPath(work, "config"),
        deployHash,
        skipHeat: heatDone,
        skipConfig: configDone,
        exportArgv: inputs.kind === "central" ? stackExportCommand(inputs.stack, p.exportFile) : undefined,
    });
    if (heatDone) {
        log(
            configDone
                ? "both phases already done for these inputs"
                : "Heat phase already done for these inputs; running config-download only",
        );
    }
    let exportText: string | undefined;
    let status: string | undefined;
    {
        // Also when both phases are done (the job then only records the status): a job of the same
        // inputs that finished after its `pulumi` was killed is collected now, not re-attached to
        // by some later redeploy of these inputs.
        // The overrides file is written by the exec that starts the job; the job's last command
        // records the stack's status (allowed to fail: then it is read afterwards), and the probe
        // that sees the job end reads it with the export (no extra round trip).
        const statusOut = `${work}/.deploy-status`;
        const job = await runJob(t, {
            stack: inputs.stack,
            step: "deploy",
            identity: deployHash,
            timeoutMs: inputs.timeoutMinutes * 60000,
            report: stepProgress(inputs, inputs.stack, "deploy"),
            secrets: knownSecrets(inputs, olds),
            commands: [...commands, { argv: statusRecordCommand(inputs.stack, statusOut), allowFailure: true }],
            // The status record is emptied first: only this job's record counts.
            files: [
                { path: overridesFile, content: overrides },
                { path: statusOut, content: "" },
            ],
            collect: [p.exportFile, statusOut],
        });
        exportText = job.files[p.exportFile];
        // A job found finished from an earlier run: its record may be old, read the status now.
        const recorded = job.attached ? undefined : job.files[statusOut];
        status = recorded ? parseStatusTable(recorded) : undefined;
    }

    status ??= await readStatus(inputs.stack, home, t);
    if (status !== "DEPLOY_SUCCESS") {
        throw new Error(`overcloud deploy of ${inputs.stack} finished but its status is ${status}`);
    }
    if (inputs.kind === "central" && exportText === undefined) {
        throw new Error(`the central deploy did not write its stack export ${p.exportFile}`);
    }
    return {
        ...inputs,
        status,
        overridesFile,
        exportFile: p.exportFile,
        rcFile: p.rcFile,
        endpoints: exportText ? parseEndpoints(exportText) : {},
        deployHash,
        deployedAt: new Date().toISOString(),
        exportHash: exportText ? sha256(exportText) : "",
        deploySpec: specsOf(inputs).deploySpec ?? "",
        exportSpec: specsOf(inputs).exportSpec ?? "",
    };
}

async function readStatus(stack: string, home: string, t: ReturnType<typeof targetOf>): Promise<string> {
    const p = stackPaths(stack, home);
    const st = await run(t, ["openstack", "overcloud", "status", "--stack", stack]);
    const fromTable = st.code === 0 ? parseStatusTable(st.stdout) : undefined;
    if (fromTable) {
        return fromTable;
    }
    const text = await readFile(t, p.statusFile);
    if (text !== undefined) {
        return parseDeploymentStatus(text);
    }
    const rc = await run(t, ["test", "-f", p.rcFile]);
    return rc.code === 0 ? "DEPLOY_SUCCESS" : "UNKNOWN";
}

// ---------------------------------------------------------------- remote commands

export function stackPaths(stack: string, home: string) {
    const dir = `${home}/overcloud-deploy/${stack}`;
    return {
        dir,
        exportFile: `${dir}/${stack}-export.yaml`,
        rcFile: `${dir}/${stack}rc`,
        statusFile: `${dir}/${stack}-deployment_status.yaml`,
    };
}

export function markerPath(workDir: string, phase: "heat" | "config"): string {
    return `${workDir}/.deploy-${phase}.done`;
}

/** Prints each phase marker's first line as `m:<line>` ($1 heat, $2 config; `-` when absent), then whether $3 is a directory. */
export const PHASE_PROBE_SCRIPT =
    'for f in "$1" "$2"; do if [ -f "$f" ]; then printf "m:%s\\n" "$(head -n 1 "$f")"; else echo -; fi; done; [ -d "$3" ] && echo dir || echo nodir';

/** Parses PHASE_PROBE_SCRIPT's output. */
export function parsePhaseProbe(stdout: string): { heat?: string; config?: string; heatDir: boolean } {
    const lines = stdout.split("\n");
    const val = (l: string | undefined) => (l !== undefined && l.startsWith("m:") ? l.slice(2).trim() : undefined);
    return { heat: val(lines[0]), config: val(lines[1]), heatDir: lines[2]?.trim() === "dir" };
}

/**
 * Writes `openstack overcloud status` of a stack to a file, atomically: its table, read back with
 * parseStatusTable (the real command is a plain cliff Command: no `-f`/`-c`, tripleoclient
 * v1/overcloud_deploy.py GetDeploymentStatus).
 */
export function statusRecordCommand(stack: string, file: string): string[] {
    return ["sh", "-c", 'openstack overcloud status --stack "$1" > "$2.tmp" && mv "$2.tmp" "$2"', "sh", stack, file];
}

/**
 * The Deployment Status in `openstack overcloud status` output: a PrettyTable
 * `| Stack Name | Deployment Status |` with one row, or `No deployment was found for <stack>`.
 */
export function parseStatusTable(stdout: string): string | undefined {
    for (const line of stdout.split("\n")) {
        const cells = line
            .split("|")
            .map((c) => c.trim())
            .filter((c, i, all) => i > 0 && i < all.length - 1);
        if (cells.length === 2 && /^[A-Z_]+$/.test(cells[1])) {
            return cells[1];
        }
    }
    return undefined;
}

/** `openstack overcloud export` of a stack (the central one), overwriting its export file. */
export function stackExportCommand(stack: string, exportFile: string): string[] {
    return ["openstack", "overcloud", "export", "-f", "--stack", stack, "--output-file", exportFile];
}

/** `openstack overcloud deploy` without its phase flag. */
export function deployCommand(inputs: OvercloudStackInputs, envFiles: string[], home: string): string[] {
    return [
        "openstack",
        "overcloud",
        "deploy",
        "--templates",
        expandHome(inputs.templatesDir, home),
        "--stack",
        inputs.stack,
        "-r",
        expandHome(inputs.rolesFile, home),
        "-n",
        expandHome(inputs.networkDataFile, home),
        ...inputs.deployArgs,
        ...envFiles.flatMap((f) => ["-e", f]),
    ];
}

/**
 * tripleoclient gives its ephemeral Heat ~5 s to open its API port (utils.py test_heat_api_port:
 * stop_after_attempt(10), wait 0.5 s) before it gives up with `RetryError[… raised
 * ConnectionRefusedError>]`; a busy undercloud (a DB restore on an update, other stacks'
 * config-download) misses that now and then, before any stack operation: run it again.
 */
export const HEAT_START_RETRY = { attempts: 5, when: "raised ConnectionRefusedError>]" };

/** Writes a phase marker (path and hash are quoted arguments). */
export const MARKER_SCRIPT = 'printf "%s\\n" "$2" > "$1"';

/**
 * The deploy job: the Heat phase (`--stack-only`) holding the undercloud-wide Heat lock, its
 * marker, then the config-download phase (`--config-download-only`, unlocked) and its marker.
 * One job, so config-download starts the moment Heat is done and the lock is free for the next
 * stack; phases already done for the same inputs are left out.
 */
export function deployJobCommands(
    base: string[],
    o: {
        heatLock: string;
        heatMarker: string;
        configMarker: string;
        deployHash: string;
        skipHeat: boolean;
        skipConfig: boolean;
        /** The central stack's `overcloud export` (runs every time: cheap and idempotent with -f). */
        exportArgv?: string[];
    },
): JobCommand[] {
    const cmds: JobCommand[] = [];
    if (!o.skipHeat) {
        cmds.push({ argv: [...base, "--stack-only"], lock: o.heatLock, retry: HEAT_START_RETRY });
        cmds.push({ argv: ["sh", "-c", MARKER_SCRIPT, "sh", o.heatMarker, o.deployHash] });
    }
    if (!o.skipConfig) {
        cmds.push({ argv: [...base, "--config-download-only"] });
        cmds.push({ argv: ["sh", "-c", MARKER_SCRIPT, "sh", o.configMarker, o.deployHash] });
    }
    if (o.exportArgv) {
        cmds.push({ argv: o.exportArgv });
    }
    return cmds;
}

/**
 * Post-deploy checks (reference §3.5/§3.6): constant scripts, paths and AZ as quoted arguments.
 * Central: `. <rc> && openstack token issue` (the token goes to /dev/null, never into a log or the
 * state); DCN: `. <central rc> && openstack aggregate show <az>` (the AZ the DCN deploy created in
 * central Nova). Run by the site component's `command.remote.Command` (components/site.ts).
 */
export function sanityCommands(
    inputs: { kind: SiteKind; az: string; centralRcFile: string },
    rcFile: string,
): Array<{ what: string; argv: string[] }> {
    if (inputs.kind === "central") {
        return [
            {
                what: "openstack token issue",
                argv: ["sh", "-c", '. "$1" && openstack token issue -f value -c id > /dev/null', "sh", rcFile],
            },
        ];
    }
    if (!inputs.centralRcFile) {
        return [];
    }
    return [
        {
            what: `openstack aggregate show ${inputs.az}`,
            argv: [
                "sh",
                "-c",
                '. "$1" && openstack aggregate show "$2" -f value -c name',
                "sh",
                inputs.centralRcFile,
                inputs.az,
            ],
        },
    ];
}

export function isAlreadyGone(message: string): boolean {
    return /not found|does not exist|no such (stack|file)|nothing to (delete|unprovision)|could not find/i.test(
        message,
    );
}

// ---------------------------------------------------------------- pure helpers

/**
 * The ordered `-e` list of a stack's deploy (later files win), in the seed's order
 * (reference §3.5 control-plane/deploy.sh, §3.6 dcn0/deploy.sh): the common files that are THT
 * environments (under `templatesDir`), THT's Ceph environment (central `cephadm.yaml`; DCN
 * `cephadm-rbd-only.yaml` then `dcn-storage.yaml`), the container prepare file, the user's own
 * common files, the deployed vips/network/metal/ceph; then central: overrides, glance, the DCN
 * ceph export; DCN: central export, central ceph export, glance, overrides. So a user file
 * overrides what THT's Ceph/DCN environments set, as in the seed.
 */
export function orderedEnvFiles(kind: SiteKind, templatesDir: string, f: DeployFiles, overridesFile: string): string[] {
    const tht = templatesDir.replace(/\/+$/, "");
    const underTht = (p: string) => p.startsWith(`${tht}/`);
    const thtCommon = f.commonEnvFiles.filter(underTht);
    const userCommon = f.commonEnvFiles.filter((p) => !underTht(p));
    const deployed = [f.vipsFile, f.networkFile, f.metalFile, f.cephFile].filter((x) => x !== "");
    const cephEnv =
        kind === "central"
            ? [`${tht}/environments/cephadm/cephadm.yaml`]
            : [`${tht}/environments/cephadm/cephadm-rbd-only.yaml`, `${tht}/environments/dcn-storage.yaml`];
    const head = [...thtCommon, ...cephEnv, f.containerPrepareFile, ...userCommon, ...deployed];
    if (kind === "central") {
        return [...head, overridesFile, f.glanceFile, ...(f.dcnCephExportFile ? [f.dcnCephExportFile] : [])];
    }
    return [...head, f.centralExportFile, f.centralCephExportFile, f.glanceFile, overridesFile].filter((x) => x !== "");
}

/**
 * Per-site overrides (reference §5.3). Central: its cluster name and AZs. DCN: cluster name,
 * Cinder AZ/cluster and Nova AZ = the site's AZ, no cross-AZ attach. `extra` (from the config) wins.
 */
export function siteOverrides(
    kind: SiteKind,
    cephClusterName: string,
    az: string,
    extra: Record<string, OverrideValue> = {},
): Record<string, OverrideValue> {
    const base: Record<string, OverrideValue> =
        kind === "central"
            ? { CephClusterName: cephClusterName, NovaComputeAvailabilityZone: az, CinderStorageAvailabilityZone: az }
            : {
                  CephClusterName: cephClusterName,
                  NovaComputeAvailabilityZone: az,
                  CinderStorageAvailabilityZone: az,
                  CinderVolumeCluster: az,
                  NovaCrossAZAttach: false,
              };
    return { ...base, ...extra };
}

export function renderOverridesFile(overrides: Record<string, OverrideValue>): string {
    const sorted = Object.fromEntries(
        Object.keys(overrides)
            .sort()
            .map((k) => [k, overrides[k]]),
    );
    return "# generated by dcn-storage (OvercloudStack); do not edit\n" + stringify({ parameter_defaults: sorted });
}

/** Endpoint URIs of a stack export's EndpointMapOverride (no passwords). */
export function parseEndpoints(exportText: string): Record<string, string> {
    const doc = (parse(exportText) ?? {}) as {
        parameter_defaults?: { EndpointMapOverride?: Record<string, { uri?: string }> };
    };
    const map = doc.parameter_defaults?.EndpointMapOverride ?? {};
    const out: Record<string, string> = {};
    for (const k of Object.keys(map).sort()) {
        if (/Public$|Internal$/.test(k) && typeof map[k]?.uri === "string") {
            out[k] = map[k].uri as string;
        }
    }
    return out;
}

/** `deployment_status` of `<stack>-deployment_status.yaml`. */
export function parseDeploymentStatus(text: string): string {
    const doc = (parse(text) ?? {}) as { deployment_status?: string };
    return String(doc.deployment_status ?? "UNKNOWN");
}

// ---------------------------------------------------------------- resource

export interface OvercloudStackArgs extends BaseArgs {
    /** TripleO stack name (identity). */
    stack: pulumi.Input<string>;
    /** central or dcn (identity: selects the env files). */
    kind: pulumi.Input<SiteKind>;
    /** THT directory; default `~/templates`. */
    templatesDir?: pulumi.Input<string>;
    /** Roles file of the stack (BaremetalNodes.rolesFile). */
    rolesFile: pulumi.Input<string>;
    /** Shared network data file. */
    networkDataFile: pulumi.Input<string>;
    /** Every file the deploy consumes. */
    files: pulumi.Input<DeployFiles>;
    /** The site's parameter_defaults (siteOverrides). */
    overrides: pulumi.Input<Record<string, OverrideValue>>;
    /** Specs of what the deploy consumes (each its producer's derived spec): any change re-runs the deploy. */
    consumedSpecs: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Extra `overcloud deploy` arguments; default none. */
    deployArgs?: pulumi.Input<string[]>;
    /** Availability zone of the site. */
    az: pulumi.Input<string>;
    /** Undercloud directory of the stack's generated files. */
    workDir: pulumi.Input<string>;
    /** Own deadline of each phase, minutes; default 240. */
    timeoutMinutes?: pulumi.Input<number>;
}

/** A deployed overcloud stack (`pulumi-nodejs:dynamic/dcn:OvercloudStack`). */
export class OvercloudStack extends DcnResource {
    declare public readonly stack: pulumi.Output<string>;
    declare public readonly status: pulumi.Output<string>;
    declare public readonly exportFile: pulumi.Output<string>;
    declare public readonly exportHash: pulumi.Output<string>;
    declare public readonly rcFile: pulumi.Output<string>;
    declare public readonly endpoints: pulumi.Output<Record<string, string>>;
    /** Hash of everything the deploy consumed. */
    declare public readonly deployHash: pulumi.Output<string>;
    /** Time of the last deploy run (changes on every redeploy). */
    declare public readonly deployedAt: pulumi.Output<string>;
    /** What the deploy is made of (known at preview): dependents re-run when it changes. */
    declare public readonly deploySpec: pulumi.Output<string>;
    /** Central: what its stack export is made of (known at preview): the DCN deploys re-run when it changes. */
    declare public readonly exportSpec: pulumi.Output<string>;
    declare public readonly az: pulumi.Output<string>;

    constructor(name: string, args: OvercloudStackArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            overcloudStackProvider,
            name,
            args,
            {
                type: "OvercloudStack",
                providerVersion: PROVIDER_VERSION,
                defaults: {
                    templatesDir: args.templatesDir ?? "~/templates",
                    deployArgs: args.deployArgs ?? [],
                    timeoutMinutes: args.timeoutMinutes ?? 240,
                },
                outputs: [
                    "status",
                    "overridesFile",
                    "exportFile",
                    "rcFile",
                    "endpoints",
                    "deployHash",
                    "deployedAt",
                    "exportHash",
                    "deploySpec",
                    "exportSpec",
                ],
            },
            opts,
        );
    }
}

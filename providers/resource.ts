/**
 * The program side every dcn resource shares: the connection arguments and the constructor
 * boilerplate (secret private key, provider version, output slots, the `dcn` module token).
 * Only the resource classes use this file; the provider objects do not reference it, so none of it
 * is serialized into `__provider`.
 */
import * as pulumi from "@pulumi/pulumi";
import { UndercloudArg } from "./common";

/** Arguments every dcn resource has. */
export interface BaseArgs {
    /** Undercloud connection (host, port, user, pinned host key). */
    undercloud: pulumi.Input<UndercloudArg>;
    /** SSH private key text; stored only as a secret. */
    privateKey: pulumi.Input<string>;
}

/** What a dcn resource class tells its base class. */
export interface DcnResourceSpec {
    /** Type name: the token is `pulumi-nodejs:dynamic/dcn:<type>`. */
    type: string;
    /** The provider's PROVIDER_VERSION (stored as the `providerVersion` input). */
    providerVersion: string;
    /** Inputs with defaults (the arguments may omit them). */
    defaults?: Record<string, unknown>;
    /** Output-only properties, registered as undefined so that they become resource outputs. */
    outputs: readonly string[];
    /** Secret outputs besides `privateKey`. */
    secretOutputs?: readonly string[];
}

/** The property bag of a dcn resource: arguments, secret key, defaults, version, output slots. */
export function dcnProps(args: BaseArgs, spec: DcnResourceSpec): Record<string, unknown> {
    const props: Record<string, unknown> = {
        ...args,
        privateKey: pulumi.secret(args.privateKey),
        ...spec.defaults,
        providerVersion: spec.providerVersion,
    };
    for (const k of spec.outputs) {
        props[k] = undefined;
    }
    return props;
}

/**
 * Base class of the dcn resources (`pulumi-nodejs:dynamic/dcn:<type>`). Every one is replaced
 * delete-first (`deleteBeforeReplace`, unless the caller says otherwise): its identity (a stack, a
 * cluster, a file) is fixed on the undercloud, so creating the replacement first would re-adopt
 * the same stack and then delete it. This matters for `pulumi up --replace <urn>`: the engine's
 * forced replace carries no provider answer, only this option (the providers' diffs already ask
 * for delete-first, and their checks refuse identity changes: providers/common.ts).
 */
export abstract class DcnResource extends pulumi.dynamic.Resource {
    protected constructor(
        provider: pulumi.dynamic.ResourceProvider,
        name: string,
        args: BaseArgs,
        spec: DcnResourceSpec,
        opts?: pulumi.CustomResourceOptions,
    ) {
        super(
            provider,
            name,
            { ...dcnProps(args, spec), logUrn: ownUrn(name, spec.type, opts?.parent) },
            {
                deleteBeforeReplace: true,
                ...opts,
                additionalSecretOutputs: ["privateKey", ...(spec.secretOutputs ?? [])],
            },
            "dcn",
            spec.type,
        );
    }
}

/**
 * The URN the engine gives a dcn resource, as an input of its own (`logUrn`): a dynamic provider is
 * not told the URN of the resource it creates, and its progress lines belong on that resource's
 * row (providers/remote/report.ts). The parent's URN is taken through a plain promise: an Output
 * of a component would make the resource depend on every child of that component, itself included.
 */
function ownUrn(name: string, type: string, parent: pulumi.Resource | undefined): pulumi.Output<string> {
    const parentUrn = parent
        ? pulumi.output(
              new Promise<string>((resolve) => {
                  parent.urn.apply((u) => {
                      resolve(u);
                      return u;
                  });
              }),
          )
        : undefined;
    return pulumi.createUrn(name, `pulumi-nodejs:dynamic/dcn:${type}`, parentUrn);
}

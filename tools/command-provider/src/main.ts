// Entry point of the `pulumi-resource-command` plugin: serves the provider over Pulumi's gRPC protocol.
// stdout carries only the port the engine connects to (printed by the provider host).
import { main } from "@pulumi/pulumi/provider";
import { setEngineAddress } from "./engineLog";
import { killRunning } from "./local";
import { makeProvider } from "./provider";
import { closeConnections } from "./remote";

const args = process.argv.slice(2);
// Same parsing as @pulumi/pulumi/provider/internals: drop --logtostderr, -v=N and --tracing <addr>.
const clean: string[] = [];
for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--logtostderr" || a.startsWith("-v=")) continue;
    if (a === "--tracing") {
        i++;
        continue;
    }
    clean.push(a);
}
setEngineAddress(clean[0]);

// Local commands die with the plugin instead of outliving it; pooled SSH connections are closed
// (SSH disconnect, then FIN) rather than left for the kernel. The engine ends a plugin with SIGINT
// to its process group, then SIGKILL after 5 s.
process.on("exit", () => {
    killRunning("SIGKILL");
    closeConnections();
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
        killRunning("SIGTERM");
        closeConnections();
        process.exit(sig === "SIGINT" ? 130 : 143);
    });
}

main(makeProvider(), args).catch((err: unknown) => {
    process.stderr.write(`pulumi-resource-command: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
});

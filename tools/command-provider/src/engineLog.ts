// Status messages to the engine, the way the Go provider's ctx.LogStatus does: ephemeral INFO lines
// attached to the resource's URN. Never used for connection or environment values.
import type * as grpcTypes from "@grpc/grpc-js";

export type Severity = "debug" | "info" | "warning" | "error";

export interface EngineLogger {
    log(severity: Severity, urn: string, message: string, ephemeral?: boolean): void;
}

interface LogClient {
    log(req: unknown, cb: (err: Error | null) => void): void;
}

let client: LogClient | undefined;
let engineAddress: string | undefined;

export function setEngineAddress(addr: string | undefined): void {
    engineAddress = addr;
    client = undefined;
}

function getClient(): LogClient | undefined {
    if (!engineAddress) return undefined;
    if (!client) {
        const grpc: typeof grpcTypes = require("@grpc/grpc-js");
        const enginerpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
        client = new enginerpc.EngineClient(engineAddress, grpc.credentials.createInsecure(), {
            "grpc.max_receive_message_length": 400 * 1024 * 1024,
        }) as LogClient;
    }
    return client;
}

export const engineLogger: EngineLogger = {
    log(severity, urn, message, ephemeral = true) {
        const c = getClient();
        if (!c) {
            process.stderr.write(`[${severity}] ${message}\n`);
            return;
        }
        const engproto = require("@pulumi/pulumi/proto/engine_pb");
        const req = new engproto.LogRequest();
        const sev = {
            debug: engproto.LogSeverity.DEBUG,
            info: engproto.LogSeverity.INFO,
            warning: engproto.LogSeverity.WARNING,
            error: engproto.LogSeverity.ERROR,
        }[severity];
        req.setSeverity(sev);
        req.setMessage(message);
        req.setUrn(urn);
        req.setEphemeral(ephemeral);
        c.log(req, () => {
            /* best effort: a lost status line must not fail the operation */
        });
    },
};

/** Splits a byte stream into lines and hands each complete line to `emit` (like bufio.Scanner). */
export class LineSplitter {
    private buf = "";
    constructor(private readonly emit: (line: string) => void) {}
    push(chunk: string): void {
        this.buf += chunk;
        let i: number;
        while ((i = this.buf.indexOf("\n")) >= 0) {
            this.emit(this.buf.slice(0, i).replace(/\r$/, ""));
            this.buf = this.buf.slice(i + 1);
        }
    }
    end(): void {
        if (this.buf.length > 0) this.emit(this.buf.replace(/\r$/, ""));
        this.buf = "";
    }
}

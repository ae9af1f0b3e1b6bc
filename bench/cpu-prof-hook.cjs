// Preloaded with NODE_OPTIONS="--require bench/cpu-prof-hook.cjs" (Node 20 refuses --cpu-prof in
// NODE_OPTIONS): profiles the whole process with the in-process inspector and writes
// <BENCH_CPU_PROF_DIR>/<pid>.cpuprofile at exit (or on SIGTERM/SIGINT).
"use strict";
const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
    const inspector = require("node:inspector");
    const fs = require("node:fs");
    const path = require("node:path");
    const session = new inspector.Session();
    session.connect();
    session.post("Profiler.enable");
    session.post("Profiler.setSamplingInterval", { interval: 1000 });
    session.post("Profiler.start");
    let written = false;
    const write = () => {
        if (written) return;
        written = true;
        session.post("Profiler.stop", (err, res) => {
            if (!err && res) {
                fs.mkdirSync(dir, { recursive: true });
                fs.writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
            }
        });
    };
    process.on("exit", write);
    for (const sig of ["SIGTERM", "SIGINT"]) {
        process.once(sig, () => {
            write();
            process.exit(128 + (sig === "SIGTERM" ? 15 : 2));
        });
    }
}

// Prints the deployment's stack outputs as a short, readable summary (npm start's last words).
import { execFileSync } from "node:child_process";

const stack = process.argv[2] ?? "dev";
const raw = execFileSync("pulumi", ["stack", "output", "--json", "--stack", stack], { encoding: "utf8" });
const outputs = JSON.parse(raw) as Record<string, unknown>;

function show(value: unknown, indent = "  "): string {
    if (value === null || typeof value !== "object") return String(value);
    if (Array.isArray(value)) return value.map((v) => show(v, indent)).join(", ");
    return Object.entries(value)
        .map(([key, v]) =>
            typeof v === "object" && v !== null && !Array.isArray(v)
                ? `\n${indent}${key}:${show(v, indent + "  ")}`
                : `\n${indent}${key}: ${show(v, indent + "  ")}`,
        )
        .join("");
}

console.log(`\nDeployment summary (stack ${stack})${show(outputs)}`);

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

interface SiteValidation {
    copied?: boolean;
    snapProtected?: boolean;
    cowBoot?: boolean;
}

interface Validation {
    image?: string;
    stores?: string[];
    sites?: Record<string, SiteValidation>;
    seconds?: number;
    validatedAt?: string;
}

/** The multistore validation (settings.validation.enabled) as one line per DCN site. */
export function showValidation(v: Validation | undefined): string {
    if (!v) return "\n  not enabled (settings.validation.enabled)";
    const mark = (b: boolean | undefined) => (b ? "yes" : "NO");
    const lines = [
        `\n  image ${v.image ?? "?"} in stores ${(v.stores ?? []).join(", ")} (${v.seconds ?? "?"} s, ${v.validatedAt ?? "?"})`,
    ];
    for (const [site, r] of Object.entries(v.sites ?? {})) {
        lines.push(
            `\n  ${site}: copied ${mark(r.copied)}, snap protected ${mark(r.snapProtected)}, COW boot ${mark(r.cowBoot)}`,
        );
    }
    return lines.join("");
}

const { validation, ...rest } = outputs;
console.log(`\nDeployment summary (stack ${stack})${show(rest)}`);
console.log(
    `\nMultistore validation (one image from the central Glance, COW-booted at every site)${showValidation(validation as Validation | undefined)}`,
);

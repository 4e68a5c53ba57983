// Where adopt writes in a project, and the little of config.toml and migration names it reads.

/** The lines adopt makes sure .gitignore has (a line may be added here; existing projects get it on their next run). */
export const GITIGNORE_ENTRIES = ["keys/", "*.key", "*.pem", "supabase/signing_keys.json", "supabase/functions/.env", ".env.local"];
export const CONFIG = "supabase/config.toml";
export const GITIGNORE = ".gitignore";
export const MIGRATIONS = "supabase/migrations";

/** The block adopt adds to config.toml for the function. */
export const functionBlock = (name: string) => `[functions.${name}]
enabled = true
# Writers' tokens are verified by the function against the key registry, not by the gateway.
verify_jwt = false
import_map = "./functions/${name}/deno.json"
entrypoint = "./functions/${name}/index.ts"
`;

/** The next migration version after `last`: now (UTC, YYYYMMDDHHMMSS) or one second after `last`, whichever is later. */
export function nextVersion(last: string | undefined, now: Date): string {
  const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const current = stamp(now);
  if (last === undefined || BigInt(last) < BigInt(current)) return current;
  if (/^\d{14}$/.test(last)) {
    const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((i, k) => Number(last.slice(i, i + (k === 0 ? 4 : 2))));
    const t = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) + 1000);
    if (!Number.isNaN(t.getTime()) && stamp(t) > last) return stamp(t);
  }
  return (BigInt(last) + 1n).toString();
}

/** The [functions.<name>] table's body in config.toml, or undefined when there is none. */
export function functionBlockOf(toml: string, name: string): string | undefined {
  const m = new RegExp(`^\\[functions\\.${name}\\][ \\t]*(?:#.*)?\\r?\\n([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, "m").exec(toml);
  return m?.[1];
}

/** A key's value in a config.toml block (quotes taken off), or undefined. */
export function tomlValue(block: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*("?)([^"\\n#]*)\\1`, "m").exec(block)?.[2]?.trim();
}

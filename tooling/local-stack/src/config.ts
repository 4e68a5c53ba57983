import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";

/** One Edge Function as config.toml and the folder layout describe it. */
export interface FunctionConfig {
  name: string;
  enabled: boolean;
  verifyJwt: boolean;
  entrypoint: string;
  importMap: string | undefined;
}

/** Reads supabase/config.toml's [functions.*] and the functions folder, as the Supabase CLI does. */
export function readFunctions(workdir: string): FunctionConfig[] {
  const supabaseDir = join(workdir, "supabase");
  const toml = parse(readFileSync(join(supabaseDir, "config.toml"), "utf8")) as { functions?: Record<string, Record<string, unknown>> };
  const fnDir = join(supabaseDir, "functions");
  if (!existsSync(fnDir)) return [];
  const out: FunctionConfig[] = [];
  for (const name of readdirSync(fnDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !/^[._]/.test(d.name))
    .map((d) => d.name)
    .sort()) {
    const cfg = toml.functions?.[name] ?? {};
    const entrypoint = typeof cfg.entrypoint === "string" ? join(supabaseDir, cfg.entrypoint) : join(fnDir, name, "index.ts");
    if (!existsSync(entrypoint)) continue;
    const importMap =
      typeof cfg.import_map === "string"
        ? join(supabaseDir, cfg.import_map)
        : existsSync(join(fnDir, name, "deno.json"))
          ? join(fnDir, name, "deno.json")
          : undefined;
    out.push({ name, enabled: cfg.enabled !== false, verifyJwt: cfg.verify_jwt !== false, entrypoint, importMap });
  }
  return out;
}

/** Reads supabase/functions/.env (KEY=VALUE lines). Names starting with SUPABASE_ are skipped, as the CLI does. */
export function readFunctionsEnv(workdir: string): Record<string, string> {
  const file = functionsEnvFile(workdir);
  return existsSync(file) ? readEnvFile(file) : {};
}

/** Where `supabase functions serve` looks for the functions' variables: supabase/functions/.env. */
export function functionsEnvFile(workdir: string): string {
  return join(workdir, "supabase", "functions", ".env");
}

/** Reads an env file (KEY=VALUE lines, # comments, optional quotes). Names starting with SUPABASE_ are skipped, as the CLI does. */
export function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith("#") || m[1]!.startsWith("SUPABASE_")) continue;
    env[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, "$2");
  }
  return env;
}

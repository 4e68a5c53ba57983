import { spawn } from "node:child_process";
import { supabaseCliPath } from "./paths.ts";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real Supabase CLI (the `supabase` npm package) with the given arguments. */
export function runSupabaseCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [supabaseCliPath(), ...args], {
      cwd: options.cwd,
      env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Applies supabase/migrations (and seed.sql) to a database URL exactly as for a remote project:
 * `supabase db push --remote=<url> --include-seed --yes`.
 */
export async function pushMigrations(dbUrl: string, workdir: string, includeSeed = true): Promise<CliResult> {
  const args = ["db", "push", `--remote=${dbUrl}`, "--yes", "--workdir", workdir];
  if (includeSeed) args.push("--include-seed");
  const r = await runSupabaseCli(args, { cwd: workdir });
  if (r.code !== 0) {
    const detail = `${r.stderr}\n${r.stdout}`.trim().split("\n").slice(-15).join("\n");
    throw new Error(`supabase db push failed (exit ${r.code}):\n${detail}`);
  }
  return r;
}

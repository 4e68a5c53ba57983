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

/**
 * The files `supabase functions deploy <name> --use-api` would upload, relative to `workdir`: the real CLI is
 * run offline (a dummy access token and project ref, HTTPS through a dead loopback proxy) and prints one
 * `Uploading asset (<name>): <path>` line per file before it fails to connect.
 */
export async function listDeployAssets(workdir: string, fn: string): Promise<string[]> {
  const dead = "http://127.0.0.1:9";
  const r = await runSupabaseCli(
    ["functions", "deploy", fn, "--use-api", "--debug", "--remote=abcdefghijklmnopqrst", "--yes", "--workdir", workdir],
    {
      cwd: workdir,
      env: {
        SUPABASE_ACCESS_TOKEN: `sbp_${"0".repeat(40)}`,
        HTTPS_PROXY: dead,
        HTTP_PROXY: dead,
        https_proxy: dead,
        http_proxy: dead,
        NO_PROXY: "",
        no_proxy: "",
      },
      timeoutMs: 60_000,
    },
  );
  const prefix = `Uploading asset (${fn}): `;
  const assets = `${r.stdout}\n${r.stderr}`
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length).trim());
  if (assets.length === 0)
    throw new Error(
      `supabase functions deploy listed no assets (exit ${r.code}):\n${(r.stderr + r.stdout).trim().split("\n").slice(-10).join("\n")}`,
    );
  return assets;
}

// fedjwt-stack as a process: Ctrl-C (SIGINT) or SIGTERM ends every child process it started.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isAlive as alive } from "../src/functions.ts";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

function startEphemeral(extra: string[] = []): Promise<{
  child: ReturnType<typeof spawn>;
  pids: { stack: number; postgres: number; functions: number[] };
  apiUrl: string;
  info: Record<string, string>;
  stderr: () => string;
}> {
  const child = spawn(process.execPath, [CLI, "start", "--ephemeral", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
    process.stderr.write(c);
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /^READY (.*)$/m.exec(out);
      if (m) {
        const ready = JSON.parse(m[1]!) as { info: Record<string, string>; pids: { stack: number; postgres: number; functions: number[] } };
        resolve({ child, pids: ready.pids, apiUrl: ready.info.API_URL!, info: ready.info, stderr: () => err });
      }
    });
    child.on("exit", (code) => reject(new Error(`exited early (${code}): ${out}`)));
  });
}

describe("stopping the stack", () => {
  it.each(["SIGINT", "SIGTERM"] as const)(
    "%s ends the gateway, PostgreSQL and every function",
    async (signal) => {
      const { child, pids, apiUrl } = await startEphemeral();
      expect((await fetch(`${apiUrl}/functions/v1/rest/widgets`)).status).toBe(401); // up: the function answers
      const all = [pids.stack, pids.postgres, ...pids.functions];
      expect(all.every(alive)).toBe(true);
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill(signal);
      expect(await exited).toBe(0);
      // Bounded wait for the children to be reaped.
      for (let i = 0; i < 600 && all.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
      expect(all.filter(alive)).toEqual([]);
      await expect(fetch(`${apiUrl}/functions/v1/rest/widgets`)).rejects.toThrow();
    },
    120_000,
  );
});

describe("--ephemeral and supabase/functions/.env", () => {
  // A project with no migrations and no functions: quick to start; only the env handling is looked at.
  const project = mkdtempSync(join(tmpdir(), "fedjwt-stack-env-"));
  mkdirSync(join(project, "supabase", "functions"), { recursive: true });
  writeFileSync(join(project, "supabase", "config.toml"), 'project_id = "env-test"\n');
  writeFileSync(join(project, "supabase", "functions", ".env"), "FEDJWT_AUDIENCE=https://from-the-env-file.test\n");
  const stop = async (child: ReturnType<typeof spawn>) => {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };

  it("says it does not read the project's .env, and its audience stays the API URL", async () => {
    const { child, info, stderr } = await startEphemeral(["--project", project]);
    try {
      expect(stderr()).toContain(`--ephemeral does not read ${join(project, "supabase", "functions", ".env")}`);
      expect(stderr()).not.toContain("from-the-env-file"); // names the file, never its values
      expect(info.FEDJWT_AUDIENCE).toBe(info.API_URL);
    } finally {
      await stop(child);
    }
  }, 120_000);

  it("reads the file --functions-env names (the audience it sets is what status reports)", async () => {
    const { child, info, stderr } = await startEphemeral([
      "--project",
      project,
      "--functions-env",
      join(project, "supabase", "functions", ".env"),
    ]);
    try {
      expect(stderr()).not.toContain("does not read");
      expect(info.FEDJWT_AUDIENCE).toBe("https://from-the-env-file.test");
    } finally {
      await stop(child);
      rmSync(project, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("help", () => {
  it("says what the ports default to, with and without --ephemeral", async () => {
    const child = spawn(process.execPath, [CLI, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    expect(await new Promise((r) => child.on("close", r))).toBe(0);
    expect(out).toMatch(/--api-port <n> +gateway port, 1–65535 \(default 54321; with --ephemeral a free port\)/);
    expect(out).toMatch(/--db-port <n> +database port, 1–65535 \(default 54322; with --ephemeral a free port\)/);
  });

  it("tells of --project, --functions-env, what --ephemeral does with .env, and the audience status prints", async () => {
    const child = spawn(process.execPath, [CLI, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    expect(await new Promise((r) => child.on("close", r))).toBe(0);
    const flat = out.replace(/\s+/g, " ");
    expect(flat).toContain("--project <dir> serve another project instead of this repository: a folder made by `supabase init`");
    expect(flat).toContain("--functions-env <file> the functions' variables from this file instead of supabase/functions/.env");
    expect(flat).toContain("It does NOT read supabase/functions/.env");
    expect(flat).toContain("FEDJWT_AUDIENCE: the audience writers must put in `aud` (the API URL, exact, no trailing slash");
  });
});

describe("usage errors", () => {
  it.each([
    [["frobnicate"], /unknown command "frobnicate"/],
    [["start", "--api-port", "http"], /--api-port must be a port number from 1 to 65535/],
    [["start", "--api-port", "99999"], /--api-port must be a port number from 1 to 65535/],
    [["start", "--api-port", "65536"], /--api-port must be a port number from 1 to 65535/],
    [["start", "--api-port", "0"], /--api-port must be a port number from 1 to 65535/],
    [["start", "--db-port", "99999"], /--db-port must be a port number from 1 to 65535/],
    [["start", "--ephemeral", "--db-port", "0"], /--db-port must be a port number from 1 to 65535/],
    [["start", "--ephemeral", "--detach"], /--ephemeral runs in the foreground and cannot be combined with --detach/],
    [["start", "--bogus"], /Unknown option '--bogus'/],
    [["start", "--project", "/nonexistent/app"], /--project \/nonexistent\/app: no supabase\/config\.toml there/],
    [["start", "--functions-env", "/nonexistent/.env"], /--functions-env \/nonexistent\/\.env: no such file/],
  ])("%j → exit 2, one line", async (args, pattern) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise((r) => child.on("close", r));
    expect(code).toBe(2);
    expect(err.trimEnd().split("\n")).toHaveLength(1);
    expect(err).toMatch(pattern);
  });
});

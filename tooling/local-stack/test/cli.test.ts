// fedjwt-stack as a process: Ctrl-C (SIGINT) or SIGTERM ends every child process it started.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isAlive as alive } from "../src/functions.ts";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

function startEphemeral(): Promise<{
  child: ReturnType<typeof spawn>;
  pids: { stack: number; postgres: number; functions: number[] };
  apiUrl: string;
}> {
  const child = spawn(process.execPath, [CLI, "start", "--ephemeral"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /^READY (.*)$/m.exec(out);
      if (m) {
        const ready = JSON.parse(m[1]!) as { info: { API_URL: string }; pids: { stack: number; postgres: number; functions: number[] } };
        resolve({ child, pids: ready.pids, apiUrl: ready.info.API_URL });
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

describe("help", () => {
  it("says what the ports default to, with and without --ephemeral", async () => {
    const child = spawn(process.execPath, [CLI, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    expect(await new Promise((r) => child.on("close", r))).toBe(0);
    expect(out).toMatch(/--api-port <n> +gateway port, 1–65535 \(default 54321; with --ephemeral a free port\)/);
    expect(out).toMatch(/--db-port <n> +database port, 1–65535 \(default 54322; with --ephemeral a free port\)/);
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

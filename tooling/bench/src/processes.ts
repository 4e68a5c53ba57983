// Processes the bench starts: the local stack (its own process, so its CPU is its own) and single
// `deno serve` processes (the rest function alone, or bare hops that show the runtime's own cost).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { denoBinary, denoNetworkEnv, freePort, repoRoot, type StackInfo } from "@fedjwt/local-stack";

/** The local stack in a child process, with the pids of its parts. */
export interface Stack {
  info: StackInfo;
  pids: { stack: number; postgres: number; functions: number[] };
  child: ChildProcess;
}

/** Starts `fedjwt stack start --ephemeral` (free ports, temporary data) and waits for its READY line. */
export function startStackProcess(): Promise<Stack> {
  const child = spawn(process.execPath, [join(repoRoot(), "tooling/local-stack/dist/cli.js"), "start", "--ephemeral"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      const m = /^READY (.*)$/m.exec(buf);
      if (m) resolve({ ...(JSON.parse(m[1]!) as Omit<Stack, "child">), child });
    });
    child.on("exit", (code) => reject(new Error(`the stack exited (${code})`)));
  });
}

/** Stops a child process and waits for it to exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(t);
}

/** A `deno serve` process on a free loopback port. */
export interface DenoServer {
  url: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Serves `entrypoint` (optionally with a deno.json) with `deno serve`, as the Edge Runtime would, and waits for its port. */
export async function serveDeno(entrypoint: string, env: Record<string, string>, config?: string): Promise<DenoServer> {
  const port = await freePort();
  const args = [
    "serve",
    "--quiet",
    "--no-prompt",
    "--no-lock",
    "--allow-net",
    "--allow-env",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
  ];
  if (config) args.push("--config", config);
  args.push(entrypoint);
  const child = spawn(denoBinary(), args, {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...denoNetworkEnv(),
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`deno exited (${child.exitCode}) before serving ${entrypoint}`);
    const up = await new Promise<boolean>((r) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), r(true)));
      s.once("error", () => (s.destroy(), r(false)));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`deno did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, child, stop: () => stopChild(child) };
}

/** Bare Deno servers that show the runtime's floor: answering alone, and answering with one fetch upstream. */
export const BARE_SCRIPTS = {
  /** Answers every request itself: the HTTP server's cost. */
  serve: `export default { fetch: () => new Response('[{"id":1}]', { headers: { "content-type": "application/json" } }) };\n`,
  /** Forwards method, path, headers and body to UPSTREAM and streams the answer back: server + client. */
  hop: `const upstream = Deno.env.get("UPSTREAM");
export default {
  async fetch(req) {
    const u = new URL(req.url);
    const res = await fetch(upstream + u.pathname.replace(/^\\/rest/, "") + u.search, {
      method: req.method, headers: req.headers, body: req.body, redirect: "manual",
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  },
};
`,
} as const;

/** Writes a bare script to a temporary folder; returns its path and a cleanup. */
export function bareScript(kind: keyof typeof BARE_SCRIPTS): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "fedjwt-bench-"));
  const path = join(dir, `${kind}.js`);
  writeFileSync(path, BARE_SCRIPTS[kind]);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The machine and runtimes, for the report. */
export async function machineInfo() {
  const deno = await new Promise<string>((r) => {
    const c = spawn(denoBinary(), ["--version"]);
    let o = "";
    c.stdout.on("data", (d) => (o += d));
    c.on("close", () => r(o.split("\n")[0] ?? ""));
  });
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    deno,
    date: new Date().toISOString(),
    /** 1-, 5- and 15-minute load averages when the run started (other work on the machine). */
    loadAverageAtStart: loadavg().map((n) => Number(n.toFixed(2))),
  };
}

/** What machineInfo returns. */
export type MachineInfo = Awaited<ReturnType<typeof machineInfo>>;

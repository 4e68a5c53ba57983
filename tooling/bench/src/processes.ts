// Processes the bench starts: the local stack (its own process, so its CPU is its own) and single
// `deno serve` processes (the rest function alone, or bare hops that show the runtime's own cost), served by
// @fedjwt/local-stack's serveDeno.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { denoBinary, repoRoot, serveDeno, type DenoServer, type StackInfo } from "@fedjwt/local-stack";

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

/** Serves `entrypoint` (optionally with a deno.json) with `deno serve` as the bench runs it: no lock file, stdout dropped, stderr to this terminal. */
export function serveBench(entrypoint: string, env: Record<string, string>, config?: string): Promise<DenoServer> {
  return serveDeno({ entrypoint, config, env, lock: false, stdio: ["ignore", "ignore", "inherit"] });
}

/** The rest function (supabase/functions/rest with its deno.json) served as the bench runs it. */
export function serveRest(env: Record<string, string>): Promise<DenoServer> {
  const root = repoRoot();
  return serveBench(join(root, "supabase/functions/rest/index.ts"), env, join(root, "supabase/functions/rest/deno.json"));
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
  /**
   * The hop plus the one check no verifying gateway can skip: the bearer's ES256 signature against its
   * issuer's key (KEYS: issuer → SPKI, base64; imported once each), then the same forward. Nothing else.
   */
  "verify-hop": `const upstream = Deno.env.get("UPSTREAM");
const spki = JSON.parse(Deno.env.get("KEYS"));
const keys = new Map();
const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const enc = new TextEncoder();
export default {
  async fetch(req) {
    const token = (req.headers.get("authorization") ?? "").slice(7);
    const [h, p, s] = token.split(".");
    const iss = JSON.parse(new TextDecoder().decode(b64(p))).iss;
    let key = keys.get(iss);
    if (!key) {
      key = crypto.subtle.importKey("spki", b64(spki[iss]), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
      keys.set(iss, key);
    }
    if (!(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, await key, b64(s), enc.encode(h + "." + p)))) {
      return new Response("bad signature", { status: 401 });
    }
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

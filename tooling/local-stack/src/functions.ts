import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import type { FunctionConfig } from "./config.ts";
import { freePort } from "@fedjwt/local-db";

/** A function served by real Deno on a loopback port. */
export interface RunningFunction extends DenoServer {
  config: FunctionConfig;
}

/** The Deno binary the `deno` npm package links at install time. */
export function denoBinary(): string {
  return join(dirname(createRequire(import.meta.url).resolve("deno/package.json")), "deno");
}

/** Host variables that Deno needs to download npm/jsr dependencies behind a proxy or a TLS-inspecting CA. */
const NETWORK_VARS = [
  "DENO_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "NODE_EXTRA_CA_CERTS",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
];

/**
 * The part of the host environment a Deno child needs to reach package registries. Deno reads DENO_CERT and
 * NODE_EXTRA_CA_CERTS but not SSL_CERT_FILE, so a machine that announces its CA only there gets DENO_CERT from it.
 */
export function denoNetworkEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of NETWORK_VARS) if (env[name]) out[name] = env[name];
  if (!out.DENO_CERT && !out.NODE_EXTRA_CA_CERTS && env.SSL_CERT_FILE) out.DENO_CERT = env.SSL_CERT_FILE;
  return out;
}

/**
 * The environment a Deno child starts with: of the host's, only PATH, HOME and how Deno reaches package registries
 * (denoNetworkEnv), then `env` on top. Like the Edge Runtime, a function sees its own variables, not the host's.
 */
export function denoEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    ...denoNetworkEnv(),
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    ...env,
  };
}

/** True while a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a child process (SIGTERM, SIGKILL after 5 s) and waits for it to exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(t);
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`deno exited (${child.exitCode}) before serving: ${output().slice(-800)}`));
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`deno did not listen on ${port} within ${timeoutMs} ms: ${output().slice(-800)}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/** What serveDeno starts. */
export interface ServeDenoOptions {
  /** The module whose default export `deno serve` serves. */
  entrypoint: string;
  /** A deno.json or import map (`--config`). */
  config?: string | undefined;
  /** The server's own variables, over denoEnv()'s. */
  env?: Record<string, string>;
  /** The working directory (this process's by default). */
  cwd?: string;
  /** What `--allow-net` allows: every host by default, or a list such as "127.0.0.1". */
  allowNet?: string;
  /** false: `--no-lock` (neither read nor write deno.lock). */
  lock?: boolean;
  /**
   * How the module serves: "default-export" (`export default { fetch }`, run by `deno serve`, the default) or
   * "deno-serve" (it calls `Deno.serve(…)` itself, as `supabase functions new` writes it: run by `deno run`, with
   * DENO_SERVE_ADDRESS naming the port).
   */
  style?: "default-export" | "deno-serve";
  /** How long to wait for the port (60 s by default). */
  timeoutMs?: number;
  /** The child's stdio: stdout and stderr piped (kept for errors and given to onOutput) by default. */
  stdio?: StdioOptions;
  /** Each chunk the child prints on a piped stdout or stderr. */
  onOutput?: (text: string) => void;
}

/** A `deno serve` process on a free loopback port. */
export interface DenoServer {
  url: string;
  process: ChildProcess;
  /** The last 4000 characters the child printed on piped streams. */
  output(): string;
  stop(): Promise<void>;
}

/** The arguments of `deno serve` for `options` on a loopback port. */
export function denoServeArgs(
  options: Pick<ServeDenoOptions, "entrypoint" | "config" | "allowNet" | "lock" | "style">,
  port: number,
): string[] {
  const byItself = options.style === "deno-serve";
  const args = [byItself ? "run" : "serve", "--quiet", "--no-prompt"];
  if (options.lock === false) args.push("--no-lock");
  args.push(options.allowNet ? `--allow-net=${options.allowNet}` : "--allow-net", "--allow-env");
  if (!byItself) args.push("--host", "127.0.0.1", "--port", String(port));
  if (options.config) args.push("--config", options.config);
  args.push(options.entrypoint);
  return args;
}

/** Serves `entrypoint` with `deno serve` on a free loopback port, as the Edge Runtime would, and waits until it listens. */
export async function serveDeno(options: ServeDenoOptions): Promise<DenoServer> {
  const port = await freePort();
  const args = denoServeArgs(options, port);
  // A cold cache downloads the function's npm dependencies on first start: denoEnv passes how Deno reaches registries.
  const child = spawn(denoBinary(), args, {
    cwd: options.cwd,
    env: denoEnv({ ...options.env, ...(options.style === "deno-serve" ? { DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}` } : {}) }),
    stdio: options.stdio ?? ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (c: Buffer) => {
    const text = c.toString();
    output = (output + text).slice(-4000);
    options.onOutput?.(text);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  try {
    await waitForPort(port, child, options.timeoutMs ?? 60_000, () => output);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, process: child, output: () => output, stop: () => stopChild(child) };
}

/** How a function's entrypoint serves: a default export with `fetch`, or its own `Deno.serve(…)` call. */
export function serveStyle(source: string): "default-export" | "deno-serve" {
  return /^\s*export\s+default\b/m.test(source) ? "default-export" : "deno-serve";
}

/**
 * Whether Deno may use a lockfile for this function: only when a deno.lock already sits beside its deno.json (or
 * entrypoint), which Deno then reads and keeps current. Otherwise `--no-lock`: serving a project never leaves a new
 * untracked deno.lock in it.
 */
export function usesLockfile(config: Pick<FunctionConfig, "entrypoint" | "importMap">): boolean {
  return existsSync(join(dirname(config.importMap ?? config.entrypoint), "deno.lock"));
}

/** Serves one function under Deno, the way the Edge Runtime serves it: its default export, or its own Deno.serve. */
export async function serveFunction(
  config: FunctionConfig,
  env: Record<string, string>,
  onLog: (name: string, line: string) => void = () => undefined,
): Promise<RunningFunction> {
  const server = await serveDeno({
    entrypoint: config.entrypoint,
    config: config.importMap,
    style: serveStyle(readFileSync(config.entrypoint, "utf8")),
    ...(usesLockfile(config) ? {} : { lock: false }),
    env,
    onOutput: (text) => {
      for (const line of text.split("\n")) if (line.trim()) onLog(config.name, line);
    },
  });
  return { config, ...server };
}

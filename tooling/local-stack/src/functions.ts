import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import type { FunctionConfig } from "./config.ts";
import { freePort } from "@fedjwt/local-db";

/** A function served by real Deno on a loopback port. */
export interface RunningFunction {
  config: FunctionConfig;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
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

/** Serves one function with `deno serve`, the way the Edge Runtime serves its default export. */
export async function serveFunction(
  config: FunctionConfig,
  env: Record<string, string>,
  onLog: (name: string, line: string) => void = () => undefined,
): Promise<RunningFunction> {
  const port = await freePort();
  const args = ["serve", "--quiet", "--no-prompt", "--allow-net", "--allow-env", "--host", "127.0.0.1", "--port", String(port)];
  if (config.importMap) args.push("--config", config.importMap);
  args.push(config.entrypoint);
  const child = spawn(denoBinary(), args, {
    // Like the Edge Runtime, a function sees only its own environment, not the host's (but for how Deno
    // reaches registries: a cold cache downloads the function's npm dependencies on first start).
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...denoNetworkEnv(),
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (c: Buffer) => {
    const text = c.toString();
    output = (output + text).slice(-4000);
    for (const line of text.split("\n")) if (line.trim()) onLog(config.name, line);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  await waitForPort(port, child, 60_000, () => output);
  return {
    config,
    url: `http://127.0.0.1:${port}`,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

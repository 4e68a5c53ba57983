// Where the end-to-end tests run: the Docker-free local stack (default, started per file on free ports),
// or an already running stack given by environment (E2E_API_URL, E2E_ANON_KEY, E2E_SERVICE_ROLE_KEY,
// E2E_AUDIENCE, E2E_KEY_CACHE_TTL_MS), e.g. `supabase start` + `supabase functions serve` in GitHub Actions.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startStack, type RunningStack } from "@fedjwt/local-stack";
import { afterAll, beforeAll } from "vitest";

export interface Target {
  apiUrl: string;
  anonKey: string;
  serviceKey: string;
  audience: string;
  /** The project's legacy JWT secret: signs tokens shaped like Supabase Auth's (E2E_JWT_SECRET when external). */
  jwtSecret: string;
  /** The gateway's key cache TTL: how long a registry change may take to be seen. */
  cacheTtlMs: number;
  /** True when the stack is not ours (a function in Docker cannot reach a JWKS on our loopback). */
  external: boolean;
}

const LOCAL_TTL_MS = 1000;

/** Starts (or names) the stack for the calling test file. `faults` keeps the database on disk so it can restart. */
export function useTarget(
  options: { faults?: boolean; functionEnv?: Record<string, string>; log?: (line: string) => void } = {},
): () => Target & { stack: RunningStack | undefined } {
  let target: (Target & { stack: RunningStack | undefined }) | undefined;
  let stack: RunningStack | undefined;
  beforeAll(async () => {
    const external = process.env.E2E_API_URL;
    if (external) {
      target = {
        apiUrl: external,
        anonKey: process.env.E2E_ANON_KEY ?? "",
        serviceKey: process.env.E2E_SERVICE_ROLE_KEY ?? "",
        audience: process.env.E2E_AUDIENCE ?? external,
        // `supabase start`'s well-known local secret unless told otherwise.
        jwtSecret: process.env.E2E_JWT_SECRET ?? "super-secret-jwt-token-with-at-least-32-characters-long",
        cacheTtlMs: Number(process.env.E2E_KEY_CACHE_TTL_MS ?? 5000),
        external: true,
        stack: undefined,
      };
      return;
    }
    // useEnvFile false: a developer's supabase/functions/.env (written by pnpm dev) cannot change the test.
    stack = await startStack({
      apiPort: 0,
      dbPort: 0,
      useEnvFile: false,
      ...(options.log ? { log: options.log } : {}),
      ...(options.faults ? { dataDir: join(mkdtempSync(join(tmpdir(), "fedjwt-e2e-db-")), "db") } : {}),
      functionEnv: { FEDJWT_KEY_CACHE_TTL_MS: String(LOCAL_TTL_MS), ...options.functionEnv },
    });
    target = {
      apiUrl: stack.info.API_URL,
      anonKey: stack.info.ANON_KEY,
      serviceKey: stack.info.SERVICE_ROLE_KEY,
      audience: stack.info.API_URL,
      jwtSecret: stack.info.JWT_SECRET,
      cacheTtlMs: LOCAL_TTL_MS,
      external: false,
      stack,
    };
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });
  return () => target!;
}

const BIN = fileURLToPath(new URL("../../../packages/cli/dist/bin.js", import.meta.url));

/**
 * Runs the built fedjwt CLI against the target, as a user would. Asynchronous on purpose: the local stack
 * runs in this process, and a synchronous spawn would block the very servers the CLI talks to.
 */
export function fedjwt(
  t: Target,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, SUPABASE_URL: t.apiUrl, SUPABASE_SERVICE_ROLE_KEY: t.serviceKey, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh temporary folder for keys. */
export function keyDir(): string {
  return mkdtempSync(join(tmpdir(), "fedjwt-e2e-keys-"));
}

/** Generates a keypair with the CLI and returns its file paths and kid. */
export async function keygen(
  t: Target,
  dir: string,
  issuer: string,
  alg = "ES256",
): Promise<{ privateKey: string; publicKey: string; jwk: string; kid: string }> {
  const r = await fedjwt(t, ["keygen", "--issuer", issuer, "--target", "e2e", "--alg", alg, "--out", dir, "--json", "--force"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const out = JSON.parse(r.stdout) as { kid: string; files: { privateKey: string; publicKey: string; jwk: string } };
  return { ...out.files, kid: out.kid };
}

/** Registers an issuer with the CLI; throws with the CLI's message on failure. */
export async function register(t: Target, args: string[]): Promise<string> {
  const r = await fedjwt(t, ["register", ...args]);
  if (r.code !== 0) throw new Error(`register failed (${r.code}): ${r.stderr}`);
  // An external stack is shared (pnpm dev, earlier files): its function may hold this issuer's keys from before the
  // change for up to its cache TTL, which is how long a registry change may take to be seen. Wait that out.
  if (t.external && !r.stdout.includes("nothing to do")) await new Promise((done) => setTimeout(done, t.cacheTtlMs + 250));
  return r.stdout;
}

/** Reads rows through the Data API with the service_role key (to check what writers wrote). */
export async function serviceRead<T>(t: Target, path: string): Promise<T> {
  const res = await fetch(`${t.apiUrl}/rest/v1/${path}`, { headers: { apikey: t.serviceKey, authorization: `Bearer ${t.serviceKey}` } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A raw request to the gateway with a bearer token. */
export async function viaGateway(
  t: Target,
  path: string,
  bearer: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown> | unknown[] | null }> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${bearer}`);
  headers.set("apikey", t.anonKey);
  const res = await fetch(`${t.apiUrl}/functions/v1/rest/${path}`, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

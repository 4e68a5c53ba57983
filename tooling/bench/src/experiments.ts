// The bench's experiments, each an exported engine returning plain numbers (report.ts renders them).
// Nothing here asserts a time: figures are measured once and compared within the same run.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { SignJWT } from "jose";
import { createSigner, generateKeyPair, SUPPORTED_ALGS, type Signer } from "@fedjwt/signer";
import { cachedRegistry, verifyMultiIssuerJwt } from "@fedjwt/proxy";
import { registryRow } from "@fedjwt/proxy/testing";
import { denoBinary, denoEnv, denoServeArgs, freePort, repoRoot, stopChild, type DenoServer } from "@fedjwt/local-stack";
import { measureHandlerCost, type HandlerCost } from "./handler-cost.ts";
import { measurePolicyCost, type PolicyCost } from "./policy-cost.ts";
import { cannon, mergeRuns, orderMix, type RawRun, type RunResult } from "./cannon.ts";
import { memoryRegistry, registerWriter, serviceHeaders } from "./lib.ts";
import { childrenOf, type ProcessGroups } from "./procfs.ts";
import { bareScript, serveBench, serveRest, type Stack } from "./processes.ts";

/** How writers hand tokens to the gateway in a run. */
export type TokenMode = "reused" | "per-request";
/** The three sides of the overhead comparison. */
export type Side = "direct" | TokenMode;

/** Sizes of the overhead runs: requests per concurrency (warm-up is a tenth more). */
export const OVERHEAD_RUNS = [
  [1, 1000],
  [50, 5000],
] as const;

const ROLES = ["orders_writer"];

/** A token source for a run: the same young token (signer.token(), refreshed as it ages) or a fresh one per request. */
async function tokenSource(signer: Signer, mode: TokenMode, count: number): Promise<{ next: () => string; stop(): void }> {
  if (mode === "reused") {
    let current = await signer.token({ roles: ROLES });
    // What an accessToken callback sees: token() hands out a new token once half the old one's life has gone.
    const timer = setInterval(() => void signer.token({ roles: ROLES }).then((t) => (current = t)), 1000);
    return { next: () => current, stop: () => clearInterval(timer) };
  }
  // Minted before the run (minting is the writer's cost, not the gateway's), with 5 minutes to live so none
  // expires during a long interleaved run on a busy machine; the outbound token still lives at most 60 s.
  const pool = await Promise.all(Array.from({ length: count }, () => signer.sign({ roles: ROLES, expiresIn: 300 })));
  let i = 0;
  return { next: () => pool[i++ % pool.length]!, stop: () => undefined };
}

/** The process groups of the stack whose CPU is sampled. */
export function stackGroups(stack: Stack): ProcessGroups {
  return {
    "bench client": () => [process.pid],
    "gateway + stand-in (node)": () => [stack.pids.stack],
    "rest function (deno)": () => stack.pids.functions,
    postgres: () => [stack.pids.postgres, ...childrenOf(stack.pids.postgres)],
  };
}

/** Inserts one order directly and returns its id (the select half of the mix reads it). */
async function seedOrder(api: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${api}/rest/v1/orders?select=id`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", prefer: "return=representation" },
    body: '{"sku":"WIDGET-BLUE","quantity":1}',
  });
  if (!res.ok) throw new Error(`seeding an order: ${res.status} ${await res.text()}`);
  return ((await res.json()) as Array<{ id: string }>)[0]!.id;
}

/** A token PostgREST accepts directly, equivalent to what the gateway mints (for the direct side). */
function directToken(jwtSecret: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: "bench-service",
    sub: crypto.randomUUID(),
    role: "federated_writer",
    aud: "authenticated",
    app_roles: ROLES,
    fedjwt_gateway: 1,
    iat: now,
    exp: now + 3600,
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(jwtSecret));
}

/** Everything a run against the stack needs. */
export interface Writer {
  api: string;
  anonKey: string;
  signer: Signer;
  direct: string;
  selectId: string;
}

/** Registers the bench's writer on the stack and prepares a direct token and a row to select. */
export async function benchWriter(stack: Stack): Promise<Writer> {
  const api = stack.info.API_URL;
  const keys = await registerWriter(api, stack.info.SERVICE_ROLE_KEY, "bench-service", ROLES);
  const signer = await createSigner({ privateKey: keys.privateKeyPem, issuer: "bench-service", audience: api });
  const direct = await directToken(stack.info.JWT_SECRET);
  const selectId = await seedOrder(api, { apikey: stack.info.ANON_KEY, authorization: `Bearer ${direct}` });
  return { api, anonKey: stack.info.ANON_KEY, signer, direct, selectId };
}

/** Slices each run is cut into, run target after target in turn, so drifting load hits every target alike. */
export const OVERHEAD_SLICES = 4;

/** One thing to load in an interleaved run. */
interface Target {
  url: string;
  prefix: string;
  side: Side;
  groups: ProcessGroups;
}

/**
 * Loads every target with the same mix at `connections`, `amount` requests each, cut into slices run in turn
 * (A, B, C, A, B, C, …) after one warm-up slice each; each target's slices are added up.
 */
async function interleaved<K extends string>(
  w: Writer,
  targets: Record<K, Target>,
  connections: number,
  amount: number,
): Promise<Record<K, RunResult>> {
  const keys = Object.keys(targets) as K[];
  const slice = Math.ceil(amount / OVERHEAD_SLICES);
  const sources = {} as Record<K, { next: () => string; stop(): void }>;
  const slices = {} as Record<K, RawRun[]>;
  try {
    for (const k of keys) {
      const side = targets[k].side;
      sources[k] = side === "direct" ? { next: () => w.direct, stop: () => undefined } : await tokenSource(w.signer, side, amount + slice);
      slices[k] = [];
    }
    const opts = (k: K) => ({
      url: targets[k].url,
      mix: orderMix(targets[k].prefix, w.selectId),
      headers: { apikey: w.anonKey },
      bearer: sources[k].next,
      connections,
      groups: targets[k].groups,
    });
    for (const k of keys) await cannon({ ...opts(k), amount: slice }); // warm-up
    for (let i = 0; i < OVERHEAD_SLICES; i++) {
      for (const k of keys) slices[k].push((await cannon({ ...opts(k), amount: slice })).raw);
    }
  } finally {
    for (const k of keys) sources[k]?.stop();
  }
  const out = {} as Record<K, RunResult>;
  for (const k of keys) out[k] = mergeRuns(slices[k]);
  return out;
}

/**
 * Proxy overhead: the same mix at concurrency 1 and 50, direct (gateway → stand-in) against proxied
 * (gateway → rest under Deno → gateway → stand-in) with reused and with per-request tokens, interleaved.
 */
export async function overhead(stack: Stack, w: Writer, log: (s: string) => void): Promise<Record<string, Record<Side, RunResult>>> {
  const out: Record<string, Record<Side, RunResult>> = {};
  const groups = stackGroups(stack);
  const through = (side: Side): Target => ({ url: w.api, prefix: side === "direct" ? "/rest/v1/" : "/functions/v1/rest/", side, groups });
  for (const [connections, amount] of OVERHEAD_RUNS) {
    const row = await interleaved(
      w,
      { direct: through("direct"), reused: through("reused"), "per-request": through("per-request") },
      connections,
      amount,
    );
    for (const side of ["direct", "reused", "per-request"] as const) {
      const r = row[side];
      log(
        `  c=${connections} ${side.padEnd(11)} ${r.rps.toFixed(0).padStart(5)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}  function CPU ${r.cpuMsPerRequest["rest function (deno)"]!.toFixed(3)} ms/req`,
      );
    }
    out[`c${connections}`] = row;
  }
  return out;
}

/** CPU per request of one Deno process under the same load, for each way of serving. */
export interface HopCost {
  what: string;
  cpuMsPerRequest: number;
  rps: number;
  errors: number;
}

/**
 * Where the function's CPU goes: four `deno serve` processes, loaded in turn (interleaved slices) directly at
 * concurrency 50 with the same mix — a bare server answering itself, a bare server + one fetch upstream (the runtime's floor for
 * any gateway function), and the rest function on cache hits and on misses. The differences are ours.
 */
export async function functionCpu(stack: Stack, w: Writer, log: (s: string) => void, amount = 3000): Promise<HopCost[]> {
  const env = {
    SUPABASE_URL: w.api,
    SUPABASE_SERVICE_ROLE_KEY: stack.info.SERVICE_ROLE_KEY,
    SUPABASE_ANON_KEY: w.anonKey,
    FEDJWT_AUDIENCE: w.api,
    FEDJWT_LEGACY_JWT_SECRET: stack.info.JWT_SECRET,
    UPSTREAM: `${w.api}/rest/v1`,
  };
  const cases = {
    "bare deno serve (answers itself)": { script: "serve", side: "direct" },
    "bare deno serve + one fetch upstream": { script: "hop", side: "direct" },
    "rest function, reused token (cache hit)": { side: "reused" },
    "rest function, per-request token (miss)": { side: "per-request" },
    // The same hits without success lines (FEDJWT_ACCESS_LOG=errors): the difference is what one access line costs.
    "rest function, cache hit, access lines for errors only": { side: "reused", env: { FEDJWT_ACCESS_LOG: "errors" } },
  } as const satisfies Record<string, { script?: "serve" | "hop"; side: Side; env?: Record<string, string> }>;
  type What = keyof typeof cases;
  const scripts: Array<{ remove(): void }> = [];
  const servers: DenoServer[] = [];
  try {
    const targets = {} as Record<What, Target>;
    for (const what of Object.keys(cases) as What[]) {
      const c: { script?: "serve" | "hop"; side: Side; env?: Record<string, string> } = cases[what];
      const bare = c.script ? bareScript(c.script) : undefined;
      if (bare) scripts.push(bare);
      const server = bare ? await serveBench(bare.path, env) : await serveRest({ ...env, ...c.env });
      servers.push(server);
      targets[what] = { url: server.url, prefix: "/rest/", side: c.side, groups: { fn: () => [server.process.pid!] } };
    }
    const runs = await interleaved(w, targets, 50, amount);
    return (Object.keys(cases) as What[]).map((what) => {
      const r = runs[what];
      log(`  ${what.padEnd(42)} ${r.cpuMsPerRequest.fn!.toFixed(3)} ms CPU/request  (${r.rps.toFixed(0)} req/s, errors ${r.errors})`);
      return { what, cpuMsPerRequest: r.cpuMsPerRequest.fn!, rps: r.rps, errors: r.errors };
    });
  } finally {
    for (const server of servers) await server.stop();
    for (const script of scripts) script.remove();
  }
}

/** How the function's upstream connections behaved under load. */
export interface KeepAlive {
  requests: number;
  upstreamConnections: number;
  warmupConnections: number;
  registryReads: number;
  cpuMsPerRequest: number;
  rps: number;
  errors: number;
}

/**
 * Keep-alive check: the rest function alone in front of an instant Node upstream that counts the TCP
 * connections it accepts (and answers the registry read), loaded at concurrency 50 with a reused token.
 * A handful of connections for thousands of requests means the upstream connections are kept alive.
 */
export async function keepAlive(log: (s: string) => void, amount = 3000): Promise<KeepAlive> {
  const keys = await generateKeyPair();
  let connections = 0;
  let registryReads = 0;
  const row = registryRow({
    issuer: "ka-service",
    keys,
    policy: { db_role: "federated_writer", db_role_valid: true, allowed_roles: ROLES, max_token_lifetime_seconds: 300, require_jti: false },
  });
  const server = createServer((req, res) => {
    // The registry: the issuer list (with its exact count) and the issuer's rows; anything else is data.
    const names = req.url?.startsWith("/rest/v1/jwt_issuers");
    const rows = req.url?.startsWith("/rest/v1/jwt_registry");
    if (names || rows) registryReads++;
    const body = names ? JSON.stringify([{ issuer: row.issuer }]) : rows ? JSON.stringify([row]) : '[{"id":1,"quantity":1}]';
    req.resume();
    req.on("end", () =>
      res.writeHead(200, { "content-type": "application/json", ...(names ? { "content-range": "0-0/1" } : {}) }).end(body),
    );
  });
  server.on("connection", () => connections++);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fn = await serveRest({
    SUPABASE_URL: upstream,
    SUPABASE_SERVICE_ROLE_KEY: "sb_secret_bench",
    SUPABASE_ANON_KEY: "sb_publishable_bench",
    FEDJWT_AUDIENCE: upstream,
    FEDJWT_LEGACY_JWT_SECRET: "bench-secret-bench-secret-bench-secret-bench",
  });
  try {
    const signer = await createSigner({ privateKey: keys.privateKeyPem, issuer: "ka-service", audience: upstream });
    const token = await signer.token({ roles: ROLES });
    const o = {
      url: fn.url,
      mix: orderMix("/rest/", "00000000-0000-0000-0000-000000000001"),
      headers: { apikey: "sb_publishable_bench" },
      bearer: () => token,
      connections: 50,
      groups: { fn: () => [fn.process.pid!] },
    };
    await cannon({ ...o, amount: 300 });
    const before = connections;
    const r = await cannon({ ...o, amount });
    const out = {
      requests: r.requests,
      upstreamConnections: connections - before,
      warmupConnections: before,
      registryReads,
      cpuMsPerRequest: r.cpuMsPerRequest.fn!,
      rps: r.rps,
      errors: r.errors,
    };
    log(
      `  ${out.requests} requests through the function: ${out.upstreamConnections} new upstream connections during the run (${before} opened in the warm-up), ${registryReads} registry reads in all; function CPU ${out.cpuMsPerRequest.toFixed(3)} ms/request with an instant upstream (${out.rps.toFixed(0)} req/s, errors ${out.errors})`,
    );
    return out;
  } finally {
    await fn.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/** In-process verify throughput per algorithm with a warm key cache (one core). */
export async function verifyThroughput(log: (s: string) => void): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const alg of SUPPORTED_ALGS) {
    const k = await generateKeyPair({ alg });
    const registry = cachedRegistry(memoryRegistry(k), { ttlMs: 3_600_000 });
    const token = await (await createSigner({ privateKey: k.privateKeyPem, issuer: "bench", audience: "aud", expiresIn: 300 })).sign({
      roles: ["r"],
    });
    for (let i = 0; i < 200; i++) await verifyMultiIssuerJwt(token, { registry, audience: "aud" }); // warm
    const n = alg === "RS256" ? 4000 : 3000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await verifyMultiIssuerJwt(token, { registry, audience: "aud" });
    out[alg] = Math.round(n / ((performance.now() - t0) / 1000));
    log(`  ${alg.padEnd(6)} ${out[alg]} verifications/s (one core, warm cache)`);
  }
  return out;
}

/** The handler's cost in-process under Node (this process) and under Deno (a child running the same code). */
export async function handlerCost(log: (s: string) => void): Promise<{ node: HandlerCost; deno: HandlerCost }> {
  const show = (rt: string, r: HandlerCost) =>
    log(
      `  ${rt}: cache hit ${r.hitMs.toFixed(3)} ms, miss ${r.missMs.toFixed(3)} ms (verify ES256 + re-sign HS256 + store), cache off ${r.uncachedMs.toFixed(3)} ms per request; the ES256 check alone ${r.verifyOnlyMs.toFixed(3)} ms; fake upstream ${r.fakeUpstreamMs.toFixed(3)} ms subtracted (best of ${r.rounds} rounds)`,
    );
  const node = await measureHandlerCost();
  show("node", node);
  const deno = await inDeno<HandlerCost>("measureHandlerCost()");
  show("deno", deno);
  return { node, deno };
}

/** Trust-policy matching (1,000 policies on one issuer) and the workload-token hit path, under Node and under Deno. */
export async function policyCost(log: (s: string) => void): Promise<{ node: PolicyCost; deno: PolicyCost }> {
  const show = (rt: string, r: PolicyCost) =>
    log(
      `  ${rt}: ${r.policies} policies on one issuer: match ${(r.matchMs * 1000).toFixed(2)} µs, no match ${(r.noMatchMs * 1000).toFixed(2)} µs, compile ${r.compileMs.toFixed(2)} ms; handler with a workload token: cache hit ${r.hitMs.toFixed(3)} ms, miss ${r.missMs.toFixed(3)} ms (best of ${r.rounds} rounds)`,
    );
  const node = await measurePolicyCost();
  show("node", node);
  const deno = await inDeno<PolicyCost>("measurePolicyCost()", "policy-cost.ts");
  show("deno", deno);
  return { node, deno };
}

/** Deactivate → first refused request, per trial, with reused tokens (the verified-token cache in play). */
export async function revocation(stack: Stack, trials: number, log: (s: string) => void) {
  const api = stack.info.API_URL;
  const svc = serviceHeaders(stack.info.SERVICE_ROLE_KEY);
  // Trials run side by side (one issuer each): each measures its own deactivate → first refusal.
  const delays = await Promise.all(
    Array.from({ length: trials }, async (_, i) => {
      const issuer = `revoke-${i}`;
      const keys = await registerWriter(api, stack.info.SERVICE_ROLE_KEY, issuer, ROLES);
      const signer = await createSigner({ privateKey: keys.privateKeyPem, issuer, audience: api });
      const hit = async () =>
        (
          await fetch(`${api}/functions/v1/rest/orders?select=id&limit=1`, {
            headers: { apikey: stack.info.ANON_KEY, authorization: `Bearer ${await signer.token({ roles: ROLES })}` },
          })
        ).status;
      // A newly registered issuer is seen once the gateway's issuer list is re-read (within its negative TTL).
      for (let tries = 0; (await hit()) !== 200; tries++) {
        if (tries >= 100) throw new Error(`trial ${i}: not accepted before deactivation`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, Math.random() * 5000)); // deactivate at a random point of the cache's life
      await fetch(`${api}/rest/v1/jwt_issuers?issuer=eq.${issuer}`, { method: "PATCH", headers: svc, body: '{"is_active":false}' });
      const t0 = performance.now();
      for (let n = 0; n < 2000; n++) {
        if ((await hit()) === 401) return performance.now() - t0;
        await new Promise((r) => setTimeout(r, 20));
      }
      return Number.NaN;
    }),
  );
  delays.sort((a, b) => a - b);
  const r = { trials, minMs: delays[0]!, medianMs: delays[Math.floor(trials / 2)]!, maxMs: delays[trials - 1]! };
  log(
    `  ${trials} trials: min ${r.minMs.toFixed(0)} ms, median ${r.medianMs.toFixed(0)} ms, max ${r.maxMs.toFixed(0)} ms (key cache TTL 5000 ms)`,
  );
  return r;
}

/** `deno serve` process start → first answered request, with Deno's module cache warm. */
export async function coldStart(stack: Stack, runs: number, log: (s: string) => void) {
  const root = repoRoot();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn(
      denoBinary(),
      denoServeArgs(
        {
          entrypoint: join(root, "supabase/functions/rest/index.ts"),
          config: join(root, "supabase/functions/rest/deno.json"),
          lock: false,
        },
        port,
      ),
      {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          SUPABASE_URL: stack.info.API_URL,
          SUPABASE_SERVICE_ROLE_KEY: stack.info.SERVICE_ROLE_KEY,
          SUPABASE_ANON_KEY: stack.info.ANON_KEY,
          FEDJWT_AUDIENCE: stack.info.API_URL,
          FEDJWT_LEGACY_JWT_SECRET: stack.info.JWT_SECRET,
        },
        stdio: "ignore",
      },
    );
    for (;;) {
      try {
        await fetch(`http://127.0.0.1:${port}/rest/orders`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    times.push(performance.now() - t0);
    await stopChild(child);
  }
  times.sort((a, b) => a - b);
  const r = { runs, minMs: times[0]!, medianMs: times[Math.floor(runs / 2)]!, maxMs: times[runs - 1]! };
  log(
    `  ${runs} starts: min ${r.minMs.toFixed(0)} ms, median ${r.medianMs.toFixed(0)} ms, max ${r.maxMs.toFixed(0)} ms (module cache warm)`,
  );
  return r;
}

/** Runs `call` (an expression over the exports of `moduleFile`, default handler-cost.ts) in a Deno child and returns its JSON result. */
export async function inDeno<T>(call: string, moduleFile = "handler-cost.ts"): Promise<T> {
  const root = repoRoot();
  const dir = mkdtempSync(join(tmpdir(), "fedjwt-bench-"));
  const script = join(dir, "in-deno.ts");
  writeFileSync(
    script,
    `import * as m from ${JSON.stringify(pathToFileURL(join(root, "tooling/bench/src", moduleFile)).href)};\nconsole.log(JSON.stringify(await m.${call}));\n`,
  );
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        denoBinary(),
        [
          "run",
          "--quiet",
          "--no-prompt",
          "--no-lock",
          "--allow-env",
          "--allow-read",
          "--config",
          join(root, "supabase/functions/rest/deno.json"),
          script,
        ],
        { env: denoEnv(), stdio: ["ignore", "pipe", "inherit"] },
      );
      let text = "";
      child.stdout.on("data", (d: Buffer) => (text += d.toString()));
      child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`deno exited ${code}`))));
    });
    return JSON.parse(out.trim().split("\n").pop()!) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

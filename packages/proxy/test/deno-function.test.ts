// The real supabase/functions/rest/index.ts under real Deno: `deno check` with its own deno.json, then
// `deno serve` of the function against a local fake Supabase (registry + PostgREST) on loopback.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jwtVerify } from "jose";
import { createSigner } from "@fedjwt/signer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JWT_SECRET, registryRow, writer, type Writer } from "../src/testing.ts";
import { buildToken, loadVectors, vectorRows, verdictOf, type Vector } from "./vectors.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fnDir = join(root, "supabase", "functions", "rest");
const DENO_ENV = { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };
/** The token contract's vectors: their issuers are registered in the fake project, their audience is the function's. */
const vectors = loadVectors();
const AUDIENCE = vectors.audience;

/**
 * A free loopback port below the kernel's ephemeral range, so nothing else on the machine is handed it while
 * Deno starts (this package's tests depend on no tooling package, so copies install anywhere).
 */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    const free = await new Promise<boolean>((resolve) => {
      const s = createTcpServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port between 20000 and 32767");
}

/** The Deno binary the `deno` npm package links at install time. */
function denoBin(): string {
  const bin = join(createRequire(import.meta.url).resolve("deno/package.json"), "..", "deno");
  const r = spawnSync(bin, ["--version"], { encoding: "utf8", env: DENO_ENV });
  if (r.status !== 0) throw new Error(`deno is not runnable (${bin}): ${r.stderr}`);
  return bin;
}

describe("supabase/functions/rest under Deno", () => {
  let bin: string;
  let fake: Server;
  let fakeUrl: string;
  let fn: ChildProcess | undefined;
  let fnUrl: string;
  let w: Writer;
  const received: Array<{ url: string; headers: Record<string, string | string[] | undefined>; body: string }> = [];
  let output = "";

  beforeAll(async () => {
    bin = denoBin();
    w = await writer("deno-writer");
    const rows = [registryRow(w), ...vectorRows(vectors)];
    const consumed = new Set<string>();
    fake = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const url = new URL(req.url!, "http://fake");
        if (url.pathname === "/rest/v1/jwt_issuers") {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify([...new Set(rows.map((r) => r.issuer))].map((issuer) => ({ issuer }))));
          return;
        }
        if (url.pathname === "/rest/v1/jwt_registry") {
          const issuer = url.searchParams.get("issuer")!.replace(/^eq\./, "");
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(rows.filter((r) => r.issuer === issuer)));
          return;
        }
        if (url.pathname === "/rest/v1/rpc/consume_jwt_id") {
          const { p_issuer, p_jti } = JSON.parse(body) as { p_issuer: string; p_jti: string };
          const id = `${p_issuer}\n${p_jti}`;
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(!consumed.has(id)));
          consumed.add(id);
          return;
        }
        received.push({ url: req.url!, headers: req.headers, body });
        res.setHeader("content-type", "application/json");
        res.statusCode = 201;
        res.end(JSON.stringify([{ id: 7, name: "from deno" }]));
      });
    });
    await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
    fakeUrl = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
    const port = await freePort();
    fnUrl = `http://127.0.0.1:${port}`;
    fn = spawn(
      bin,
      [
        "serve",
        "--quiet",
        "--no-prompt",
        "--allow-env",
        "--allow-net=127.0.0.1",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--config",
        join(fnDir, "deno.json"),
        join(fnDir, "index.ts"),
      ],
      {
        env: {
          ...DENO_ENV,
          SUPABASE_URL: fakeUrl,
          SUPABASE_SECRET_KEYS: JSON.stringify({ default: "sb_secret_local" }),
          SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: "sb_publishable_local" }),
          FEDJWT_AUDIENCE: AUDIENCE,
          FEDJWT_LEGACY_JWT_SECRET: JWT_SECRET,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    fn.stdout!.on("data", (c) => (output += c));
    fn.stderr!.on("data", (c) => (output += c));
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await fetch(`${fnUrl}/rest/widgets`);
        break;
      } catch {
        if (fn.exitCode !== null || Date.now() > deadline) throw new Error(`deno serve did not start: ${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 90_000);

  afterAll(async () => {
    fn?.kill("SIGTERM");
    await new Promise((r) => fake?.close(r));
  });

  // deno check on a cold type-check cache: 7.7 s measured on two busy cores; 3x margin and more.
  it("passes `deno check` with its own deno.json", () => {
    const r = spawnSync(bin, ["check", "--quiet", "--config", join(fnDir, "deno.json"), join(fnDir, "index.ts")], {
      encoding: "utf8",
      env: DENO_ENV,
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  }, 60_000);

  it("verifies a writer token, re-signs it and forwards to PostgREST", async () => {
    const signer = await createSigner({ privateKey: w.keys.privateKeyPem, issuer: "deno-writer", audience: AUDIENCE });
    const res = await fetch(`${fnUrl}/rest/rest/v1/widgets?select=id,name`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await signer.sign({ roles: ["widgets_writer"] })}`,
        "content-type": "application/json",
        prefer: "return=representation",
        apikey: "sb_publishable_local",
      },
      body: JSON.stringify({ name: "from deno" }),
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual([{ id: 7, name: "from deno" }]);
    const call = received.at(-1)!;
    expect(call.url).toBe("/rest/v1/widgets?select=id,name");
    expect(call.headers.apikey).toBe("sb_publishable_local");
    expect(call.headers.prefer).toBe("return=representation");
    const { payload } = await jwtVerify(String(call.headers.authorization).slice(7), new TextEncoder().encode(JWT_SECRET));
    expect(payload).toMatchObject({
      iss: "deno-writer",
      role: "federated_writer",
      app_roles: ["widgets_writer"],
      writer_sub: "deno-writer",
      fedjwt_gateway: 1,
    });
  });

  it("refuses a bad token with the reason code and logs one JSON line", async () => {
    const res = await fetch(`${fnUrl}/rest/widgets`, { headers: { authorization: "Bearer eyJhbGciOiJub25lIn0.e30." } });
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "alg_not_allowed" });
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="alg_not_allowed"');
    // The line reaches this process through a pipe: wait for it (bounded by the test's timeout), not for a fixed time.
    const rejected = () =>
      output
        .split("\n")
        .slice(0, -1) // complete lines only: the last piece may still be arriving
        .filter((l) => l.includes('"request_rejected"') && l.includes('"alg_not_allowed"'))
        .map((l) => JSON.parse(l));
    while (rejected().length === 0 && fn!.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    expect(rejected()).toHaveLength(1);
    expect(rejected()[0]).toMatchObject({ level: "warn", reason: "alg_not_allowed", status: 401 });
  });

  // docs/token-vectors.json through the real function (after the log-line test, which counts its lines):
  // each recipe signed just before it is sent, with no apikey.
  it("answers every token vector with its verdict and reason code", async () => {
    const results: Array<{ name: string; got: unknown; want: unknown }> = [];
    const send = async (token: string | null) => {
      const before = received.length;
      const res = await fetch(`${fnUrl}/rest/widgets?select=id`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
      return verdictOf(res, received.length > before);
    };
    for (const vector of vectors.vectors as Vector[]) {
      const token = await buildToken(vectors, vector, Math.floor(Date.now() / 1000));
      if (vector.send_twice) results.push({ name: `${vector.name} (first send)`, got: await send(token), want: { verdict: "accept" } });
      results.push({ name: vector.name, got: await send(token), want: vector.expect });
    }
    expect(results.filter((r) => JSON.stringify(r.got) !== JSON.stringify(r.want))).toEqual([]);
    expect(results.length).toBeGreaterThan(vectors.vectors.length);
  }, 60_000);
});

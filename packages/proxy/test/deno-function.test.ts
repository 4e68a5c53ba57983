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
import { githubClaims, JWT_SECRET, registryRow, TestIdp, trustPolicy, urlIssuer, writer, type Writer } from "../src/testing.ts";
import type { TrustDocument } from "../src/trust-registry.ts";
import { uuidV5 } from "../src/uuid.ts";
import { buildToken, loadVectors, vectorRows, vectorTrust, verdictOf, type Vector } from "./vectors.ts";

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
  /** A GitHub-shaped provider on the fake's loopback host, its keys found by OIDC discovery. */
  let gh: TestIdp;
  let ghPolicyId: string;
  /** A provider whose discovery document names another issuer. */
  let liar: TestIdp;
  /** An AWS-shaped issuer signing ES384, and a custom one signing PS256 (algs only URL issuers may use). */
  let aws: TestIdp;
  let pss: TestIdp;
  const received: Array<{ url: string; headers: Record<string, string | string[] | undefined>; body: string }> = [];
  let output = "";

  beforeAll(async () => {
    bin = denoBin();
    w = await writer("deno-writer");
    const rows = [registryRow(w), ...vectorRows(vectors)];
    const consumed = new Set<string>();
    // URL issuers: the vectors' (JWKS served here) and two discovered ones, filled in once the port is known.
    const trust = new Map<string, TrustDocument>();
    const served = new Map<string, unknown>();
    fake = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const url = new URL(req.url!, "http://fake");
        if (served.has(url.pathname)) {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(served.get(url.pathname)));
          return;
        }
        if (url.pathname === "/rest/v1/jwt_url_issuers") {
          res.setHeader("content-type", "application/json");
          res.setHeader("content-range", `0-${trust.size - 1}/${trust.size}`);
          res.end(JSON.stringify([...trust.keys()].map((issuer_url) => ({ issuer_url }))));
          return;
        }
        if (url.pathname === "/rest/v1/rpc/trust_policies_for") {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(trust.get((JSON.parse(body) as { p_issuer_url: string }).p_issuer_url) ?? null));
          return;
        }
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
    const vt = vectorTrust(vectors, (i) => `${fakeUrl}/vectors-jwks/${i}`);
    for (const [u, doc] of vt.docs) trust.set(u, doc);
    for (const [uri, jwks] of vt.jwks) served.set(new URL(uri).pathname, jwks);
    gh = await TestIdp.create(`${fakeUrl}/gh`);
    const ghPolicy = trustPolicy("deno-writer", "github-actions", { repository_owner_id: "74", repository_id: "1296269" });
    ghPolicyId = ghPolicy.id;
    trust.set(gh.issuerUrl, { issuer: urlIssuer(gh.issuerUrl, null), policies: [ghPolicy] });
    served.set("/gh/.well-known/openid-configuration", { issuer: gh.issuerUrl, jwks_uri: `${fakeUrl}/gh/jwks` });
    served.set("/gh/jwks", gh.jwks());
    liar = await TestIdp.create(`${fakeUrl}/liar`);
    trust.set(liar.issuerUrl, { issuer: urlIssuer(liar.issuerUrl, null), policies: [trustPolicy("deno-writer", "custom", { sub: "x" })] });
    served.set("/liar/.well-known/openid-configuration", { issuer: "https://elsewhere.example", jwks_uri: `${fakeUrl}/gh/jwks` });
    aws = await TestIdp.create(`${fakeUrl}/aws`, "ES384");
    served.set("/aws/jwks", aws.jwks());
    trust.set(aws.issuerUrl, {
      issuer: urlIssuer(aws.issuerUrl, `${fakeUrl}/aws/jwks`, { algs: ["RS256", "ES384"] }),
      policies: [trustPolicy("deno-writer", "aws", { aws_account: "123456789012", sub: "arn:aws:iam::123456789012:role/writer" })],
    });
    pss = await TestIdp.create(`${fakeUrl}/pss`, "PS256");
    served.set("/pss/jwks", pss.jwks());
    trust.set(pss.issuerUrl, {
      issuer: urlIssuer(pss.issuerUrl, `${fakeUrl}/pss/jwks`, { algs: ["PS256"] }),
      policies: [trustPolicy("deno-writer", "custom", { sub: "svc" })],
    });
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

  it("admits a GitHub-shaped token from a discovered URL issuer as its policy's writer, and refuses pull_request_target", async () => {
    const before = received.length;
    const res = await fetch(`${fnUrl}/rest/widgets?select=id`, {
      headers: { authorization: `Bearer ${await gh.sign(githubClaims({ aud: AUDIENCE }))}` },
    });
    expect(res.status).toBe(201);
    expect(received.length).toBe(before + 1);
    const { payload } = await jwtVerify(String(received.at(-1)!.headers.authorization).slice(7), new TextEncoder().encode(JWT_SECRET));
    expect(payload).toMatchObject({
      iss: "deno-writer",
      sub: await uuidV5(`${gh.issuerUrl}\nrepository_owner_id=74\nrepository_id=1296269`),
      role: "federated_writer",
      writer_kid: `policy:${ghPolicyId}`,
      writer_claims: { repository: "octo-org/octo-repo", repository_id: "1296269", trust_policy: ghPolicyId, issuer_url: gh.issuerUrl },
    });
    expect(payload).not.toHaveProperty("repository");
    const refused = await fetch(`${fnUrl}/rest/widgets`, {
      headers: { authorization: `Bearer ${await gh.sign(githubClaims({ aud: AUDIENCE, event_name: "pull_request_target" }))}` },
    });
    expect({ status: refused.status, code: (await refused.json()).code }).toEqual({ status: 403, code: "event_not_allowed" });
  });

  it("verifies ES384 (AWS-shaped) and PS256 workload tokens under Deno's WebCrypto", async () => {
    const arn = "arn:aws:iam::123456789012:role/writer";
    const awsToken = await aws.sign({ aud: AUDIENCE, sub: arn, "https://sts.amazonaws.com/": { aws_account: "123456789012" } });
    const status = async (token: string) =>
      (await fetch(`${fnUrl}/rest/widgets`, { headers: { authorization: `Bearer ${token}` } })).status;
    expect(await status(awsToken)).toBe(201);
    expect(await status(await pss.sign({ aud: AUDIENCE, sub: "svc" }))).toBe(201);
    const other = await fetch(`${fnUrl}/rest/widgets`, {
      headers: {
        authorization: `Bearer ${await aws.sign({ aud: AUDIENCE, sub: arn, "https://sts.amazonaws.com/": { aws_account: "210987654321" } })}`,
      },
    });
    expect({ status: other.status, code: (await other.json()).code }).toEqual({ status: 403, code: "no_matching_policy" });
  });

  it("answers 503 discovery_issuer_mismatch when the discovery document names another issuer", async () => {
    const res = await fetch(`${fnUrl}/rest/widgets`, {
      headers: { authorization: `Bearer ${await liar.sign({ aud: AUDIENCE, sub: "x" })}` },
    });
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 503, code: "discovery_issuer_mismatch" });
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

// fedjwt doctor against the local stack: a healthy deployment, then each misconfiguration it detects, each
// built from the real pieces (a gateway with verify_jwt on, a Data API over a database without the
// migrations, a function with a wrong signing secret or none, a wrong audience, an unregistered writer).
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { doctor, type DoctorReport } from "@fedjwt/cli";
import {
  LOCAL_ANON_KEY,
  LOCAL_JWT_SECRET,
  LOCAL_PUBLISHABLE_KEY,
  LOCAL_SECRET_KEY,
  LOCAL_SERVICE_ROLE_KEY,
  readFunctions,
  repoRoot,
  serveFunction,
  startGateway,
  startPostgrestStandIn,
} from "@fedjwt/local-stack";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fedjwt, keyDir, keygen, register, useTarget } from "./target.ts";

// Usage recording off: the keys check then always warns that the registered key was never seen.
const target = useTarget({ functionEnv: { FEDJWT_USAGE_FLUSH_MS: "0" } });
const local = !process.env.E2E_API_URL;
let writer: Awaited<ReturnType<typeof keygen>>;
let stranger: Awaited<ReturnType<typeof keygen>>;
let otherKey: Awaited<ReturnType<typeof keygen>>;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  writer = await keygen(target(), keyDir(), "doctor-writer");
  stranger = await keygen(target(), keyDir(), "doctor-stranger");
  otherKey = await keygen(target(), keyDir(), "doctor-writer");
  await register(target(), ["--issuer", "doctor-writer", "--public-key", writer.publicKey]);
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

type Status = DoctorReport["checks"][number]["status"];

/** Runs `fedjwt doctor --json` as a user would; returns the exit code and the report. */
async function runDoctor(args: string[], url = target().apiUrl): Promise<{ code: number | null; report: DoctorReport; stderr: string }> {
  const t = target();
  const r = await fedjwt(t, ["doctor", "--url", url, "--anon-key", t.anonKey, "--service-role-key", t.serviceKey, "--json", ...args]);
  return { code: r.code, report: JSON.parse(r.stdout || "null") as DoctorReport, stderr: r.stderr };
}

const statuses = (report: DoctorReport) => Object.fromEntries(report.checks.map((c) => [c.id, c.status])) as Record<string, Status>;
const check = (report: DoctorReport, id: string) => report.checks.find((c) => c.id === id)!;
const withWriter = (k: { privateKey: string }, issuer = "doctor-writer") => ["--issuer", issuer, "--key", k.privateKey];

describe("a healthy deployment", () => {
  it("with a registered writer: every check passes, exit 0", async () => {
    const r = await runDoctor([...withWriter(writer), "--audience", target().audience]);
    expect({ code: r.code, checks: statuses(r.report) }).toEqual({
      code: 0,
      checks: { function: "ok", registry: "ok", keys: "warn", issuers: "skip", clock: "ok", writer: "ok", audience: "ok", postgrest: "ok" },
    });
    expect(check(r.report, "postgrest").message).toMatch(/PostgREST accepted the function's re-signed token/);
  });

  it("prints one line per check and a summary in human form", async () => {
    const t = target();
    const r = await fedjwt(t, ["doctor", "--url", t.apiUrl, "--anon-key", t.anonKey, "--audience", t.audience, ...withWriter(writer)]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual([
      "✓ function",
      "✓ registry",
      "! keys",
      "- issuers",
      "✓ clock",
      "✓ writer",
      "✓ audience",
      "✓ postgrest",
      "No problem",
    ]);
  });

  it("without a writer: the writer checks are skipped, the rest pass, exit 0", async () => {
    const r = await runDoctor([]);
    expect({ code: r.code, checks: statuses(r.report) }).toEqual({
      code: 0,
      checks: {
        function: "ok",
        registry: "ok",
        keys: "warn",
        issuers: "skip",
        clock: "ok",
        writer: "skip",
        audience: "skip",
        postgrest: "skip",
      },
    });
  });
});

describe("misconfigurations, each reported with its fix", () => {
  it("writer not registered", async () => {
    const r = await runDoctor([...withWriter(stranger, "doctor-stranger"), "--audience", target().audience]);
    expect({ code: r.code, writer: check(r.report, "writer").status, audience: check(r.report, "audience").status }).toEqual({
      code: 1,
      writer: "fail",
      audience: "skip",
    });
    expect(check(r.report, "writer").message).toMatch(/issuer "doctor-stranger" is not registered/);
    expect(check(r.report, "writer").fix).toMatch(/fedjwt register --issuer doctor-stranger/);
  });

  it("writer's key not registered (its issuer is)", async () => {
    const r = await runDoctor([...withWriter(otherKey), "--audience", target().audience]);
    expect({ code: r.code, writer: check(r.report, "writer").status }).toEqual({ code: 1, writer: "fail" });
    expect(check(r.report, "writer").message).toContain(`key ${otherKey.kid} is not registered for issuer "doctor-writer"`);
    expect(check(r.report, "writer").fix).toMatch(/fedjwt rotate --issuer doctor-writer/);
  });

  it("wrong audience", async () => {
    const r = await runDoctor([...withWriter(writer), "--audience", "https://not-this-project.example"]);
    expect({
      code: r.code,
      writer: check(r.report, "writer").status,
      audience: check(r.report, "audience").status,
      http: check(r.report, "audience").http,
    }).toEqual({ code: 1, writer: "ok", audience: "fail", http: { status: 401, code: "audience_mismatch" } });
    expect(check(r.report, "audience").fix).toMatch(/supabase secrets set FEDJWT_AUDIENCE=https:\/\/not-this-project\.example/);
  });

  it("no such function", async () => {
    const r = await runDoctor(["--function", "nope"]);
    expect({ code: r.code, function: check(r.report, "function").status, http: check(r.report, "function").http?.status }).toEqual({
      code: 1,
      function: "fail",
      http: 404,
    });
    expect(check(r.report, "function").fix).toMatch(/supabase functions deploy nope --no-verify-jwt/);
  });

  it("the clock is off: the clock check fails, and so does the writer's token", async () => {
    const t = target();
    const report = await doctor({
      url: t.apiUrl,
      anonKey: t.anonKey,
      serviceKey: t.serviceKey,
      audience: t.audience,
      writer: { issuer: "doctor-writer", privateKey: readFileSync(writer.privateKey, "utf8") },
      now: () => Date.now() + 120_000,
    });
    expect({ ok: report.ok, clock: check(report, "clock").status, audience: check(report, "audience").http }).toEqual({
      ok: false,
      clock: "fail",
      audience: { status: 401, code: "token_not_yet_valid" },
    });
    expect(check(report, "clock").message).toMatch(/clock is \d+ s ahead of the server's \(more than 10 s\)/);
  });

  it("an unreachable project → every network check fails, exit 1", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const r = await runDoctor([], `http://127.0.0.1:${port}`);
    expect({ code: r.code, function: check(r.report, "function").status, registry: check(r.report, "registry").status }).toEqual({
      code: 1,
      function: "fail",
      registry: "fail",
    });
    expect(check(r.report, "function").message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+\/functions\/v1\/rest \(ECONNREFUSED\)/);
  });
});

describe.skipIf(!local)("misconfigurations built from the local stack's pieces", () => {
  const restFunction = () => target().stack!.functions.find((f) => f.config.name === "rest")!;
  const restApi = () => `${target().apiUrl}/rest/v1`;

  /** A gateway like the stack's, with its own routes. */
  async function gateway(rest: string, fnUrl: string, verifyJwt: boolean): Promise<string> {
    const g = await startGateway({
      port: 0,
      jwtSecret: LOCAL_JWT_SECRET,
      routes: { rest, functions: new Map([["rest", { url: fnUrl, verifyJwt }]]) },
    });
    cleanups.push(() => g.close());
    return g.url;
  }

  /** The rest function under Deno with the stack's environment, changed. */
  async function restFunctionWith(env: Record<string, string>): Promise<string> {
    const config = readFunctions(repoRoot()).find((f) => f.name === "rest")!;
    const running = await serveFunction(config, {
      SUPABASE_URL: target().apiUrl,
      SUPABASE_ANON_KEY: LOCAL_ANON_KEY,
      SUPABASE_SERVICE_ROLE_KEY: LOCAL_SERVICE_ROLE_KEY,
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: LOCAL_PUBLISHABLE_KEY }),
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: LOCAL_SECRET_KEY }),
      FEDJWT_AUDIENCE: target().apiUrl,
      ...env,
    });
    cleanups.push(() => running.stop());
    return running.url;
  }

  it("the function with verify_jwt on", async () => {
    const url = await gateway(restApi(), restFunction().url, true);
    const r = await runDoctor([...withWriter(writer), "--audience", target().audience], url);
    expect({
      code: r.code,
      function: check(r.report, "function").status,
      http: check(r.report, "function").http?.status,
      postgrest: check(r.report, "postgrest").status,
    }).toEqual({ code: 1, function: "fail", http: 401, postgrest: "skip" });
    expect(check(r.report, "function").message).toMatch(/verify_jwt is on/);
    expect(check(r.report, "function").fix).toMatch(/verify_jwt = false .*--no-verify-jwt/);
  });

  it("the registry's migrations missing", async () => {
    const db = target().stack!.db;
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query("drop database if exists doctor_empty");
    await admin.query("create database doctor_empty");
    await admin.end();
    const standIn = await startPostgrestStandIn({
      dbUrl: db.url.replace("postgres:postgres@", "authenticator:postgres@").replace(/\/postgres$/, "/doctor_empty"),
      jwtSecret: LOCAL_JWT_SECRET,
    });
    cleanups.push(() => standIn.close());
    const url = await gateway(standIn.url, restFunction().url, false);
    const r = await runDoctor([], url);
    expect({ code: r.code, function: check(r.report, "function").status, registry: check(r.report, "registry").status }).toEqual({
      code: 1,
      function: "ok",
      registry: "fail",
    });
    expect(check(r.report, "registry").message).toMatch(
      /migrations are not applied \(missing: jwt_issuers, jwt_public_keys, jwt_registry, jwt_registry_audit\)/,
    );
    expect(check(r.report, "registry").fix).toMatch(/^run fedjwt adopt <project> .*, then from the project: supabase db push --remote /);
  });

  it("the function signs with a secret PostgREST does not trust", async () => {
    const url = await gateway(
      restApi(),
      await restFunctionWith({ FEDJWT_LEGACY_JWT_SECRET: "not-the-project-secret-but-long-enough-0123456789" }),
      false,
    );
    const r = await runDoctor([...withWriter(writer), "--audience", target().audience], url);
    expect({
      code: r.code,
      audience: check(r.report, "audience").status,
      postgrest: check(r.report, "postgrest").status,
      http: check(r.report, "postgrest").http?.status,
    }).toEqual({ code: 1, audience: "ok", postgrest: "fail", http: 401 });
    expect(check(r.report, "postgrest").fix).toMatch(/FEDJWT_LEGACY_JWT_SECRET must be the project's JWT secret/);
  }, 90_000);

  it("the function without a signing key (503 proxy_misconfigured)", async () => {
    const url = await gateway(restApi(), await restFunctionWith({}), false);
    const r = await runDoctor([], url);
    expect({ code: r.code, function: check(r.report, "function").status, http: check(r.report, "function").http }).toEqual({
      code: 1,
      function: "fail",
      http: { status: 503, code: "proxy_misconfigured" },
    });
    expect(check(r.report, "function").fix).toMatch(/FEDJWT_LEGACY_JWT_SECRET \/ FEDJWT_SIGNING_JWK/);
  }, 90_000);
});

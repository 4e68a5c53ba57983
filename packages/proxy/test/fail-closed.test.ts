// deno-lint-ignore-file require-await -- async lambdas keep the case tables uniform
import { exportJWK, generateKeyPair as joseKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { proxyOptionsFromEnv } from "../src/env.ts";
import { createJwtSwapProxy } from "../src/handler.ts";
import { AUDIENCE, goodClaims, harness, rawToken, request, writer } from "../src/testing.ts";

async function expectReason(res: Response, status: number, reason: string): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, code: body.code }).toEqual({ status, code: reason });
  return body;
}

describe("fails closed", () => {
  it.each([
    ["answers 500", "500"],
    ["does not answer in time", "hang"],
    ["is unreachable", "down"],
  ] as const)("registry %s → 503 registry_unavailable, nothing forwarded", async (_label, mode) => {
    const w = await writer("widgets-service");
    const h = harness([w], { registryTimeoutMs: 100 });
    h.project.registryMode = mode;
    await expectReason(await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w)))), 503, "registry_unavailable");
    expect(h.project.calls).toHaveLength(0);
  });

  it("jti store unreachable → 503, the request is not forwarded", async () => {
    const w = await writer("jti-service", "ES256", { require_jti: true });
    const h = harness([w]);
    await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w)))); // warm the key cache
    h.project.registryMode = "down";
    await expectReason(await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w)))), 503, "registry_unavailable");
    expect(h.project.calls).toHaveLength(1);
  });

  it("PostgREST unreachable → 502 upstream_unreachable", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    h.project.upstreamMode = "down";
    await expectReason(await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w)))), 502, "upstream_unreachable");
  });

  it("PostgREST too slow → 504 upstream_timeout, without hanging", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { upstreamTimeoutMs: 150 });
    h.project.upstreamMode = "hang";
    await expectReason(await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w)))), 504, "upstream_timeout");
  });

  it("the upstream deadline ends when PostgREST answers: nothing of an answered request is held until the deadline", async () => {
    const w = await writer("widgets-service");
    const signals: AbortSignal[] = [];
    const h: ReturnType<typeof harness> = harness([w], {
      upstreamTimeoutMs: 50,
      fetch: (input, init) => {
        if (String(input).includes("/rest/v1/widgets") && init?.signal) signals.push(init.signal);
        return h.project.fetch(input, init);
      },
    });
    const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))));
    expect(res.status).toBe(200);
    await res.text();
    expect(signals).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 150));
    // A deadline still armed after the answer would fire here (and keep the request's fetch state until then).
    expect(signals[0]!.aborted).toBe(false);
  });

  it("logs when PostgREST refuses the re-signed token (signing key mismatch)", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    h.project.upstreamResponse = () => Response.json({ code: "PGRST301", message: "JWSError" }, { status: 401 });
    const refused = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))));
    expect({ status: refused.status, code: (await refused.json()).code }).toEqual({ status: 401, code: "PGRST301" });
    expect(h.logs.map((l) => l.event)).toContain("upstream_rejected_token");
  });
});

describe("refuses to serve when misconfigured", () => {
  const secretish = "0123456789abcdef0123456789abcde"; // 31 bytes

  it.each([
    ["no signing key", (): Promise<undefined> => Promise.resolve(undefined), /no signing key/],
    ["an HS256 secret under 32 bytes", async () => ({ hs256Secret: secretish }), /31 bytes; at least 32/],
    [
      "a public JWK",
      async () => {
        const { publicKey } = await joseKeyPair("ES256", { extractable: true });
        return { privateJwk: { ...(await exportJWK(publicKey)), kid: "k" } };
      },
      /no private part/,
    ],
    [
      "a private JWK without kid",
      async () => {
        const { privateKey } = await joseKeyPair("ES256", { extractable: true });
        return { privateJwk: await exportJWK(privateKey) };
      },
      /needs the kid/,
    ],
    [
      "an Ed25519 JWK (Supabase signs with ES256 or RS256)",
      async () => {
        const { privateKey } = await joseKeyPair("EdDSA", { extractable: true, crv: "Ed25519" });
        return { privateJwk: { ...(await exportJWK(privateKey)), kid: "k" } };
      },
      /ES256 \(P-256\) or RS256/,
    ],
    [
      "a CLI-shaped JWK whose key_ops leave out sign",
      async () => {
        const { privateKey } = await joseKeyPair("ES256", { extractable: true });
        return { privateJwk: { ...(await exportJWK(privateKey)), kid: "k", use: "sig", key_ops: ["verify"] } };
      },
      /key_ops do not include sign/,
    ],
    [
      "a JWK marked for encryption",
      async () => {
        const { privateKey } = await joseKeyPair("ES256", { extractable: true });
        return { privateJwk: { ...(await exportJWK(privateKey)), kid: "k", use: "enc" } };
      },
      /use enc/,
    ],
    [
      "an RSA JWK that says ES256",
      async () => {
        const { privateKey } = await joseKeyPair("RS256", { extractable: true });
        return { privateJwk: { ...(await exportJWK(privateKey)), kid: "k", alg: "ES256", key_ops: ["sign", "verify"] } };
      },
      /says alg ES256 but is a RS256 key/,
    ],
  ] as const)("%s → 503 proxy_misconfigured on every request, a clear log line, no detail", async (_label, key, problem) => {
    const w = await writer("widgets-service");
    const h = harness([w], { signingKey: (await key()) as never });
    for (let i = 0; i < 2; i++) {
      const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))));
      const body = await expectReason(res, 503, "proxy_misconfigured");
      expect(body.details).toBeNull();
      expect(JSON.stringify(body)).not.toContain(secretish);
    }
    const line = h.logs.find((l) => l.event === "proxy_misconfigured")!;
    expect((line.problems as string[]).join(" ")).toMatch(problem);
    expect(JSON.stringify(h.logs)).not.toContain(secretish);
    expect(h.project.calls).toHaveLength(0);
    expect(h.project.registryReads).toBe(0);
  });

  it("from the environment: every missing variable is named in the log", async () => {
    const logs: Array<Record<string, unknown>> = [];
    const handler = createJwtSwapProxy({ ...proxyOptionsFromEnv(() => undefined), logger: (e) => logs.push(e) });
    await expectReason(
      await handler(new Request("http://gw.test/rest/widgets", { headers: { authorization: "Bearer x.y.z" } })),
      503,
      "proxy_misconfigured",
    );
    await new Promise((r) => setTimeout(r, 0));
    const problems = (logs.find((l) => l.event === "proxy_misconfigured")!.problems as string[]).join("\n");
    for (const name of ["SUPABASE_URL", "SUPABASE_SECRET_KEYS", "SUPABASE_PUBLISHABLE_KEYS", "FEDJWT_AUDIENCE"])
      expect(problems).toContain(name);
  });
});

describe("proxyOptionsFromEnv", () => {
  const base = {
    SUPABASE_URL: "https://abc.supabase.co",
    FEDJWT_AUDIENCE: AUDIENCE,
    FEDJWT_LEGACY_JWT_SECRET: "x".repeat(40),
  } as Record<string, string>;
  const read = (env: Record<string, string>) => proxyOptionsFromEnv((n) => env[n]);

  it("prefers the new key dictionaries over the legacy keys", () => {
    const o = read({
      ...base,
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: "sb_secret_new" }),
      SUPABASE_SERVICE_ROLE_KEY: "eyJlegacy.service.key",
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ web: "sb_publishable_web", default: "sb_publishable_default" }),
      SUPABASE_ANON_KEY: "eyJlegacy.anon.key",
    });
    expect(o).toMatchObject({ serviceKey: "sb_secret_new", apiKey: "sb_publishable_default", configProblems: [] });
  });

  it("falls back to the legacy keys, and reads the tuning variables", () => {
    const o = read({
      ...base,
      SUPABASE_SERVICE_ROLE_KEY: "eyJs.e.r",
      SUPABASE_ANON_KEY: "eyJa.n.o",
      FEDJWT_KEY_CACHE_TTL_MS: "2000",
      FEDJWT_BODY_LIMIT_BYTES: "2048",
      FEDJWT_CLOCK_TOLERANCE_SECONDS: "10",
      FEDJWT_FUNCTION_NAME: "gateway",
    });
    expect(o).toMatchObject({
      serviceKey: "eyJs.e.r",
      apiKey: "eyJa.n.o",
      keyCacheTtlMs: 2000,
      bodyLimitBytes: 2048,
      clockToleranceSeconds: 10,
      functionName: "gateway",
      configProblems: [],
    });
  });

  it.each([
    [{ FEDJWT_SIGNING_JWK: "{}" }, /set only one of FEDJWT_LEGACY_JWT_SECRET and FEDJWT_SIGNING_JWK/],
    [{ FEDJWT_LEGACY_JWT_SECRET: "", FEDJWT_SIGNING_JWK: "{not json" }, /FEDJWT_SIGNING_JWK is not valid JSON/],
    [{ FEDJWT_KEY_CACHE_TTL_MS: "soon" }, /FEDJWT_KEY_CACHE_TTL_MS must be a whole number/],
    [{ SUPABASE_URL: "" }, /SUPABASE_URL is not set/],
  ])("reports %j", (overrides, problem) => {
    const o = read({ ...base, SUPABASE_SECRET_KEYS: '{"default":"sb_secret_x"}', SUPABASE_ANON_KEY: "a", ...overrides });
    expect(o.configProblems!.join("\n")).toMatch(problem);
  });
});

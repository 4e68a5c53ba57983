// The gateway's handling of the API keys, as the pinned Supabase CLI's Kong does it (kong-template.test.ts checks
// these rules against the template in the installed CLI): on /rest/v1 a missing Authorization, or `Bearer sb_…`,
// becomes the JWT the `apikey` stands for; on /functions/v1 Authorization stays as sent (the apikey travels in
// `sb-api-key`, which the Edge Runtime reads for verify_jwt and never hands to the function).
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_ANON_KEY, LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, LOCAL_SERVICE_ROLE_KEY } from "@fedjwt/local-db";
import { edgeRuntimeToken, kongBearerToken, startGateway } from "../src/gateway.ts";

const USER_JWT = LOCAL_ANON_KEY.replace(/\.[^.]+$/, ".user"); // any non-key bearer (the gateway does not verify it on /rest/v1)

describe("kongBearerToken", () => {
  it.each([
    ["publishable key as Bearer", `Bearer ${LOCAL_PUBLISHABLE_KEY}`, LOCAL_PUBLISHABLE_KEY, `Bearer ${LOCAL_ANON_KEY}`],
    ["secret key as Bearer", `Bearer ${LOCAL_SECRET_KEY}`, LOCAL_SECRET_KEY, `Bearer ${LOCAL_SERVICE_ROLE_KEY}`],
    [
      "secret key in Authorization, publishable apikey: the apikey decides",
      `Bearer ${LOCAL_SECRET_KEY}`,
      LOCAL_PUBLISHABLE_KEY,
      `Bearer ${LOCAL_ANON_KEY}`,
    ],
    ["no Authorization, publishable apikey", undefined, LOCAL_PUBLISHABLE_KEY, `Bearer ${LOCAL_ANON_KEY}`],
    [
      "no Authorization, legacy service_role apikey: passed as it is, with no Bearer",
      undefined,
      LOCAL_SERVICE_ROLE_KEY,
      LOCAL_SERVICE_ROLE_KEY,
    ],
    ["a JWT in Authorization stays", `Bearer ${USER_JWT}`, LOCAL_SECRET_KEY, `Bearer ${USER_JWT}`],
    ["unknown apikey: the apikey", `Bearer sb_publishable_unknown`, "sb_publishable_unknown", "sb_publishable_unknown"],
    ["nothing at all", undefined, undefined, undefined],
  ])("%s", (_name, authorization, apikey, expected) => {
    expect(kongBearerToken(authorization, apikey)).toBe(expected);
  });
});

describe("edgeRuntimeToken (verify_jwt)", () => {
  it.each([
    ["the caller's bearer", `Bearer ${USER_JWT}`, `Bearer ${USER_JWT}`, USER_JWT],
    ["an API key as bearer: sb-api-key instead", `Bearer ${LOCAL_PUBLISHABLE_KEY}`, `Bearer ${LOCAL_ANON_KEY}`, LOCAL_ANON_KEY],
    ["no Authorization: sb-api-key", undefined, `Bearer ${LOCAL_ANON_KEY}`, LOCAL_ANON_KEY],
    ["not a Bearer header: sb-api-key", "Basic abc", "Basic abc", "Basic abc"],
    ["nothing", undefined, undefined, undefined],
  ])("%s", (_name, authorization, sbApiKey, expected) => {
    expect(edgeRuntimeToken(authorization, sbApiKey)).toBe(expected);
  });
});

describe("the gateway with the new API keys", () => {
  let upstream: Server;
  let gateway: { url: string; close(): Promise<void> };
  const seen = async (path: string, headers: Record<string, string>) => {
    const r = await fetch(`${gateway.url}${path}`, { headers });
    const body = (await r.json()) as { authorization?: string; code?: string; sbApiKey?: string };
    // PostgREST's side does not care about sb-api-key: compare only what the route is about.
    if (path.startsWith("/rest/v1")) delete body.sbApiKey;
    return { status: r.status, body };
  };

  beforeAll(async () => {
    // Answers with the Authorization header it received: stands in for PostgREST and for the functions.
    upstream = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ authorization: req.headers.authorization ?? null, sbApiKey: req.headers["sb-api-key"] ?? null }));
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    gateway = await startGateway({
      port: 0,
      jwtSecret: "super-secret-jwt-token-with-at-least-32-characters-long",
      routes: {
        rest: url,
        functions: new Map([
          ["open", { url, verifyJwt: false }],
          ["closed", { url, verifyJwt: true }],
        ]),
      },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    upstream?.close();
  });

  it("/rest/v1: supabase-js's `Bearer sb_publishable_…` reaches PostgREST as the anon JWT, a secret key as service_role", async () => {
    expect(await seen("/rest/v1/t", { apikey: LOCAL_PUBLISHABLE_KEY, authorization: `Bearer ${LOCAL_PUBLISHABLE_KEY}` })).toEqual({
      status: 200,
      body: { authorization: `Bearer ${LOCAL_ANON_KEY}` },
    });
    expect(await seen("/rest/v1/t", { apikey: LOCAL_SECRET_KEY, authorization: `Bearer ${LOCAL_SECRET_KEY}` })).toEqual({
      status: 200,
      body: { authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}` },
    });
    expect(await seen("/rest/v1/t", { apikey: LOCAL_PUBLISHABLE_KEY, authorization: `Bearer ${USER_JWT}` })).toEqual({
      status: 200,
      body: { authorization: `Bearer ${USER_JWT}` },
    });
  });

  it("/functions/v1 with verify_jwt = false: Authorization reaches the function as sent, sb-api-key never does", async () => {
    for (const [headers, authorization] of [
      [{ apikey: LOCAL_PUBLISHABLE_KEY, authorization: `Bearer ${LOCAL_PUBLISHABLE_KEY}` }, `Bearer ${LOCAL_PUBLISHABLE_KEY}`],
      [{ apikey: LOCAL_SECRET_KEY }, null],
      [
        { apikey: LOCAL_PUBLISHABLE_KEY, authorization: "Bearer writer.token.here", "sb-api-key": LOCAL_SECRET_KEY },
        "Bearer writer.token.here",
      ],
    ] as const)
      expect(await seen("/functions/v1/open/x", headers)).toEqual({ status: 200, body: { authorization, sbApiKey: null } });
  });

  it("/functions/v1 with verify_jwt = true: the Edge Runtime's token (the bearer, else sb-api-key) must verify", async () => {
    const refused = { status: 401, body: { code: "UNAUTHORIZED_INVALID_JWT_FORMAT", message: "Invalid JWT" } };
    expect(await seen("/functions/v1/closed", {})).toEqual(refused);
    expect(await seen("/functions/v1/closed", { apikey: "sb_publishable_unknown" })).toEqual(refused);
    expect(await seen("/functions/v1/closed", { apikey: LOCAL_PUBLISHABLE_KEY, authorization: `Bearer ${USER_JWT}` })).toEqual(refused);
    // The publishable key stands for the anon JWT in sb-api-key, which verifies: the function gets the request as sent.
    expect(await seen("/functions/v1/closed", { apikey: LOCAL_PUBLISHABLE_KEY })).toEqual({
      status: 200,
      body: { authorization: null, sbApiKey: null },
    });
    expect(await seen("/functions/v1/closed", { apikey: LOCAL_PUBLISHABLE_KEY, authorization: `Bearer ${LOCAL_PUBLISHABLE_KEY}` })).toEqual(
      {
        status: 200,
        body: { authorization: `Bearer ${LOCAL_PUBLISHABLE_KEY}`, sbApiKey: null },
      },
    );
    expect(await seen("/functions/v1/closed", { authorization: `Bearer ${LOCAL_ANON_KEY}` })).toEqual({
      status: 200,
      body: { authorization: `Bearer ${LOCAL_ANON_KEY}`, sbApiKey: null },
    });
  });
});

describe("the apikey query parameter", () => {
  let upstream: Server;
  let gateway: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    // Answers with the URL it was asked for: what PostgREST would see.
    upstream = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ url: req.url }));
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    gateway = await startGateway({
      port: 0,
      jwtSecret: "super-secret-jwt-token-with-at-least-32-characters-long",
      routes: { rest: url, functions: new Map() },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    upstream?.close();
  });

  it.each([
    ["plain", "apikey"],
    ["percent-encoded", "ap%69key"],
    ["with its first letter percent-encoded", "%61pikey"],
  ])("spelled %s: read as the key and never passed upstream", async (_label, name) => {
    const r = await fetch(`${gateway.url}/rest/v1/t?select=id&${name}=${encodeURIComponent(LOCAL_SECRET_KEY)}&id=eq.1`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ url: "/t?select=id&id=eq.1" });
  });
});

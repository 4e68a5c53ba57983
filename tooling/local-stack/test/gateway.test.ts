// The gateway's handling of the new API keys, as Supabase's gateway does it: a publishable/secret key in
// `Authorization: Bearer sb_…` (what supabase-js sends when it has no session) or no Authorization at all is
// replaced by the JWT the `apikey` stands for, on /rest/v1 and /functions/v1; verify_jwt checks the caller's own header.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_ANON_KEY, LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, LOCAL_SERVICE_ROLE_KEY } from "@fedjwt/local-db";
import { startGateway, upstreamAuthorization } from "../src/gateway.ts";

const USER_JWT = LOCAL_ANON_KEY.replace(/\.[^.]+$/, ".user"); // any non-key bearer (the gateway does not verify it on /rest/v1)

describe("upstreamAuthorization", () => {
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
    ["no Authorization, legacy service_role apikey", undefined, LOCAL_SERVICE_ROLE_KEY, `Bearer ${LOCAL_SERVICE_ROLE_KEY}`],
    ["a JWT in Authorization stays", `Bearer ${USER_JWT}`, LOCAL_SECRET_KEY, `Bearer ${USER_JWT}`],
    ["unknown apikey: unchanged", `Bearer sb_publishable_unknown`, "sb_publishable_unknown", "Bearer sb_publishable_unknown"],
    ["nothing at all", undefined, undefined, undefined],
  ])("%s", (_name, authorization, apikey, expected) => {
    expect(upstreamAuthorization(authorization, apikey)).toBe(expected);
  });
});

describe("the gateway with the new API keys", () => {
  let upstream: Server;
  let gateway: { url: string; close(): Promise<void> };
  const seen = async (path: string, headers: Record<string, string>) => {
    const r = await fetch(`${gateway.url}${path}`, { headers });
    return { status: r.status, body: (await r.json()) as { authorization?: string; code?: string } };
  };

  beforeAll(async () => {
    // Answers with the Authorization header it received: stands in for PostgREST and for the functions.
    upstream = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ authorization: req.headers.authorization ?? null }));
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

  it("/functions/v1 with verify_jwt = false: the key becomes its JWT, a caller's token is passed as is", async () => {
    expect(await seen("/functions/v1/open/x", { apikey: LOCAL_PUBLISHABLE_KEY, authorization: `Bearer ${LOCAL_PUBLISHABLE_KEY}` })).toEqual(
      {
        status: 200,
        body: { authorization: `Bearer ${LOCAL_ANON_KEY}` },
      },
    );
    expect(await seen("/functions/v1/open/x", { apikey: LOCAL_SECRET_KEY })).toEqual({
      status: 200,
      body: { authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}` },
    });
    expect(await seen("/functions/v1/open/x", { apikey: LOCAL_PUBLISHABLE_KEY, authorization: "Bearer writer.token.here" })).toEqual({
      status: 200,
      body: { authorization: "Bearer writer.token.here" },
    });
  });

  it("/functions/v1 with verify_jwt = true: an API key is no JWT (401), the anon JWT passes", async () => {
    const refused = { status: 401, body: { code: "UNAUTHORIZED_INVALID_JWT_FORMAT", message: "Invalid JWT" } };
    expect(await seen("/functions/v1/closed", { apikey: LOCAL_PUBLISHABLE_KEY, authorization: `Bearer ${LOCAL_PUBLISHABLE_KEY}` })).toEqual(
      refused,
    );
    expect(await seen("/functions/v1/closed", { apikey: LOCAL_PUBLISHABLE_KEY })).toEqual(refused);
    expect(await seen("/functions/v1/closed", { apikey: LOCAL_PUBLISHABLE_KEY, authorization: `Bearer ${LOCAL_ANON_KEY}` })).toEqual({
      status: 200,
      body: { authorization: `Bearer ${LOCAL_ANON_KEY}` },
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

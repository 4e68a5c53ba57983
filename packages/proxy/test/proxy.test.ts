// deno-lint-ignore-file require-await -- async lambdas keep the case tables uniform
import { readFileSync } from "node:fs";
import { exportJWK, generateKeyPair as joseKeyPair, importJWK, jwtVerify, type JWK } from "jose";
import { createSigner } from "@fedjwt/signer";
import { describe, expect, it } from "vitest";
import { isUuid, uuidV5 } from "../src/uuid.ts";
import { API_KEY, AUDIENCE, goodClaims, harness, outboundClaims, rawToken, request, SUPABASE_URL, writer } from "../src/testing.ts";

async function signerFor(w: Awaited<ReturnType<typeof writer>>) {
  return createSigner({ privateKey: w.keys.privateKeyPem, issuer: w.issuer, audience: AUDIENCE });
}

describe("forwarding", () => {
  it.each([
    ["GET", "/rest/widgets?select=*&id=eq.1", undefined, "/rest/v1/widgets?select=*&id=eq.1"],
    ["POST", "/rest/widgets", '{"name":"w"}', "/rest/v1/widgets"],
    ["PATCH", "/rest/widgets?id=eq.1", '{"name":"x"}', "/rest/v1/widgets?id=eq.1"],
    ["PUT", "/rest/widgets?id=eq.1", '{"id":1,"name":"x"}', "/rest/v1/widgets?id=eq.1"],
    ["DELETE", "/rest/widgets?id=eq.1", undefined, "/rest/v1/widgets?id=eq.1"],
    ["POST", "/rest/rpc/stock_report", '{"sku":"A"}', "/rest/v1/rpc/stock_report"],
    [
      "GET",
      "/rest/rest/v1/widgets?select=id,name&order=id.desc&limit=5",
      undefined,
      "/rest/v1/widgets?select=id,name&order=id.desc&limit=5",
    ],
    ["GET", "/functions/v1/rest/widgets?select=*", undefined, "/rest/v1/widgets?select=*"],
    ["POST", "/functions/v1/rest/rest/v1/rpc/stock_report", "{}", "/rest/v1/rpc/stock_report"],
  ])("%s %s → %s", async (method, path, body, upstreamPath) => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    const res = await h.handler(
      request(path, await (await signerFor(w)).sign({ roles: ["widgets_writer"] }), {
        method,
        ...(body ? { body, headers: { "content-type": "application/json" } } : {}),
      }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([{ id: 1 }]);
    expect(h.project.calls).toHaveLength(1);
    const call = h.project.calls[0]!;
    expect(call.method).toBe(method);
    expect(call.url).toBe(`${SUPABASE_URL}${upstreamPath}`);
    expect(call.body).toBe(body ?? null);
  });

  it("keeps the query string byte for byte (encoding, order, repeats)", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    const query = "?select=id,name&name=like.*%20blue*&or=(a.eq.1,b.eq.2)&id=gt.1&id=lt.9&on_conflict=id&columns=%22name%22";
    const res = await h.handler(request(`/rest/widgets${query}`, await (await signerFor(w)).sign()));
    expect(res.status).toBe(200);
    expect(h.project.calls[0]!.url).toBe(`${SUPABASE_URL}/rest/v1/widgets${query}`);
  });

  it("forwards only allow-listed headers and sets its own credentials", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    const token = await (await signerFor(w)).sign();
    await h.handler(
      request("/rest/widgets", token, {
        method: "POST",
        body: "{}",
        headers: {
          "content-type": "application/json",
          prefer: "return=representation,count=exact",
          accept: "application/vnd.pgrst.object+json",
          range: "0-9",
          "accept-profile": "public",
          "content-profile": "public",
          "x-client-info": "supabase-js/2",
          apikey: "sb_secret_smuggled",
          cookie: "session=abc",
          "x-forwarded-for": "1.2.3.4",
          "x-forwarded-host": "evil.example",
          forwarded: "for=1.2.3.4",
          "x-real-ip": "1.2.3.4",
          connection: "keep-alive",
          "proxy-authorization": "Basic x",
          "x-custom": "nope",
        },
      }),
    );
    const sent = h.project.calls[0]!.headers;
    expect(Object.fromEntries([...sent.entries()].map(([k, v]) => [k, k === "authorization" ? "<token>" : v]))).toEqual({
      accept: "application/vnd.pgrst.object+json",
      "accept-profile": "public",
      "content-profile": "public",
      "content-type": "application/json",
      prefer: "return=representation,count=exact",
      range: "0-9",
      "x-client-info": "supabase-js/2",
      apikey: API_KEY,
      authorization: "<token>",
      "x-request-id": expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7/),
    });
    expect(sent.get("authorization")).not.toContain(token);
  });

  it("passes the upstream status, body and headers back, minus hop-by-hop and cookies", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    h.project.upstreamResponse = () =>
      new Response('{"code":"42501","message":"new row violates row-level security policy","details":null,"hint":null}', {
        status: 403,
        headers: {
          "content-type": "application/json",
          "set-cookie": "a=b",
          "content-range": "*/0",
          "preference-applied": "return=minimal",
          connection: "close",
        },
      });
    const res = await h.handler(request("/rest/widgets", await (await signerFor(w)).sign(), { method: "POST", body: "{}" }));
    expect({ status: res.status, code: ((await res.json()) as { code: unknown }).code }).toEqual({ status: 403, code: "42501" });
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.headers.get("connection")).toBeNull();
    expect(res.headers.get("content-range")).toBe("*/0");
    expect(res.headers.get("preference-applied")).toBe("return=minimal");
  });

  it("HEAD forwards and returns no body", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    const res = await h.handler(request("/rest/widgets?select=*", await (await signerFor(w)).sign(), { method: "HEAD" }));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    expect(h.project.calls[0]!.method).toBe("HEAD");
  });
});

describe("the outbound token", () => {
  it("pins the registry's db_role, carries roles as app_roles, nests custom claims in writer_claims", async () => {
    const w = await writer("orders-service", "ES256", { allowed_roles: ["orders_writer", "stock_reader"] });
    const h = harness([w]);
    const token = await rawToken(w, goodClaims(w, { roles: ["orders_writer"], tenant: "acme", nbf: Math.floor(Date.now() / 1000) - 5 }));
    expect((await h.handler(request("/rest/orders", token))).status).toBe(200);
    const claims = await outboundClaims(h.project.calls[0]!);
    expect(claims).toMatchObject({
      iss: "orders-service",
      role: "federated_writer",
      aud: "authenticated",
      app_roles: ["orders_writer"],
      writer_kid: w.keys.kid,
      writer_claims: { tenant: "acme" },
      fedjwt_gateway: 1,
      writer_sub: "worker-1",
    });
    // Only the contract's claims stand at the top level.
    expect(Object.keys(claims).sort()).toEqual([
      "app_roles",
      "aud",
      "exp",
      "fedjwt_gateway",
      "iat",
      "iss",
      "role",
      "sub",
      "writer_claims",
      "writer_kid",
      "writer_sub",
    ]);
  });

  it("uses a per-writer db_role when the registry says so", async () => {
    const w = await writer("reporting", "ES256", { db_role: "reporting_writer", allowed_roles: [] });
    const h = harness([w]);
    await h.handler(request("/rest/reports", await rawToken(w, goodClaims(w, { roles: [] }))));
    expect((await outboundClaims(h.project.calls[0]!)).role).toBe("reporting_writer");
  });

  it("maps a non-UUID sub to a deterministic UUIDv5 and keeps the original", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w, { sub: "worker-1" }))));
    await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w, { sub: "worker-1" }))));
    const [a, b] = await Promise.all(h.project.calls.map(outboundClaims));
    expect(isUuid(String(a!.sub))).toBe(true);
    expect(a!.sub).toBe(b!.sub);
    expect(a!.sub).toBe(await uuidV5("widgets-service\nworker-1"));
    expect(a!.writer_sub).toBe("worker-1");
    // Another issuer with the same sub gets another UUID.
    expect(await uuidV5("other-service\nworker-1")).not.toBe(a!.sub);
  });

  it("derives a UUID-shaped sub too: no writer can choose an auth.uid()", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    const sub = crypto.randomUUID();
    await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w, { sub }))));
    const claims = await outboundClaims(h.project.calls[0]!);
    expect(claims.sub).toBe(await uuidV5(`widgets-service\n${sub}`));
    expect(claims.sub).not.toBe(sub);
    expect(claims.writer_sub).toBe(sub);
  });

  it("lives at most 60 s, and never longer than the inbound token has left", async () => {
    const w = await writer("widgets-service", "ES256", { max_token_lifetime_seconds: 300 });
    const t0 = Date.now();
    const h = harness([w], { now: () => t0 }); // a stopped clock: the check cannot depend on how fast this runs
    const now = Math.floor(t0 / 1000);
    await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w, { iat: now, exp: now + 300 }))));
    await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w, { iat: now - 50, exp: now + 10 }))));
    const [long, short] = await Promise.all(h.project.calls.map(outboundClaims));
    expect(long!.exp! - long!.iat!).toBe(60);
    expect(short!.exp).toBe(now + 10);
  });

  it("is signed with an imported ES256 signing key when configured, kid in the header", async () => {
    const { privateKey, publicKey } = await joseKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: "supabase-signing-key-1" };
    const w = await writer("widgets-service");
    const h = harness([w], { signingKey: { privateJwk: jwk } });
    expect((await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))))).status).toBe(200);
    const bearer = h.project.calls[0]!.headers.get("authorization")!.slice(7);
    const { payload, protectedHeader } = await jwtVerify(bearer, publicKey, { algorithms: ["ES256"] });
    expect(protectedHeader.kid).toBe("supabase-signing-key-1");
    expect(payload.role).toBe("federated_writer");
  });

  it.each(["es256", "rs256"] as const)(
    "takes a %s key exactly as `supabase gen signing-key` prints it (key_ops, use, ext)",
    async (alg) => {
      const text = readFileSync(new URL(`./fixtures/supabase-cli-${alg}.jwk.json`, import.meta.url), "utf8");
      const jwk = JSON.parse(text) as JWK;
      expect(jwk.key_ops).toEqual(["sign", "verify"]); // the CLI's shape, which WebCrypto refuses as is
      const w = await writer("widgets-service");
      const h = harness([w], { signingKey: { privateJwk: jwk } });
      expect((await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))))).status).toBe(200);
      const bearer = h.project.calls[0]!.headers.get("authorization")!.slice(7);
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, key_ops: _k, ...pub } = jwk;
      const { protectedHeader } = await jwtVerify(bearer, await importJWK(pub, jwk.alg), { algorithms: [jwk.alg!] });
      expect(protectedHeader).toMatchObject({ alg: alg.toUpperCase(), kid: jwk.kid });
    },
  );

  it("accepts the compatibility `role` claim as a requested app role", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w, { roles: undefined, role: "widgets_writer" }))));
    const claims = await outboundClaims(h.project.calls[0]!);
    expect(claims.role).toBe("federated_writer");
    expect(claims.app_roles).toEqual(["widgets_writer"]);
  });

  it("accepts a header with no typ, or typ JWT in any case (a media type)", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    for (const typ of [undefined, "JWT", "jwt"]) {
      const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w), { typ })));
      expect({ typ, status: res.status }).toEqual({ typ, status: 200 });
    }
  });
});

describe("key shapes", () => {
  it.each(["ES256", "RS256", "EdDSA"] as const)("verifies %s writers registered by PEM and by JWK", async (alg) => {
    const w = await writer(`svc-${alg.toLowerCase()}`, alg);
    const viaJwk = await writer(`jwk-${alg.toLowerCase()}`, alg, {}, 1);
    const h = harness([w]);
    h.project.add(viaJwk, { public_key_pem: null, public_jwk: viaJwk.keys.publicJwk });
    for (const x of [w, viaJwk]) {
      const res = await h.handler(request("/rest/widgets", await rawToken(x, goodClaims(x))));
      expect(res.status, x.issuer).toBe(200);
    }
    expect(h.project.calls).toHaveLength(2);
  });

  it("picks the right key among several by kid", async () => {
    const a = await writer("multi", "ES256", {}, 0);
    const b = await writer("multi", "ES256", {}, 1);
    const h = harness([a, b]);
    for (const x of [a, b]) expect((await h.handler(request("/rest/widgets", await rawToken(x, goodClaims(x))))).status).toBe(200);
  });

  it("accepts a token without kid when the issuer has exactly one key", async () => {
    const w = await writer("single");
    const h = harness([w]);
    const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w), { kid: undefined })));
    expect(res.status).toBe(200);
  });
});

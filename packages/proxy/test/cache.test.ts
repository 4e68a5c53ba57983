import { describe, expect, it } from "vitest";
import { goodClaims, harness, rawToken, request, writer } from "../src/testing.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A clock that moves only when the test moves it, so no count or window depends on how fast this runs. */
function testClock() {
  const t0 = Date.now();
  let offset = 0;
  return { now: () => t0 + offset, set: (ms: number) => (offset = ms) };
}

describe("registry cache", () => {
  it("sees a deactivation within the TTL, not before", async () => {
    const w = await writer("widgets-service");
    const clock = testClock();
    const h = harness([w], { keyCacheTtlMs: 5000, now: clock.now });
    const mint = () => rawToken(w, goodClaims(w, { iat: Math.floor(clock.now() / 1000), exp: Math.floor(clock.now() / 1000) + 60 }));
    expect((await h.handler(request("/rest/widgets", await mint()))).status).toBe(200);
    h.project.set("widgets-service", { usable: false });
    clock.set(4000);
    expect((await h.handler(request("/rest/widgets", await mint()))).status, "still cached at 4 s").toBe(200);
    clock.set(5001);
    const res = await h.handler(request("/rest/widgets", await mint()));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "key_inactive" });
    expect(h.project.registryReads).toBe(2);
  });

  it("100 concurrent requests for a cold issuer make one registry read", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    const tokens = await Promise.all(Array.from({ length: 100 }, () => rawToken(w, goodClaims(w))));
    const results = await Promise.all(tokens.map((t) => h.handler(request("/rest/widgets", t))));
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(h.project.registryReads).toBe(1);
    expect(h.project.calls).toHaveLength(100);
  });

  it("answers unknown issuers from the list of registered names: per-issuer reads within the recheck budget only, one list read per negative TTL", async () => {
    const stranger = await writer("stranger");
    const clock = testClock();
    const h = harness([], { now: clock.now });
    for (let i = 0; i < 10; i++) {
      const res = await h.handler(request("/rest/widgets", await rawToken(stranger, goodClaims(stranger))));
      expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "unknown_issuer" });
    }
    expect(h.project.registryReads).toBe(5); // the budget: 5 a second, then the list's answer stands
    expect(h.project.issuerListReads).toBe(1);
    clock.set(1001);
    await h.handler(request("/rest/widgets", await rawToken(stranger, goodClaims(stranger))));
    expect(h.project.issuerListReads).toBe(2);
    expect(h.project.registryReads).toBe(6);
  });

  it("300 requests naming made-up issuers cost at most 5 registry reads (the recheck budget) and do not evict a live issuer", async () => {
    const w = await writer("widgets-service");
    const t0 = Date.now();
    const h = harness([w], { now: () => t0 }); // a stopped clock: the count cannot depend on how fast this runs
    expect((await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))))).status).toBe(200);
    expect(h.project.registryReads).toBe(1);
    for (let i = 0; i < 300; i++) {
      const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w, { iss: `garbage-${i}` }))));
      expect((await res.json()).code).toBe("unknown_issuer");
    }
    expect((await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))))).status).toBe(200);
    expect(h.project.registryReads).toBe(1 + 5);
    expect(h.project.issuerListReads).toBe(1);
  });

  it("a writer registered just after the gateway read the issuer list is seen at once (register, then write)", async () => {
    const late = await writer("late-service");
    const clock = testClock();
    const h = harness([], { now: clock.now });
    const token = () => rawToken(late, goodClaims(late));
    expect((await (await h.handler(request("/rest/widgets", await token()))).json()).code).toBe("unknown_issuer");
    h.project.add(late);
    clock.set(10); // well within the negative TTL: the list still says unknown
    const results = await Promise.all(
      Array.from({ length: 20 }, async () => (await h.handler(request("/rest/widgets", await token()))).status),
    );
    expect(results).toEqual(Array(20).fill(200));
    expect(h.project.issuerListReads).toBe(1);
  });

  it("an issuer list cut short by PostgREST's max-rows is not trusted: every issuer is looked up", async () => {
    const ws = [await writer("svc-a", "ES256", {}, 0), await writer("svc-b", "ES256", {}, 1), await writer("svc-c", "ES256", {}, 2)];
    const h = harness(ws);
    h.project.maxRows = 2;
    for (const w of ws) expect((await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))))).status, w.issuer).toBe(200);
    expect(h.project.registryReads).toBe(3);
  });

  it("a newly registered issuer is seen within the negative TTL (1 s), as before the list existed", async () => {
    const late = await writer("late-service");
    const clock = testClock();
    const h = harness([], { now: clock.now });
    const token = () => rawToken(late, goodClaims(late));
    expect((await (await h.handler(request("/rest/widgets", await token()))).json()).code).toBe("unknown_issuer");
    h.project.add(late);
    clock.set(1001);
    expect((await h.handler(request("/rest/widgets", await token()))).status).toBe(200);
  });

  it("does not cache a registry failure", async () => {
    const w = await writer("widgets-service");
    const h = harness([w]);
    h.project.registryMode = "500";
    const failed = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))));
    expect({ status: failed.status, code: (await failed.json()).code }).toEqual({ status: 503, code: "registry_unavailable" });
    h.project.registryMode = "ok";
    expect((await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))))).status).toBe(200);
  });

  it("a newly registered key is picked up after the TTL", async () => {
    const a = await writer("rotating", "ES256", {}, 0);
    const b = await writer("rotating", "ES256", {}, 1);
    const clock = testClock();
    const h = harness([a], { now: clock.now, keyCacheTtlMs: 2000 });
    const mint = (x: typeof a) =>
      rawToken(x, goodClaims(x, { iat: Math.floor(clock.now() / 1000), exp: Math.floor(clock.now() / 1000) + 60 }));
    expect((await h.handler(request("/rest/widgets", await mint(a)))).status).toBe(200);
    h.project.add(b);
    const early = await h.handler(request("/rest/widgets", await mint(b)));
    expect({ status: early.status, code: (await early.json()).code }).toEqual({ status: 401, code: "unknown_kid" });
    clock.set(2001);
    expect((await h.handler(request("/rest/widgets", await mint(b)))).status).toBe(200);
    expect((await h.handler(request("/rest/widgets", await mint(a)))).status).toBe(200);
  });
});

describe("issuers that publish a JWKS", () => {
  const URI = "https://writer.test/.well-known/jwks.json";

  async function setup(jwksOptions: { cooldownMs?: number; minCacheMs?: number; maxCacheMs?: number; timeoutMs?: number } = {}) {
    const k1 = await writer("jwks-writer", "EdDSA", {}, 0);
    const k2 = await writer("jwks-writer", "EdDSA", {}, 1);
    const clock = testClock();
    const h = harness([], { now: clock.now, jwks: { cooldownMs: 200, minCacheMs: 0, maxCacheMs: 60_000, ...jwksOptions } });
    h.project.add(k1, { kid: null, public_key_pem: null, jwks_uri: URI });
    h.project.jwks.set(URI, { body: { keys: [k1.keys.publicJwk] } });
    return { h, k1, k2, clock };
  }

  it("verifies against the fetched JWKS, fetching it once", async () => {
    const { h, k1 } = await setup();
    for (let i = 0; i < 5; i++) expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status).toBe(200);
    expect(h.project.jwksFetches).toBe(1);
  });

  it("picks up a rotated key on its unknown kid (after the cooldown)", async () => {
    const { h, k1, k2 } = await setup();
    expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status).toBe(200);
    h.project.jwks.set(URI, { body: { keys: [k1.keys.publicJwk, k2.keys.publicJwk] } });
    await sleep(250);
    expect((await h.handler(request("/rest/widgets", await rawToken(k2, goodClaims(k2))))).status).toBe(200);
    expect(h.project.jwksFetches).toBe(2);
  });

  it("rate-limits refetches: a storm of unknown kids causes at most one fetch per cooldown", async () => {
    const { h, k1 } = await setup({ cooldownMs: 10_000 });
    expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status).toBe(200);
    const storm = await Promise.all(
      Array.from({ length: 20 }, async (_, i) =>
        h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1), { kid: `bogus-${i}` }))),
      ),
    );
    for (const r of storm) expect({ status: r.status, code: (await r.json()).code }).toEqual({ status: 401, code: "unknown_kid" });
    expect(h.project.jwksFetches).toBe(1);
  });

  it("honours the endpoint's Cache-Control max-age within bounds", async () => {
    const { h, k1, clock } = await setup({ minCacheMs: 0, maxCacheMs: 60_000 });
    h.project.jwks.set(URI, { body: { keys: [k1.keys.publicJwk] }, cacheControl: "public, max-age=1" });
    expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status).toBe(200);
    expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status).toBe(200);
    expect(h.project.jwksFetches).toBe(1);
    clock.set(1100);
    expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status).toBe(200);
    expect(h.project.jwksFetches).toBe(2);
  });

  it("keeps verifying with cached keys while the endpoint is down, then fails closed after their TTL", async () => {
    const { h, k1, clock } = await setup({ minCacheMs: 0 });
    h.project.jwks.set(URI, { body: { keys: [k1.keys.publicJwk] }, cacheControl: "max-age=1" });
    expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status).toBe(200);
    h.project.jwks.set(URI, { body: null, fail: true });
    expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status, "cached").toBe(200);
    clock.set(1100);
    const res = await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 503, code: "jwks_unavailable" });
  });

  it("a JWKS endpoint that hangs: cached keys keep working, then a bounded wait and a clear 503", async () => {
    const { h, k1, clock } = await setup({ minCacheMs: 0, timeoutMs: 200 });
    h.project.jwks.set(URI, { body: { keys: [k1.keys.publicJwk] }, cacheControl: "max-age=1" });
    expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status).toBe(200);
    h.project.jwks.set(URI, { body: null, hang: true });
    expect((await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))))).status, "cached").toBe(200);
    clock.set(1100);
    const res = await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1))));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 503, code: "jwks_unavailable" });
  });

  it("a JWKS key with another alg than the registry row is not used", async () => {
    const { h } = await setup();
    const es = await writer("jwks-writer", "ES256", {}, 11);
    h.project.jwks.set(URI, { body: { keys: [es.keys.publicJwk] } });
    const res = await h.handler(request("/rest/widgets", await rawToken(es, goodClaims(es))));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "alg_not_allowed" });
  });

  // The JWKS entry rules docs/token-contract.md states: kid, alg, use and key_ops decide whether an entry is used.
  it.each([
    ["use sig, alg EdDSA, key_ops [verify]", { use: "sig", alg: "EdDSA", key_ops: ["verify"] }, false, { status: 200 }],
    ["no kid in the token, one entry", {}, true, { status: 200 }],
    ["use enc", { use: "enc" }, false, { status: 401, code: "unknown_kid" }],
    ["alg of another algorithm", { alg: "ES256" }, false, { status: 401, code: "unknown_kid" }],
    ["key_ops without verify", { key_ops: ["encrypt"] }, false, { status: 401, code: "unknown_kid" }],
    ["another kid", { kid: "someone-else" }, false, { status: 401, code: "unknown_kid" }],
  ])("a JWKS entry with %s", async (_name, patch, noKid, expected) => {
    const { h, k1 } = await setup();
    h.project.jwks.set(URI, { body: { keys: [{ ...k1.keys.publicJwk, ...patch }] } });
    const res = await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1), noKid ? { kid: undefined } : {})));
    const body = res.status === 200 ? {} : { code: (await res.json()).code };
    expect({ status: res.status, ...body }).toEqual(expected);
  });

  it("a token without kid that two JWKS entries fit is refused with kid_missing", async () => {
    const { h, k1, k2 } = await setup();
    h.project.jwks.set(URI, { body: { keys: [k1.keys.publicJwk, k2.keys.publicJwk] } });
    const res = await h.handler(request("/rest/widgets", await rawToken(k1, goodClaims(k1), { kid: undefined })));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "kid_missing" });
  });
});

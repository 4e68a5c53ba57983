import { afterEach, describe, expect, it, vi } from "vitest";
import { cachedRegistry, type IssuerRecord, type KeyRegistry } from "../src/registry.ts";
import { VerifiedTokenCache } from "../src/token-cache.ts";
import type { VerifiedToken } from "../src/verify.ts";
import { goodClaims, harness, outboundClaims, rawToken, request, writer, type Writer } from "../src/testing.ts";

afterEach(() => vi.restoreAllMocks());

/** Counts signature checks (jose verifies through WebCrypto). */
function countVerifications() {
  return vi.spyOn(crypto.subtle, "verify");
}

function setup(w: Writer[], ttl = 5000) {
  const t0 = Date.now();
  let offset = 0;
  const clock = () => t0 + offset; // moves only when the test advances it
  const h = harness(w, { keyCacheTtlMs: ttl, now: clock });
  const mint = (x: Writer, lifetime = 60, extra = {}) => {
    const iat = Math.floor(clock() / 1000);
    return rawToken(x, goodClaims(x, { iat, exp: iat + lifetime, ...extra }));
  };
  return { h, mint, advance: (ms: number) => (offset += ms) };
}

describe("verified-token cache in the handler", () => {
  it("a repeated token skips the signature check and the signing", async () => {
    const w = await writer("widgets-service");
    const { h, mint, advance } = setup([w]);
    const token = await mint(w);
    const verify = countVerifications();
    expect((await h.handler(request("/rest/widgets", token))).status).toBe(200);
    expect(verify).toHaveBeenCalledTimes(1);
    advance(2000); // a re-signed token would carry a later iat
    expect((await h.handler(request("/rest/widgets", token))).status).toBe(200);
    expect((await h.handler(request("/rest/widgets", token, { method: "POST", body: '{"a":1}' }))).status).toBe(200);
    expect(verify).toHaveBeenCalledTimes(1);
    const [first, second, third] = h.project.calls;
    expect(second!.headers.get("authorization")).toBe(first!.headers.get("authorization"));
    expect(third!.body).toBe('{"a":1}');
    expect((await outboundClaims(second!)).role).toBe("federated_writer");
  });

  it("a token differing in one signature byte, or another valid token, is verified on its own", async () => {
    const w = await writer("widgets-service");
    const { h, mint } = setup([w]);
    const token = await mint(w);
    expect((await h.handler(request("/rest/widgets", token))).status).toBe(200);
    const verify = countVerifications();
    const at = token.lastIndexOf(".") + 10;
    const tampered = token.slice(0, at) + (token[at] === "A" ? "B" : "A") + token.slice(at + 1);
    const res = await h.handler(request("/rest/widgets", tampered));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "bad_signature" });
    expect(verify).toHaveBeenCalledTimes(1);
    expect((await h.handler(request("/rest/widgets", await mint(w, 60, { sub: "worker-2" })))).status).toBe(200);
    expect(verify).toHaveBeenCalledTimes(2);
    expect(h.project.calls).toHaveLength(2);
  });

  it("a deactivation is seen within the key-cache TTL, as without the cache", async () => {
    const w = await writer("widgets-service");
    const { h, mint, advance } = setup([w], 5000);
    const token = await mint(w, 120);
    expect((await h.handler(request("/rest/widgets", token))).status).toBe(200);
    h.project.set("widgets-service", { usable: false });
    advance(4000);
    expect((await h.handler(request("/rest/widgets", token))).status, "still cached at 4 s").toBe(200);
    advance(1001);
    const res = await h.handler(request("/rest/widgets", token));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "key_inactive" });
  });

  it("an entry ends with the registry record it was verified against, even inside its own TTL", async () => {
    const w = await writer("widgets-service");
    const { h, mint, advance } = setup([w], 5000);
    const a = await mint(w, 120);
    expect((await h.handler(request("/rest/widgets", a))).status).toBe(200);
    advance(4000);
    const b = await mint(w, 120, { sub: "worker-2" }); // cached at 4 s, against the record read at 0 s
    expect((await h.handler(request("/rest/widgets", b))).status).toBe(200);
    h.project.set("widgets-service", { usable: false });
    advance(1001); // the record is refetched: b's entry, 1 s old, must go with it
    expect((await (await h.handler(request("/rest/widgets", b))).json()).code).toBe("key_inactive");
  });

  it("ends before the outbound token does, and at the token's exp", async () => {
    const w = await writer("widgets-service");
    const { h, mint, advance } = setup([w], 60_000);
    const token = await mint(w, 25); // outbound exp = token exp = +25 s, usable until +15 s (10 s margin)
    const verify = countVerifications();
    await h.handler(request("/rest/widgets", token));
    advance(14_000);
    await h.handler(request("/rest/widgets", token));
    expect(verify).toHaveBeenCalledTimes(1);
    advance(2000);
    expect((await h.handler(request("/rest/widgets", token))).status).toBe(200);
    expect(verify).toHaveBeenCalledTimes(2);
    const claims = await outboundClaims(h.project.calls[2]!);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(9); // the fresh one, with what the token had left
  });

  it("never caches for require_jti issuers: a repeat is a replay", async () => {
    const w = await writer("once-service", "ES256", { require_jti: true });
    const { h, mint } = setup([w]);
    const token = await mint(w);
    expect((await h.handler(request("/rest/widgets", token))).status).toBe(200);
    const res = await h.handler(request("/rest/widgets", token));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "token_replayed" });
  });

  it("can be turned off", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { tokenCache: false });
    const token = await rawToken(w, goodClaims(w));
    const verify = countVerifications();
    await h.handler(request("/rest/widgets", token));
    await h.handler(request("/rest/widgets", token));
    expect(verify).toHaveBeenCalledTimes(2);
  });
});

describe("VerifiedTokenCache bounds", () => {
  const now = () => 1_000_000_000;
  const record: IssuerRecord = {
    issuer: "svc",
    keys: [],
    policy: { db_role: "federated_writer", db_role_valid: true, allowed_roles: [], max_token_lifetime_seconds: 300, require_jti: false },
  };
  const fixed: KeyRegistry = { lookup: () => Promise.resolve(record), consumeJti: () => Promise.resolve(true) };
  const admitted = (policy = record.policy) => ({
    verified: {
      issuer: "svc",
      kid: "k",
      alg: "ES256",
      roles: [],
      policy,
      claims: { iss: "svc", sub: "s", iat: 999_999, exp: 1_000_060 },
    } as VerifiedToken,
    outbound: "o".repeat(200),
  });

  it("keeps at most maxEntries, dropping the least recently used", async () => {
    const c = new VerifiedTokenCache({ registry: fixed, ttlMs: 5000, maxEntries: 3, now });
    for (const t of ["t1", "t2", "t3"]) await c.store(t, admitted(), 1_000_060);
    expect(await c.lookup("t1")).toBeDefined(); // t1 becomes the most recent
    await c.store("t4", admitted(), 1_000_060);
    expect(c.size).toBe(3);
    expect(await c.lookup("t2")).toBeUndefined();
    expect(await c.lookup("t1")).toBeDefined();
    expect(await c.lookup("t4")).toBeDefined();
  });

  it("keeps its memory estimate under maxBytes", async () => {
    const c = new VerifiedTokenCache({ registry: fixed, ttlMs: 5000, maxBytes: 10_000, now });
    for (let i = 0; i < 100; i++) await c.store(`token-${i}-${"x".repeat(300)}`, admitted(), 1_000_060);
    expect(c.bytes).toBeLessThanOrEqual(10_000);
    expect(c.size).toBeGreaterThan(0);
    expect(c.size).toBeLessThan(100);
    c.clear();
    expect(c.bytes).toBe(0);
  });

  it("stores nothing verified against another record, or for require_jti", async () => {
    const c = new VerifiedTokenCache({ registry: fixed, ttlMs: 5000, now });
    await c.store("stale", admitted({ ...record.policy }), 1_000_060);
    await c.store("jti", admitted({ ...record.policy, require_jti: true }), 1_000_060);
    expect(c.size).toBe(0);
  });

  it("pairs with cachedRegistry: hits while its record is cached, misses once it is refetched", async () => {
    let t = 0;
    let fresh = 0;
    const inner: KeyRegistry = {
      lookup: () => Promise.resolve({ ...record, policy: { ...record.policy, db_role: `r${fresh++}` } }),
      consumeJti: () => Promise.resolve(true),
    };
    const registry = cachedRegistry(inner, { ttlMs: 1000, now: () => t });
    const c = new VerifiedTokenCache({ registry, ttlMs: 60_000, now: () => 1_000_000_000 + t });
    const r = (await registry.lookup("svc"))!;
    await c.store("tok", admitted(r.policy), 1_000_060);
    expect(await c.lookup("tok")).toBeDefined();
    t = 1001;
    expect(await c.lookup("tok")).toBeUndefined();
    expect(c.size).toBe(0);
  });
});

describe("VerifiedTokenCache under concurrency", () => {
  it("keeps its memory count right when an entry is evicted while a lookup awaits the registry", async () => {
    const now = () => 1_000_000_000;
    const record: IssuerRecord = {
      issuer: "svc",
      keys: [],
      policy: { db_role: "federated_writer", db_role_valid: true, allowed_roles: [], max_token_lifetime_seconds: 300, require_jti: false },
    };
    let release: () => void = () => undefined;
    let slow = false;
    const registry: KeyRegistry = {
      lookup: () => (slow ? new Promise((r) => (release = () => r(record))) : Promise.resolve(record)),
      consumeJti: () => Promise.resolve(true),
    };
    const c = new VerifiedTokenCache({ registry, ttlMs: 5000, maxEntries: 1, now });
    const admitted = {
      verified: {
        issuer: "svc",
        kid: "k",
        alg: "ES256",
        roles: [],
        policy: record.policy,
        claims: { iss: "svc", sub: "s", iat: 999_999, exp: 1_000_060 },
      } as VerifiedToken,
      outbound: "o",
    };
    await c.store("a", admitted, 1_000_060);
    slow = true;
    const pending = c.lookup("a");
    slow = false;
    await c.store("b", admitted, 1_000_060); // evicts "a" while its lookup waits
    release();
    expect(await pending).toBeDefined();
    expect(c.size).toBe(1);
    expect(c.bytes).toBe(2 * ("b".length + "o".length) + 512);
    expect(await c.lookup("a")).toBeUndefined();
  });
});

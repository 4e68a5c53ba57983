// The handler's own cost, in-process with a fake upstream. Runtime-agnostic (no node: imports): the bench
// runs it under Node in its own process and under Deno in a child, since the function runs on Deno.
import { compactVerify, importSPKI } from "jose";
import { createSigner, generateKeyPair } from "@fedjwt/signer";
import { cachedRegistry, createJwtSwapProxy, type KeyRegistry } from "@fedjwt/proxy";
import { memoryRegistry } from "./lib.ts";

/** The handler's own cost in ms per request (no network: a fake upstream), on a cache hit and on a miss. */
export interface HandlerCost {
  /** Net of the fake upstream: the handler's own work. */
  hitMs: number;
  missMs: number;
  /** The same new tokens as the miss, with the cache turned off (what every request cost before the cache). */
  uncachedMs: number;
  /** The ES256 signature check alone (jose compactVerify with an imported key), the floor of a miss. */
  verifyOnlyMs: number;
  /** Rounds each case ran; each keeps its best. */
  rounds: number;
  /** What the fake upstream itself costs per request (building and reading its Response), already subtracted. */
  fakeUpstreamMs: number;
}

/**
 * The handler in-process with a fake upstream: the same token again (cache hit), a new token each time
 * (miss: verify ES256, re-sign HS256, store), and the same new tokens with the cache turned off (the path
 * before the cache: a miss minus the store). Requests are
 * built before the clock starts; the fake upstream's own cost is measured alone and subtracted. The cases
 * run interleaved in `rounds` rounds and each keeps its best round (the least disturbed by other work).
 */
export async function measureHandlerCost(n = 2000, rounds = 7): Promise<HandlerCost> {
  const k = await generateKeyPair();
  const signer = await createSigner({ privateKey: k.privateKeyPem, issuer: "bench", audience: "aud", expiresIn: 300 });
  const upstream = () => Promise.resolve(new Response('[{"id":1}]', { headers: { "content-type": "application/json" } }));
  const make = (tokenCache?: false) =>
    createJwtSwapProxy({
      supabaseUrl: "http://upstream.invalid",
      serviceKey: "sb_secret_x",
      apiKey: "sb_publishable_x",
      audience: "aud",
      signingKey: { hs256Secret: "x".repeat(40) },
      registry: cachedRegistry(memoryRegistry(k), { ttlMs: 3_600_000 }),
      fetch: upstream,
      logger: () => undefined,
      ...(tokenCache === false ? { tokenCache } : {}),
    });
  const requests = (token: (i: number) => string) =>
    Array.from(
      { length: n },
      (_, i) => new Request("http://gw/rest/orders?select=id&id=eq.1", { headers: { authorization: `Bearer ${token(i)}` } }),
    );
  const time = async (handler: (r: Request) => Promise<Response>, reqs: Request[]) => {
    const t0 = performance.now();
    for (const r of reqs) await (await handler(r)).text();
    return (performance.now() - t0) / reqs.length;
  };
  const one = await signer.sign({ roles: ["r"] });
  const fresh = await Promise.all(Array.from({ length: n }, () => signer.sign({ roles: ["r"] })));
  const handlers = { fake: () => upstream(), hit: make(), miss: make(), off: make(false) };
  const best = { fake: Infinity, hit: Infinity, miss: Infinity, off: Infinity, verify: Infinity };
  const key = await importSPKI(k.publicKeyPem, "ES256");
  for (let round = -1; round < rounds; round++) {
    // round -1 warms up
    handlers.miss = make(); // an empty cache: every one of the n tokens is new to it
    for (const c of ["fake", "hit", "miss", "off"] as const) {
      const ms = await time(handlers[c], requests(c === "miss" || c === "off" ? (i) => fresh[i]! : () => one));
      if (round >= 0) best[c] = Math.min(best[c], ms);
    }
    const t0 = performance.now();
    for (const t of fresh) await compactVerify(t, key, { algorithms: ["ES256"] });
    if (round >= 0) best.verify = Math.min(best.verify, (performance.now() - t0) / fresh.length);
  }
  const r = {
    hitMs: best.hit - best.fake,
    missMs: best.miss - best.fake,
    uncachedMs: best.off - best.fake,
    verifyOnlyMs: best.verify,
    rounds,
    fakeUpstreamMs: best.fake,
  };
  return r;
}

/** The handler's hit path with many writers in its caches. */
export interface ScaleHit {
  /** Writers with a token in the verified-token cache, requests cycled through them. */
  active: number;
  /** Writers the registry knows. */
  registered: number;
  /** Net of the fake upstream, ms per request; best of `rounds`. */
  hitMs: number;
  rounds: number;
}

/**
 * The cache-hit path with `active` writers (each its own key and token) cycled through, out of `registered`
 * writers the registry knows: every token is verified once (a miss each), then `perWriter` rounds of hits over
 * all of them; best of `rounds`, net of the fake upstream.
 */
export async function measureScaleHit(active = 1000, registered = 10_000, perWriter = 20, rounds = 5): Promise<ScaleHit> {
  const keys = await Promise.all(Array.from({ length: active }, () => generateKeyPair()));
  const byIssuer = new Map(keys.map((k, i) => [`scale-${String(i).padStart(5, "0")}`, k]));
  const inactive = keys[0]!; // writers beyond the active ones are registered, never seen in this run
  const registry: KeyRegistry = {
    lookup(issuer) {
      const m = /^scale-(\d{5})$/.exec(issuer);
      if (!m || Number(m[1]) >= registered) return Promise.resolve(null);
      return memoryRegistry(byIssuer.get(issuer) ?? inactive).lookup(issuer);
    },
    consumeJti: () => Promise.resolve(true),
  };
  const upstream = () => Promise.resolve(new Response('[{"id":1}]', { headers: { "content-type": "application/json" } }));
  const handler = createJwtSwapProxy({
    supabaseUrl: "http://upstream.invalid",
    serviceKey: "sb_secret_x",
    apiKey: "sb_publishable_x",
    audience: "aud",
    signingKey: { hs256Secret: "x".repeat(40) },
    registry: cachedRegistry(registry, { ttlMs: 3_600_000 }),
    fetch: upstream,
    logger: () => undefined,
  });
  const tokens = await Promise.all(
    [...byIssuer].map(async ([issuer, k]) =>
      (await createSigner({ privateKey: k.privateKeyPem, issuer, audience: "aud", expiresIn: 300 })).sign({ roles: ["r"] }),
    ),
  );
  const requests = () =>
    Array.from(
      { length: active * perWriter },
      (_, i) => new Request("http://gw/rest/orders?select=id&id=eq.1", { headers: { authorization: `Bearer ${tokens[i % active]}` } }),
    );
  const time = async (h: (r: Request) => Promise<Response>, reqs: Request[]) => {
    const t0 = performance.now();
    for (const r of reqs) await (await h(r)).text();
    return (performance.now() - t0) / reqs.length;
  };
  for (const t of tokens) {
    const res = await handler(new Request("http://gw/rest/orders", { headers: { authorization: `Bearer ${t}` } }));
    await res.text();
    if (res.status !== 200) throw new Error(`scale hit warm-up answered ${res.status}`);
  }
  let best = Infinity;
  let fake = Infinity;
  for (let round = 0; round < rounds; round++) {
    fake = Math.min(fake, await time(() => upstream(), requests()));
    best = Math.min(best, await time(handler, requests()));
  }
  return { active, registered, hitMs: best - fake, rounds };
}

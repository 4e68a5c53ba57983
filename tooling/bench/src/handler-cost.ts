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
  /** Net of the fake upstream, ms per request; best of `rounds` (wall clock: includes waiting for a core on a busy machine). */
  hitMs: number;
  /** The same requests' CPU time (the process's, as an Edge Function is charged), net of the fake upstream's; best of `rounds`. */
  hitCpuMs: number;
  rounds: number;
}

/** CPU time this process has used, ms (Node, and Deno's `process` global). */
function cpuMs(): number {
  const u = (globalThis as { process?: { cpuUsage(): { user: number; system: number } } }).process?.cpuUsage();
  return u ? (u.user + u.system) / 1000 : Number.NaN;
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
    const c0 = cpuMs();
    for (const r of reqs) await (await h(r)).text();
    return { wall: (performance.now() - t0) / reqs.length, cpu: (cpuMs() - c0) / reqs.length };
  };
  for (const t of tokens) {
    const res = await handler(new Request("http://gw/rest/orders", { headers: { authorization: `Bearer ${t}` } }));
    await res.text();
    if (res.status !== 200) throw new Error(`scale hit warm-up answered ${res.status}`);
  }
  const best = { wall: Infinity, cpu: Infinity };
  const fake = { wall: Infinity, cpu: Infinity };
  for (let round = 0; round < rounds; round++) {
    const f = await time(() => upstream(), requests());
    const h = await time(handler, requests());
    fake.wall = Math.min(fake.wall, f.wall);
    fake.cpu = Math.min(fake.cpu, f.cpu);
    best.wall = Math.min(best.wall, h.wall);
    best.cpu = Math.min(best.cpu, h.cpu);
  }
  return { active, registered, hitMs: best.wall - fake.wall, hitCpuMs: best.cpu - fake.cpu, rounds };
}

/** The heap the handler keeps with many writers, as the Edge Runtime's memory limit counts it. */
export interface ScaleHeap {
  active: number;
  registered: number;
  /** V8 used heap + external memory after a full collection, MB: before any request, with `active` writers served, after every registered writer once. */
  startMB: number;
  afterActiveMB: number;
  afterSweepMB: number;
  /** Hit requests served between the first two figures. */
  hits: number;
}

/**
 * The handler's retained heap (used heap + external memory after a full collection: what the Edge Runtime's
 * memory check adds up, rather than the process's resident size) before any request, after `active`
 * writers each verified once and then served `perWriter` hits, and after all `registered` writers sent one
 * request with a new token. Every writer has its own ES256 key; keys and tokens are made before the first
 * figure, so only what the handler keeps is counted. Needs `--expose-gc` (V8 flag).
 */
export async function measureScaleHeap(active = 1000, registered = 10_000, perWriter = 20): Promise<ScaleHeap> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("measureScaleHeap needs --expose-gc");
  const mem = (globalThis as { process?: { memoryUsage(): { heapUsed: number; external: number } } }).process;
  if (!mem) throw new Error("measureScaleHeap needs process.memoryUsage");
  const heap = () => {
    gc();
    gc();
    const m = mem.memoryUsage();
    return (m.heapUsed + m.external) / 1e6;
  };
  const names = Array.from({ length: registered }, (_, i) => `scale-${String(i).padStart(5, "0")}`);
  const keys = new Map<string, Awaited<ReturnType<typeof generateKeyPair>>>();
  for (const name of names) keys.set(name, await generateKeyPair());
  const registry: KeyRegistry = {
    lookup: (issuer) => (keys.has(issuer) ? memoryRegistry(keys.get(issuer)!).lookup(issuer) : Promise.resolve(null)),
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
    usage: { sink: () => Promise.resolve(), flushIntervalMs: 1000 },
    limits: false,
  });
  const step = Math.floor(registered / active);
  const mint = async (name: string) =>
    (await createSigner({ privateKey: keys.get(name)!.privateKeyPem, issuer: name, audience: "aud", expiresIn: 300 })).sign({
      roles: ["r"],
    });
  const activeTokens: string[] = [];
  for (let i = 0; i < active; i++) activeTokens.push(await mint(names[i * step]!));
  const sweepTokens: string[] = [];
  for (const name of names) sweepTokens.push(await mint(name));
  const send = async (token: string) => {
    const res = await handler(new Request("http://gw/rest/orders?select=id&id=eq.1", { headers: { authorization: `Bearer ${token}` } }));
    await res.text();
    if (res.status !== 200) throw new Error(`scale heap: the handler answered ${res.status}`);
  };
  const startMB = heap();
  for (let i = 0; i < active * (perWriter + 1); i++) await send(activeTokens[i % active]!);
  const afterActiveMB = heap();
  for (const t of sweepTokens) await send(t);
  const afterSweepMB = heap();
  return { active, registered, startMB, afterActiveMB, afterSweepMB, hits: active * perWriter };
}

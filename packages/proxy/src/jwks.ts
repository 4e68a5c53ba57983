import { createRemoteJWKSet, customFetch, type RemoteJWKSet } from "jose";
import { readLimited } from "./body.ts";
import { ProxyError } from "./errors.ts";

export interface JwksOptions {
  fetch?: typeof fetch;
  /** Per-fetch timeout (default 3000 ms). */
  timeoutMs?: number;
  /** Least time between two fetches of one JWKS, also on unknown kid (default 5000 ms). */
  cooldownMs?: number;
  /** Bounds for the endpoint's Cache-Control max-age (defaults 5 s and 10 min). */
  minCacheMs?: number;
  maxCacheMs?: number;
  /** Largest JWKS response accepted, by Content-Length and as streamed (default 64 KiB). */
  maxBytes?: number;
  /** Most keys a JWKS may hold (default 32). */
  maxKeys?: number;
  /** The clock for max-age and fail-fast windows, in ms (default Date.now; jose's own cooldown uses real time). */
  now?: () => number;
}

interface Entry {
  set: RemoteJWKSet;
  /** When the endpoint's Cache-Control (clamped) says the keys go stale. */
  freshUntil: number;
  /** After a failed refresh, fail fast until then instead of hammering the endpoint. */
  failedUntil: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** True when a JWKS URL may be used: https, or http on loopback (local development). */
export function isAllowedJwksUri(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname));
  } catch {
    return false;
  }
}

/**
 * Reads a JWKS response within `maxBytes` (refused on a larger Content-Length before reading, and as soon as
 * the stream passes the limit) holding at most `maxKeys` keys; returns it re-wrapped for jose to parse.
 * Throws ProxyError jwks_too_large otherwise.
 */
export async function boundedJwksResponse(res: Response, maxBytes: number, maxKeys: number): Promise<Response> {
  if (!res.ok) {
    await res.body?.cancel();
    return new Response(null, { status: res.status, headers: res.headers });
  }
  const tooLarge = () => new ProxyError("jwks_too_large", `the JWKS is over ${maxBytes} bytes`);
  const declared = res.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await res.body?.cancel();
    throw tooLarge();
  }
  const bytes = res.body ? await readLimited(res.body, maxBytes, tooLarge) : new Uint8Array(0);
  const text = new TextDecoder().decode(bytes);
  let keys: unknown;
  try {
    keys = (JSON.parse(text) as { keys?: unknown })?.keys;
  } catch {
    keys = undefined; // jose reports the invalid JSON itself
  }
  if (Array.isArray(keys) && keys.length > maxKeys) throw new ProxyError("jwks_too_large", `the JWKS has more than ${maxKeys} keys`);
  return new Response(text, { status: res.status, headers: { "content-type": "application/json" } });
}

function maxAgeMs(cacheControl: string | null): number | undefined {
  if (!cacheControl) return undefined;
  if (/\bno-(store|cache)\b/i.test(cacheControl)) return 0;
  const m = /\bmax-age=(\d+)/i.exec(cacheControl);
  return m ? Number(m[1]) * 1000 : undefined;
}

/**
 * One jose RemoteJWKSet per JWKS URL. jose does the fetching, the kid matching and the refetch on an unknown
 * kid (at most once per cooldown); this adds the endpoint's Cache-Control max-age, clamped to bounds, and
 * fail-fast after a failed refresh.
 */
export class JwksPool {
  readonly #entries = new Map<string, Entry>();
  readonly #options: Required<JwksOptions>;

  constructor(options: JwksOptions = {}) {
    this.#options = {
      fetch: options.fetch ?? fetch,
      timeoutMs: options.timeoutMs ?? 3000,
      cooldownMs: options.cooldownMs ?? 5000,
      minCacheMs: options.minCacheMs ?? 5000,
      maxCacheMs: options.maxCacheMs ?? 600_000,
      maxBytes: options.maxBytes ?? 64 * 1024,
      maxKeys: options.maxKeys ?? 32,
      now: options.now ?? Date.now,
    };
  }

  /** A key resolver for jose's verify functions, fresh according to the endpoint's caching headers. */
  async resolver(uri: string): Promise<RemoteJWKSet> {
    if (!isAllowedJwksUri(uri)) throw new ProxyError("jwks_unavailable", "the registered jwks_uri is not https");
    const entry = this.#entry(uri);
    const now = this.#options.now();
    if (now < entry.failedUntil) throw new ProxyError("jwks_unavailable", "the JWKS endpoint failed recently");
    if (now >= entry.freshUntil && !entry.set.reloading) {
      try {
        await entry.set.reload();
      } catch (e) {
        entry.failedUntil = this.#options.now() + this.#options.cooldownMs;
        if (e instanceof ProxyError) throw e;
        throw new ProxyError("jwks_unavailable", "the JWKS endpoint could not be fetched");
      }
    }
    return entry.set;
  }

  /** Notes a failed fetch seen while verifying (jose refetched on an unknown kid and it failed). */
  markFailed(uri: string): void {
    const entry = this.#entries.get(uri);
    if (entry) entry.failedUntil = this.#options.now() + this.#options.cooldownMs;
  }

  #entry(uri: string): Entry {
    const existing = this.#entries.get(uri);
    if (existing) return existing;
    const o = this.#options;
    const created: Entry = { freshUntil: 0, failedUntil: 0, set: undefined as unknown as RemoteJWKSet };
    created.set = createRemoteJWKSet(new URL(uri), {
      timeoutDuration: o.timeoutMs,
      cooldownDuration: o.cooldownMs,
      cacheMaxAge: o.maxCacheMs,
      [customFetch]: async (url, init) => {
        const res = await o.fetch(url, init);
        const age = maxAgeMs(res.headers.get("cache-control"));
        const clamped = Math.min(o.maxCacheMs, Math.max(o.minCacheMs, age ?? o.maxCacheMs));
        const bounded = await boundedJwksResponse(res, o.maxBytes, o.maxKeys);
        if (res.ok) created.freshUntil = o.now() + clamped;
        return bounded;
      },
    });
    this.#entries.set(uri, created);
    return created;
  }
}

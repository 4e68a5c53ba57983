import { createRemoteJWKSet, customFetch, type RemoteJWKSet } from "jose";
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
  readonly #options: Required<Omit<JwksOptions, "fetch">> & { fetch: typeof fetch };

  constructor(options: JwksOptions = {}) {
    this.#options = {
      fetch: options.fetch ?? fetch,
      timeoutMs: options.timeoutMs ?? 3000,
      cooldownMs: options.cooldownMs ?? 5000,
      minCacheMs: options.minCacheMs ?? 5000,
      maxCacheMs: options.maxCacheMs ?? 600_000,
    };
  }

  /** A key resolver for jose's verify functions, fresh according to the endpoint's caching headers. */
  async resolver(uri: string): Promise<RemoteJWKSet> {
    if (!isAllowedJwksUri(uri)) throw new ProxyError("jwks_unavailable", "the registered jwks_uri is not https");
    const entry = this.#entry(uri);
    const now = Date.now();
    if (now < entry.failedUntil) throw new ProxyError("jwks_unavailable", "the JWKS endpoint failed recently");
    if (now >= entry.freshUntil && !entry.set.reloading) {
      try {
        await entry.set.reload();
      } catch {
        entry.failedUntil = Date.now() + this.#options.cooldownMs;
        throw new ProxyError("jwks_unavailable", "the JWKS endpoint could not be fetched");
      }
    }
    return entry.set;
  }

  /** Notes a failed fetch seen while verifying (jose refetched on an unknown kid and it failed). */
  markFailed(uri: string): void {
    const entry = this.#entries.get(uri);
    if (entry) entry.failedUntil = Date.now() + this.#options.cooldownMs;
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
        if (res.ok) created.freshUntil = Date.now() + clamped;
        return res;
      },
    });
    this.#entries.set(uri, created);
    return created;
  }
}

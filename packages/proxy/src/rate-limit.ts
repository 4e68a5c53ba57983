import { LruMap } from "./lru.ts";

/** An issuer's limit: `perSecond` requests per second on average, bursts of up to `burst` (default: ceil(perSecond)). */
export interface RateLimit {
  perSecond: number;
  burst?: number | null | undefined;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets per issuer, in this process's memory: the first line, for bursts. The limit stage sizes each
 * bucket to this instance's share of the project-wide limit (shared-limits.ts). Bounded: the least recently
 * used buckets are dropped (and start full again) past `maxIssuers`.
 */
export class RateLimiter {
  readonly #buckets: LruMap<string, Bucket>;
  readonly #now: () => number;

  constructor(options: { now?: () => number; maxIssuers?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#buckets = new LruMap(options.maxIssuers ?? 10_000);
  }

  /** Takes one token from the issuer's bucket: 0 when admitted, else the seconds until one is available. */
  take(issuer: string, limit: RateLimit): number {
    const burst = Math.max(1, limit.burst ?? Math.ceil(limit.perSecond));
    const now = this.#now();
    const b = this.#buckets.get(issuer) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * limit.perSecond);
    b.at = now;
    this.#buckets.set(issuer, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / limit.perSecond));
  }
}

// The verified-token cache: a writer that sends the same token again (a reused token, see the signer's
// `token()`) is let through without a second signature check and without a second signing. Safe because:
// - the key is the exact token string, and parseToken refuses non-canonical base64url, so one token has one
//   spelling and a token differing in any byte is another key (and gets the full verification);
// - an entry is used only while the issuer's registry record it was verified against is still the one the
//   registry cache hands out: when that record is refetched (every key-cache TTL) the entry is dropped, so
//   a deactivation is seen exactly as late as without this cache;
// - an entry ends at the earliest of the token's exp, the outbound token's exp minus a margin, the key-cache
//   TTL after verification, and the expires_at of any of the issuer's keys;
// - issuers that require a jti are never cached (each token is single-use there);
// - it is bounded: least recently used entries go first, by count and by an estimate of their memory.
import type { IssuerRecord, KeyRegistry } from "./registry.ts";
import type { TrustRecord, TrustRegistry } from "./trust-registry.ts";
import type { VerifiedToken } from "./verify.ts";

export interface TokenCacheOptions {
  /** The registry the tokens are verified against (the same cached one the handler uses). */
  registry: KeyRegistry;
  /** The trust registry URL issuers' tokens are verified against (the same cached one the handler uses). */
  trust?: TrustRegistry | undefined;
  /** The key-cache TTL in ms: no entry outlives it. */
  ttlMs: number;
  /** Most entries kept (default 10 000). */
  maxEntries?: number;
  /** Most memory kept, estimated from the strings held (default 16 MiB). */
  maxBytes?: number;
  /** How long before the outbound token's exp an entry stops being used, ms (default 10 000). */
  marginMs?: number;
  /** Clock in ms. */
  now?: () => number;
}

/** What a cache hit hands back: the verification result and the outbound token signed for it. */
export interface Admitted {
  verified: VerifiedToken;
  outbound: string;
}

interface Entry extends Admitted {
  record: IssuerRecord | TrustRecord;
  until: number;
  bytes: number;
}

/** Rough per-entry cost besides the two token strings: the Map slot, the entry and the verified claims. */
const ENTRY_OVERHEAD_BYTES = 512;

/** A bounded LRU from the exact inbound token to what verifying and re-signing it produced. */
export class VerifiedTokenCache {
  readonly #registry: KeyRegistry;
  readonly #trust: TrustRegistry | undefined;
  readonly #ttl: number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #margin: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  /** Creates an empty cache; see TokenCacheOptions for the bounds. */
  constructor(options: TokenCacheOptions) {
    this.#registry = options.registry;
    this.#trust = options.trust;
    this.#ttl = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#margin = options.marginMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Estimated memory held, bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The cached result for exactly this token, or undefined (then verify and `store`). */
  async lookup(token: string): Promise<Admitted | undefined> {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    if (entry.until <= this.#now()) {
      this.#delete(token, entry);
      return undefined;
    }
    // The registry cache answers from memory; a different record means it was refetched (TTL passed).
    let current: IssuerRecord | TrustRecord | null;
    try {
      current = await this.#current(entry.verified);
    } catch {
      current = null; // a registry outage: fall back to full verification, which reports it
    }
    if (current !== entry.record) {
      if (this.#entries.get(token) === entry) this.#delete(token, entry);
      return undefined;
    }
    // Most recently used last (unless it was evicted or replaced while the registry answered).
    if (this.#entries.get(token) === entry) {
      this.#entries.delete(token);
      this.#entries.set(token, entry);
    }
    return entry;
  }

  /**
   * Remembers a token that was just verified and re-signed. `outboundExpSeconds` is the outbound token's
   * exp. Does nothing for require_jti issuers or when the entry would not live past the margin.
   */
  async store(token: string, admitted: Admitted, outboundExpSeconds: number): Promise<void> {
    const { verified } = admitted;
    if (verified.policy.require_jti) return;
    const verifiedAt = this.#now();
    let record: IssuerRecord | TrustRecord | null;
    try {
      record = await this.#current(verified);
    } catch {
      return;
    }
    // Only the record the token was verified against (the registry may have been refetched meanwhile).
    if (!record || (verified.trust ? record !== verified.trust.record : (record as IssuerRecord).policy !== verified.policy)) return;
    let until = Math.min(verified.claims.exp * 1000, outboundExpSeconds * 1000 - this.#margin, verifiedAt + this.#ttl);
    for (const k of "keys" in record ? record.keys : []) {
      if (k.expires_at !== null) {
        const t = Date.parse(k.expires_at);
        if (t > verifiedAt) until = Math.min(until, t);
      }
    }
    if (!(until > this.#now())) return;
    const bytes = 2 * (token.length + admitted.outbound.length) + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.#maxBytes) return;
    const old = this.#entries.get(token);
    if (old) this.#delete(token, old);
    this.#entries.set(token, { ...admitted, record, until, bytes });
    this.#bytes += bytes;
    for (const [t, e] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#delete(t, e);
    }
  }

  /** The registry record a verified token depends on now: its writer's keys, or its URL issuer's policies. */
  #current(v: VerifiedToken): Promise<IssuerRecord | TrustRecord | null> {
    if (v.trust) return this.#trust ? this.#trust.lookup(v.trust.issuerUrl) : Promise.resolve(null);
    return this.#registry.lookup(v.issuer);
  }

  /** Drops every entry. */
  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #delete(token: string, entry: Entry): void {
    this.#entries.delete(token);
    this.#bytes -= entry.bytes;
  }
}

import type { JWK } from "jose";
import type { SupportedAlg } from "@fedjwt/signer";
import { ProxyError } from "./errors.ts";
import type { LimitSink, LimitWindow } from "./shared-limits.ts";
import { knownList, ttlLookup } from "./ttl-lookup.ts";
import { isRowRefusal, UsageRefusedError, type UsageSink } from "./usage.ts";

/** One key row as the gateway reads it (the `jwt_registry` view). */
export interface RegistryKey {
  issuer: string;
  kid: string | null;
  alg: SupportedAlg;
  public_key_pem: string | null;
  public_jwk: JWK | null;
  jwks_uri: string | null;
  /** Key and issuer both active, and the key within its not_before/expires_at window (computed in SQL). */
  usable: boolean;
  not_before: string | null;
  expires_at: string | null;
}

/** Per-issuer policy (the same on every key row of the issuer). */
export interface IssuerPolicy {
  db_role: string;
  /** The registry's read-time check that db_role is still a writer role (federation.is_writer_role). */
  db_role_valid: boolean;
  allowed_roles: string[];
  max_token_lifetime_seconds: number;
  require_jti: boolean;
  /** Requests per second this issuer may make, project-wide (instances share counts, see shared-limits.ts); null = no limit. */
  rate_limit_per_second?: number | null;
  /** The bucket's size (default: the rate rounded up). */
  rate_limit_burst?: number | null;
}

/** Everything the gateway knows about one issuer. */
export interface IssuerRecord {
  issuer: string;
  keys: RegistryKey[];
  policy: IssuerPolicy;
}

/** Where issuers and keys come from, and where one-time jtis are recorded. */
export interface KeyRegistry {
  /** The issuer's keys and policy, or null when it is not registered. */
  lookup(issuer: string): Promise<IssuerRecord | null>;
  /** Records (issuer, jti) until `expiresAt`; false when it was already recorded (a replay). */
  consumeJti(issuer: string, jti: string, expiresAt: Date): Promise<boolean>;
  /**
   * Every registered issuer name (one cheap read), so unknown issuers are answered from memory; null when
   * the list came back incomplete (PostgREST's max-rows), and then every issuer is looked up.
   */
  issuerNames?(): Promise<Set<string> | null>;
}

export interface PostgrestRegistryOptions {
  /** The project URL (`SUPABASE_URL`); the registry is read at `/rest/v1/jwt_registry`. */
  supabaseUrl: string;
  /** The secret or legacy service_role key. Sent as `apikey`, and as Bearer only when it is a JWT. */
  serviceKey: string;
  fetch?: typeof fetch;
  /** Per-request timeout (default 3000 ms). */
  timeoutMs?: number;
}

const COLUMNS =
  "issuer,kid,alg,public_key_pem,public_jwk,jwks_uri,usable,not_before,expires_at,db_role,db_role_valid,allowed_roles,max_token_lifetime_seconds,require_jti,rate_limit_per_second,rate_limit_burst";

/** True when a key is a JWT (legacy anon/service_role), false for sb_publishable_/sb_secret_ keys. */
export function isJwtKey(key: string): boolean {
  return key.split(".").length === 3 && key.startsWith("eyJ");
}

/** Headers that authenticate a server-side call to the project's Data API with `key`. */
export function apiKeyHeaders(key: string): Record<string, string> {
  return isJwtKey(key) ? { apikey: key, authorization: `Bearer ${key}` } : { apikey: key };
}

type Row = RegistryKey & IssuerPolicy;

function isRow(v: unknown): v is Row {
  const r = v as Row;
  return (
    !!r &&
    typeof r === "object" &&
    typeof r.issuer === "string" &&
    typeof r.alg === "string" &&
    typeof r.usable === "boolean" &&
    typeof r.db_role === "string" &&
    typeof r.db_role_valid === "boolean" &&
    Array.isArray(r.allowed_roles) &&
    typeof r.max_token_lifetime_seconds === "number" &&
    typeof r.require_jti === "boolean" &&
    (r.rate_limit_per_second == null || typeof r.rate_limit_per_second === "number") &&
    (r.rate_limit_burst == null || typeof r.rate_limit_burst === "number")
  );
}

/** A registry read through PostgREST: path under /rest/v1/ → parsed JSON; every failure is 503 registry_unavailable. */
export type RegistryCall = (path: string, init: RequestInit, onHeaders?: (h: Headers) => void) => Promise<unknown>;

/** Makes the one function every registry read goes through (the key registry's and the trust registry's). */
export function registryCall(options: PostgrestRegistryOptions): RegistryCall {
  const base = options.supabaseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 3000;
  return async (path, init, onHeaders) => {
    let res: Response;
    try {
      res = await doFetch(`${base}/rest/v1/${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      const timedOut = (e as Error)?.name === "TimeoutError" || (e as Error)?.name === "AbortError";
      throw new ProxyError("registry_unavailable", timedOut ? `no answer within ${timeoutMs} ms` : "connection failed");
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ProxyError("registry_unavailable", `the registry answered ${res.status}`);
    }
    onHeaders?.(res.headers);
    try {
      return await res.json();
    } catch {
      throw new ProxyError("registry_unavailable", "the registry answered with invalid JSON");
    }
  };
}

/** Reads the registry through PostgREST with the service key (no caching: see `cachedRegistry`). */
export function postgrestRegistry(options: PostgrestRegistryOptions): KeyRegistry {
  const auth = apiKeyHeaders(options.serviceKey);
  const call = registryCall(options);

  return {
    async lookup(issuer) {
      const body = await call(`jwt_registry?issuer=eq.${encodeURIComponent(issuer)}&select=${COLUMNS}`, {
        headers: { ...auth, accept: "application/json" },
      });
      if (!Array.isArray(body) || !body.every(isRow)) throw new ProxyError("registry_unavailable", "unexpected registry rows");
      const rows = body as Row[];
      if (rows.length === 0) return null;
      const { db_role, db_role_valid, allowed_roles, max_token_lifetime_seconds, require_jti } = rows[0]!;
      const policy: IssuerPolicy = { db_role, db_role_valid, allowed_roles, max_token_lifetime_seconds, require_jti };
      if (rows[0]!.rate_limit_per_second != null) {
        policy.rate_limit_per_second = rows[0]!.rate_limit_per_second;
        policy.rate_limit_burst = rows[0]!.rate_limit_burst ?? null;
      }
      return {
        issuer,
        policy,
        keys: rows.map(({ issuer, kid, alg, public_key_pem, public_jwk, jwks_uri, usable, not_before, expires_at }) => ({
          issuer,
          kid,
          alg,
          public_key_pem,
          public_jwk,
          jwks_uri,
          usable,
          not_before,
          expires_at,
        })),
      };
    },
    async consumeJti(issuer, jti, expiresAt) {
      const body = await call("rpc/consume_jwt_id", {
        method: "POST",
        headers: { ...auth, accept: "application/json", "content-type": "application/json" },
        body: JSON.stringify({ p_issuer: issuer, p_jti: jti, p_expires_at: expiresAt.toISOString() }),
      });
      if (typeof body !== "boolean") throw new ProxyError("registry_unavailable", "unexpected answer from consume_jwt_id");
      return body;
    },
    async issuerNames() {
      let total: number | undefined;
      const body = await call(
        "jwt_issuers?select=issuer",
        { headers: { ...auth, accept: "application/json", prefer: "count=exact" } },
        (h) => {
          const m = /\/(\d+)$/.exec(h.get("content-range") ?? "");
          total = m ? Number(m[1]) : undefined;
        },
      );
      if (!Array.isArray(body) || !body.every((r) => typeof (r as { issuer?: unknown })?.issuer === "string")) {
        throw new ProxyError("registry_unavailable", "unexpected registry rows");
      }
      // Without an exact total, or with fewer rows than it (db-max-rows cut the list), the list proves nothing.
      if (total === undefined || total !== body.length) return null;
      return new Set((body as { issuer: string }[]).map((r) => r.issuer));
    },
  };
}

/**
 * Writes usage batches with public.record_key_usage through PostgREST with the service key; rejects on any
 * failure: UsageRefusedError when the rows were refused (the recorder splits the batch), else a plain Error
 * (the recorder keeps the counts for the next write and logs it).
 */
export function postgrestUsageSink(options: PostgrestRegistryOptions): UsageSink {
  const base = options.supabaseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 3000;
  const auth = apiKeyHeaders(options.serviceKey);
  return async (rows) => {
    const res = await doFetch(`${base}/rest/v1/rpc/record_key_usage`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", prefer: "return=minimal" },
      body: JSON.stringify({ p_usage: rows }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    if (res.ok) return;
    // A 4xx about the rows (PostgREST answers 400 for a value Postgres refuses): the recorder splits the batch.
    if (isRowRefusal(res.status)) throw new UsageRefusedError(res.status);
    throw new Error(`record_key_usage answered ${res.status}`);
  };
}

/** Lookups per second, per instance, of names missing from the issuer list (see cachedRegistry). */
export const RECHECKS_PER_SECOND = 5;

/**
 * Reports an instance's counts of rate-limited writers with public.record_rate_windows through PostgREST with
 * the service key, and returns the project-wide windows (see shared-limits.ts); rejects on any failure.
 */
export function postgrestLimitSink(options: PostgrestRegistryOptions): LimitSink {
  const base = options.supabaseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 3000;
  const auth = apiKeyHeaders(options.serviceKey);
  return async (instance, rows) => {
    const res = await doFetch(`${base}/rest/v1/rpc/record_rate_windows`, {
      method: "POST",
      headers: { ...auth, accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ p_instance: instance, p_counts: rows }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`record_rate_windows answered ${res.status}`);
    }
    const body = (await res.json()) as unknown;
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new Error("unexpected answer from record_rate_windows");
    return body as Record<string, LimitWindow>;
  };
}

export interface CacheOptions {
  /** How long a lookup is reused: the bound on how late a deactivation is seen (default 5000 ms). */
  ttlMs?: number;
  /** How long "not registered" is remembered (default min(1000, ttlMs)). */
  negativeTtlMs?: number;
  /** Most issuers kept; the least recently used goes first (default 10,000). */
  maxEntries?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/**
 * Caches lookups per issuer for `ttlMs` (a bounded LRU), with one registry read in flight per issuer however
 * many requests wait on it (single flight), and a shorter cache for unknown issuers. When the registry can
 * list issuer names, that list (single flight; re-read after the TTL, or after the negative TTL on a miss)
 * answers unknown issuers from memory; a name it lacks is looked up on its own at most RECHECKS_PER_SECOND
 * times a second (all names together), so a new writer is seen at once and a flood of made-up issuers
 * costs at most that many reads and evicts nothing. Failures are not cached.
 */
export function cachedRegistry(inner: KeyRegistry, options: CacheOptions = {}): KeyRegistry & { clear(): void } {
  const ttl = options.ttlMs ?? 5000;
  const negativeTtl = options.negativeTtlMs ?? Math.min(1000, ttl);
  const now = options.now ?? Date.now;
  const issuers = ttlLookup<IssuerRecord>((issuer) => inner.lookup(issuer), {
    ttl,
    negativeTtl,
    maxEntries: options.maxEntries ?? 10_000,
    now,
  });
  const names = inner.issuerNames ? knownList(() => inner.issuerNames!(), now) : null;

  // Names the list does not have are looked up on their own (a writer registered since the list was read),
  // at most RECHECKS_PER_SECOND for all names together: a flood of made-up names costs that many reads a second.
  let recheckTokens = RECHECKS_PER_SECOND;
  let recheckAt = now();
  function mayRecheck(): boolean {
    const t = now();
    recheckTokens = Math.min(RECHECKS_PER_SECOND, recheckTokens + (Math.max(0, t - recheckAt) / 1000) * RECHECKS_PER_SECOND);
    recheckAt = t;
    if (recheckTokens < 1) return false;
    recheckTokens -= 1;
    return true;
  }

  /** Looks up a name the list lacks (single flight); only a found record is cached, so made-up names evict nothing. */
  function recheck(issuer: string, known: Set<string>): Promise<IssuerRecord | null> {
    const pending = issuers.inflight.get(issuer);
    if (pending) return pending;
    if (!mayRecheck()) return Promise.resolve(null);
    return issuers.track(
      issuer,
      () => inner.lookup(issuer),
      (value) => {
        if (value) {
          issuers.remember(issuer, value);
          known.add(issuer);
        }
      },
    );
  }

  return {
    async lookup(issuer) {
      if (names) {
        // A miss re-reads a list older than the negative TTL; a name still missing is rechecked on its own
        // (within the budget above), so a writer can write right after `fedjwt register`.
        let known = await names.read(ttl);
        if (known && !known.has(issuer)) known = await names.read(negativeTtl);
        if (known && !known.has(issuer)) return recheck(issuer, known);
      }
      return issuers.get(issuer);
    },
    consumeJti: (issuer, jti, expiresAt) => inner.consumeJti(issuer, jti, expiresAt),
    clear: () => {
      issuers.clear();
      names?.clear();
    },
  };
}

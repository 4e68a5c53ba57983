import { ProxyError } from "./errors.ts";
import { compilePolicies, type CompiledPolicies } from "./policy-match.ts";
import { isProviderName, MAX_URL_ISSUER_LIFETIME_SECONDS, type TokenKind, URL_ISSUER_ALGS, type UrlIssuerAlg } from "./providers.ts";
import { apiKeyHeaders, type IssuerPolicy, type PostgrestRegistryOptions, registryCall } from "./registry.ts";
import { knownList, ttlLookup } from "./ttl-lookup.ts";

/** A URL issuer as the registry describes it (`trust_policies_for(...).issuer`). */
export interface UrlIssuer {
  issuer_url: string;
  /** Null: the keys come from OIDC discovery at `<issuer_url>/.well-known/openid-configuration`. */
  jwks_uri: string | null;
  token_kind: TokenKind;
  algs: UrlIssuerAlg[];
  max_lifetime_seconds: number;
  clock_tolerance_seconds: number;
}

/** One enabled trust policy of a URL issuer, with its writer's policy (`trust_policies_for(...).policies[]`). */
export interface TrustPolicyRow {
  id: string;
  writer: string;
  provider: string;
  conditions: Record<string, string>;
  allow_self_hosted: boolean;
  allow_events: string[];
  writer_policy: IssuerPolicy;
}

/** What `public.trust_policies_for(issuer_url)` returns for a URL issuer with at least one enabled policy. */
export interface TrustDocument {
  issuer: UrlIssuer;
  policies: TrustPolicyRow[];
}

/** A URL issuer with its policies compiled for matching: what the gateway keeps in memory. */
export interface TrustRecord {
  issuer: UrlIssuer;
  policies: CompiledPolicies;
}

/** Where URL issuers and their trust policies come from. */
export interface TrustRegistry {
  /** The issuer and its enabled policies, or null when no active URL issuer with this exact URL has one. */
  lookup(issuerUrl: string): Promise<TrustRecord | null>;
  /**
   * Every active URL issuer's URL (one cheap read), so tokens naming made-up issuer URLs are answered from
   * memory; null when the list came back incomplete, and then every URL is looked up.
   */
  issuerUrls?(): Promise<Set<string> | null>;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

function isWriterPolicy(v: unknown): v is IssuerPolicy {
  const p = v as IssuerPolicy;
  return (
    !!p &&
    typeof p === "object" &&
    isString(p.db_role) &&
    typeof p.db_role_valid === "boolean" &&
    isStringArray(p.allowed_roles) &&
    typeof p.max_token_lifetime_seconds === "number" &&
    typeof p.require_jti === "boolean" &&
    (p.rate_limit_per_second == null || typeof p.rate_limit_per_second === "number") &&
    (p.rate_limit_burst == null || typeof p.rate_limit_burst === "number")
  );
}

/** Checks the shape of a trust_policies_for answer; throws registry_unavailable when it is not one. */
export function parseTrustDocument(body: unknown, issuerUrl: string): TrustDocument | null {
  if (body === null) return null;
  const bad = (what: string) => new ProxyError("registry_unavailable", `unexpected trust_policies_for answer: ${what}`);
  const d = body as TrustDocument;
  if (!d || typeof d !== "object" || !d.issuer || typeof d.issuer !== "object" || !Array.isArray(d.policies)) throw bad("shape");
  const i = d.issuer;
  if (i.issuer_url !== issuerUrl) throw bad("another issuer");
  if (!(i.jwks_uri === null || isString(i.jwks_uri))) throw bad("jwks_uri");
  if (i.token_kind !== "id_token" && i.token_kind !== "access_token") throw bad("token_kind");
  if (!isStringArray(i.algs) || !i.algs.every((a) => (URL_ISSUER_ALGS as readonly string[]).includes(a))) throw bad("algs");
  if (!Number.isInteger(i.max_lifetime_seconds) || i.max_lifetime_seconds < 1 || i.max_lifetime_seconds > MAX_URL_ISSUER_LIFETIME_SECONDS) {
    throw bad("max_lifetime_seconds");
  }
  if (!Number.isInteger(i.clock_tolerance_seconds) || i.clock_tolerance_seconds < 0 || i.clock_tolerance_seconds > 300) {
    throw bad("clock_tolerance_seconds");
  }
  for (const p of d.policies) {
    if (
      !p ||
      typeof p !== "object" ||
      !isString(p.id) ||
      !isString(p.writer) ||
      !isString(p.provider) ||
      !isProviderName(p.provider) ||
      !p.conditions ||
      typeof p.conditions !== "object" ||
      Array.isArray(p.conditions) ||
      !Object.values(p.conditions).every(isString) ||
      typeof p.allow_self_hosted !== "boolean" ||
      !isStringArray(p.allow_events) ||
      !isWriterPolicy(p.writer_policy)
    ) {
      throw bad("policy");
    }
  }
  return d;
}

/** Reads `public.trust_policies_for` (and the URL issuer list) through PostgREST with the service key. */
export function postgrestTrustRegistry(options: PostgrestRegistryOptions): TrustRegistry {
  const auth = apiKeyHeaders(options.serviceKey);
  const call = registryCall(options);

  return {
    async lookup(issuerUrl) {
      const body = await call("rpc/trust_policies_for", {
        method: "POST",
        headers: { ...auth, accept: "application/json", "content-type": "application/json" },
        body: JSON.stringify({ p_issuer_url: issuerUrl }),
      });
      const doc = parseTrustDocument(body, issuerUrl);
      if (!doc || doc.policies.length === 0) return null;
      return { issuer: doc.issuer, policies: compilePolicies(doc.issuer, doc.policies) };
    },
    async issuerUrls() {
      let total: number | undefined;
      const body = await call(
        "jwt_url_issuers?select=issuer_url&is_active=is.true",
        { headers: { ...auth, accept: "application/json", prefer: "count=exact" } },
        (h) => {
          const m = /\/(\d+)$/.exec(h.get("content-range") ?? "");
          total = m ? Number(m[1]) : undefined;
        },
      );
      if (!Array.isArray(body) || !body.every((r) => isString((r as { issuer_url?: unknown })?.issuer_url))) {
        throw new ProxyError("registry_unavailable", "unexpected URL issuer rows");
      }
      if (total === undefined || total !== body.length) return null;
      return new Set((body as { issuer_url: string }[]).map((r) => r.issuer_url));
    },
  };
}

/**
 * Caches trust lookups per issuer URL like `cachedRegistry` caches keys: `ttlMs` for a found issuer (how late a
 * policy change is seen), `negativeTtlMs` for "no enabled policy", one read in flight per URL, and the URL
 * list (when the registry can list) so made-up issuer URLs cost no per-URL read. Failures are not cached.
 */
export function cachedTrustRegistry(
  inner: TrustRegistry,
  options: { ttlMs?: number; negativeTtlMs?: number; maxEntries?: number; now?: () => number } = {},
): TrustRegistry & { clear(): void } {
  const ttl = options.ttlMs ?? 5000;
  const negativeTtl = options.negativeTtlMs ?? Math.min(1000, ttl);
  const now = options.now ?? Date.now;
  const records = ttlLookup<TrustRecord>((url) => inner.lookup(url), { ttl, negativeTtl, maxEntries: options.maxEntries ?? 10_000, now });
  const urls = inner.issuerUrls ? knownList(() => inner.issuerUrls!(), now) : null;
  return {
    async lookup(issuerUrl) {
      if (urls) {
        let known = await urls.read(ttl);
        if (known && !known.has(issuerUrl)) known = await urls.read(negativeTtl);
        if (known && !known.has(issuerUrl)) return null;
      }
      return records.get(issuerUrl);
    },
    clear: () => {
      records.clear();
      urls?.clear();
    },
  };
}

/**
 * The token contract shared by writers (signer) and the gateway (proxy), described for users in the
 * token contract in docs/token-contract.md. One place, so the two sides cannot drift apart.
 */

/** Algorithms a writer may sign with. Never `none`, never HS*. */
export const SUPPORTED_ALGS = ["ES256", "RS256", "EdDSA"] as const;
export type SupportedAlg = (typeof SUPPORTED_ALGS)[number];

/** Registered issuer names: lower-case, 1–63 characters, safe in file names, URLs and SQL literals. */
export const ISSUER_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Application role names a writer may request (`roles`), checked by the gateway against `allowed_roles`. */
export const APP_ROLE_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,62}$/;

/** Default token lifetime in seconds: mint a fresh token per request. */
export const DEFAULT_LIFETIME_SECONDS = 60;
/** Lifetimes above this need an explicit opt-in (`allowLongLifetime`); it is also the registry's default max. */
export const DEFAULT_MAX_LIFETIME_SECONDS = 300;
/** No registry row may allow more than this, so no token may ask for more. */
export const ABSOLUTE_MAX_LIFETIME_SECONDS = 3600;

/** Claims set by the signer from its own options; writing them through `claims` is refused. */
export const REGISTERED_CLAIMS = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"] as const;

/**
 * Claims a writer may not set through the signer's `claims` option. The gateway refuses a token carrying
 * any of them (401 `claim_reserved`) except `role` and `roles`: those are how a token requests application
 * roles (`roles: string[]`, or one in `role` for compatibility), which the signer sets from its `roles`
 * option. Every other claim a writer signs reaches PostgREST nested in `writer_claims`, never at the top level.
 */
export const GATEWAY_RESERVED_CLAIMS = [
  "role",
  "roles",
  "app_roles",
  "writer_sub",
  "writer_kid",
  "app_metadata",
  "user_metadata",
  "is_anonymous",
  "aal",
  "amr",
  "session_id",
  "email",
  "phone",
  "ref",
  "writer_claims",
  "writer_iss",
  "fedjwt_gateway",
] as const;

/** Largest JSON size, in bytes, of the claims a writer adds beyond the contract's (`writer_claims`). */
export const MAX_WRITER_CLAIMS_BYTES = 2048;

/**
 * True for issuer names that could pass for a platform issuer: Supabase's legacy anon/service keys carry
 * `iss` `supabase` (hosted) or `supabase-demo` (local). No writer may be called anything like them.
 */
export function isPlatformIssuerName(issuer: string): boolean {
  return issuer.includes("supabase");
}

/** Type guard for the algorithm allow-list. */
export function isSupportedAlg(alg: unknown): alg is SupportedAlg {
  return typeof alg === "string" && (SUPPORTED_ALGS as readonly string[]).includes(alg);
}

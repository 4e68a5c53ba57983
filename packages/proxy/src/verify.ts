import { compactVerify, errors as joseErrors } from "jose";
import {
  APP_ROLE_PATTERN,
  GATEWAY_RESERVED_CLAIMS,
  importPublicKey,
  isPlatformIssuerName,
  ISSUER_PATTERN,
  type SupportedAlg,
} from "@fedjwt/signer";
import { isWriterDbRoleName } from "./db-role.ts";
import { JwtVerificationError, ProxyError } from "./errors.ts";
import { JwksPool } from "./jwks.ts";
import { consumeJti } from "./jti.ts";
import { LruMap } from "./lru.ts";
import { isPlainText } from "./text.ts";
import type { IssuerPolicy, IssuerRecord, KeyRegistry, RegistryKey } from "./registry.ts";
import { DiscoveryCache as DiscoveryCacheImpl, type DiscoveryCache } from "./discovery.ts";
import type { UrlIssuerAlg } from "./providers.ts";
import { parseToken } from "./token.ts";
import type { TrustRegistry } from "./trust-registry.ts";
import { type TrustAdmission, verifyUrlIssuerToken } from "./url-verify.ts";
import { type Ctx, mapJoseError, numericClaim } from "./verify-shared.ts";

export interface VerifyOptions {
  /** Where issuers and keys come from (wrap with cachedRegistry). */
  registry: KeyRegistry;
  /** This target's audience: the token's `aud` must be, or contain, it. */
  audience: string;
  /** Allowed clock skew in seconds for exp, nbf and iat (default 30). */
  clockToleranceSeconds?: number;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
  /** Fetches JWKS for issuers registered by jwks_uri. */
  jwks?: JwksPool;
  /** URL issuers and their trust policies (workload identity); without it a URL `iss` is unknown_issuer. */
  trust?: TrustRegistry;
  /** Reads URL issuers' OIDC discovery documents. */
  discovery?: DiscoveryCache;
}

/** A token that passed every check. Only these claims may be acted upon. */
export interface VerifiedToken {
  issuer: string;
  /** The kid of the key that verified it (the registered key's when the token sent none; the JWKS key's for jwks_uri issuers). */
  kid: string | undefined;
  alg: SupportedAlg | UrlIssuerAlg;
  claims: Record<string, unknown> & { iss: string; sub: string; exp: number; iat: number };
  /** Application roles the writer asked for, all within the issuer's allowed_roles. */
  roles: string[];
  policy: IssuerPolicy;
  /**
   * Set when a URL issuer's token was admitted by a trust policy: then `issuer` is the policy's writer, `kid`
   * is `policy:<id>`, `policy` the writer's, `roles` the writer's allowed roles.
   */
  trust?: TrustAdmission;
}

/** Reserved claims a writer token may not carry (`role`/`roles` are how roles are requested). */
const FORBIDDEN_CLAIMS = GATEWAY_RESERVED_CLAIMS.filter((c) => c !== "role" && c !== "roles");

const keyCache = new LruMap<string, Promise<CryptoKey>>(10_000);
const decoder = new TextDecoder();

function importRowKey(row: RegistryKey): Promise<CryptoKey> {
  const material = row.public_key_pem ?? JSON.stringify(row.public_jwk);
  const id = `${row.alg}\n${material}`;
  let p = keyCache.get(id);
  if (!p) {
    p = importPublicKey(row.public_key_pem ?? row.public_jwk!, row.alg).then((k) => k.key);
    p.catch(() => keyCache.delete(id));
    keyCache.set(id, p);
  }
  return p;
}

/**
 * True when the key is within its window. Fails closed: a bound that does not parse to a finite time
 * ('infinity', '-infinity', garbage) makes the key unusable, whichever side it is on.
 */
export function inWindow(row: Pick<RegistryKey, "not_before" | "expires_at">, nowMs: number): boolean {
  if (row.not_before !== null) {
    const t = Date.parse(row.not_before);
    if (!Number.isFinite(t) || t > nowMs) return false;
  }
  if (row.expires_at !== null) {
    const t = Date.parse(row.expires_at);
    if (!Number.isFinite(t) || t <= nowMs) return false;
  }
  return true;
}

type KeyChoice = { kind: "static"; row: RegistryKey } | { kind: "jwks"; row: RegistryKey };

function chooseKey(record: IssuerRecord, kid: string | undefined, nowMs: number, ctx: Ctx): KeyChoice {
  const fail = (reason: "unknown_kid" | "key_inactive" | "kid_missing", details: string | null = null) => {
    throw new JwtVerificationError(reason, details, ctx);
  };
  const jwksRow = record.keys.find((k) => k.jwks_uri !== null);
  const statics = record.keys.filter((k) => k.jwks_uri === null);
  let row: RegistryKey | undefined;
  if (kid !== undefined) {
    row = statics.find((k) => k.kid === kid);
    if (!row) {
      if (jwksRow) row = jwksRow;
      else return fail("unknown_kid");
    }
  } else {
    const live = statics.filter((k) => k.usable && inWindow(k, nowMs));
    if (live.length === 1 && !jwksRow) row = live[0]!;
    else if (live.length === 0 && statics.length === 1 && !jwksRow) row = statics[0]!;
    else if (statics.length === 0 && jwksRow) row = jwksRow;
    else return fail("kid_missing");
  }
  if (!row.usable) return fail("key_inactive", "the key or its issuer is deactivated");
  if (!inWindow(row, nowMs)) return fail("key_inactive", "the key is outside its not_before/expires_at window");
  return row.jwks_uri !== null ? { kind: "jwks", row } : { kind: "static", row };
}

/**
 * The WebCrypto parameters of a JWS alg (RFC 7518), for a key imported for that alg; the key's own algorithm
 * must be the one the alg names (WebCrypto refuses any other, which is a bad signature here).
 */
function verifyAlgorithm(alg: SupportedAlg, key: CryptoKey): AlgorithmIdentifier | EcdsaParams {
  switch (alg) {
    case "ES256":
      return { name: "ECDSA", hash: "SHA-256" };
    case "RS256":
      return { name: "RSASSA-PKCS1-v1_5" };
    case "EdDSA":
      return { name: key.algorithm.name === "Ed25519" ? "Ed25519" : "EdDSA" };
  }
}

function requestedRoles(claims: Record<string, unknown>, ctx: Ctx): string[] {
  const out = new Set<string>();
  if (claims.roles !== undefined) {
    if (!Array.isArray(claims.roles) || claims.roles.length > 64)
      throw new JwtVerificationError("claim_invalid", "roles must be an array of role names", ctx);
    for (const r of claims.roles) {
      if (typeof r !== "string" || !APP_ROLE_PATTERN.test(r))
        throw new JwtVerificationError("claim_invalid", "roles must be an array of role names", ctx);
      out.add(r);
    }
  }
  // Compatibility with writers that send one role in `role`: it is a requested application role, never a
  // database role, held to the same name rule and the same allowed_roles check as each of `roles`.
  if (claims.role !== undefined) {
    if (typeof claims.role !== "string" || !APP_ROLE_PATTERN.test(claims.role))
      throw new JwtVerificationError("claim_invalid", "role must be a role name", ctx);
    out.add(claims.role);
  }
  return [...out];
}

/**
 * Verifies a writer's token and consumes its one-time jti when the issuer requires one: `verifyToken`, then
 * `consumeJti`. Throws JwtVerificationError (or ProxyError for a registry or JWKS outage).
 */
export async function verifyMultiIssuerJwt(token: string, options: VerifyOptions): Promise<VerifiedToken> {
  const verified = await verifyToken(token, options);
  await consumeJti(verified, options.registry, options.clockToleranceSeconds ?? 30);
  return verified;
}

/**
 * Verifies a writer's token against the registry: alg, kid, issuer and key state, signature, audience,
 * exp/nbf/iat with clock tolerance, the issuer's max lifetime, required claims (a jti where the issuer
 * requires one), requested roles. Writes nothing: the jti is consumed by `consumeJti`, after the rate limit.
 * Throws JwtVerificationError (or ProxyError for a registry or JWKS outage); never returns an unverified claim.
 */
export async function verifyToken(token: string, options: VerifyOptions): Promise<VerifiedToken> {
  const nowMs = (options.now ?? Date.now)();
  const now = Math.floor(nowMs / 1000);
  const tolerance = options.clockToleranceSeconds ?? 30;
  const parsed = parseToken(token);
  const { header, payload, signingInput, signature } = parsed;
  if (parsed.urlIssuer) {
    if (!options.trust) {
      throw new JwtVerificationError("unknown_issuer", "no URL issuers are served here", {
        issuer: payload.iss as string,
        kid: header.kid,
      });
    }
    return verifyUrlIssuerToken(token, parsed, {
      trust: options.trust,
      discovery: options.discovery ?? defaultDiscovery(),
      jwks: options.jwks ?? defaultPool(),
      audience: options.audience,
      nowMs,
    });
  }

  // Only iss and kid are read before the signature is checked, and only to find the key.
  const iss = payload.iss;
  if (iss === undefined) throw new JwtVerificationError("claim_missing", "the iss claim is required", { kid: header.kid });
  if (typeof iss !== "string" || !ISSUER_PATTERN.test(iss) || isPlatformIssuerName(iss)) {
    throw new JwtVerificationError("unknown_issuer", "iss is not a registered issuer name", { kid: header.kid });
  }
  const ctx = { issuer: iss, kid: header.kid };
  // `policy:<id>` names a trust policy's tokens in usage and writer_kid: no writer's key may take it (a JWKS
  // writer chooses its own kids), or its key holders could pass for the policy's workloads in the audit.
  if (header.kid?.startsWith("policy:")) {
    throw new JwtVerificationError("token_malformed", "a kid starting with policy: names a trust policy, not a key", ctx);
  }

  const record = await options.registry.lookup(iss);
  if (!record) throw new JwtVerificationError("unknown_issuer", null, ctx);
  const choice = chooseKey(record, header.kid, nowMs, ctx);
  if (header.alg !== choice.row.alg) {
    throw new JwtVerificationError("alg_not_allowed", "the token's alg is not the key's registered alg", ctx);
  }

  let claims: Record<string, unknown>;
  // Without a kid in the header, the registered key that was chosen: usage and writer_kid name the key used.
  let verifiedKid = header.kid ?? choice.row.kid ?? undefined;
  try {
    if (choice.kind === "static") {
      const key = await importRowKey(choice.row).catch(() => {
        throw new ProxyError("registry_unavailable", "a registered key could not be imported");
      });
      // The token was split, decoded and checked once (parseToken: its alg is the key's, no crit or b64): the
      // signature is checked over the bytes as sent, and the payload already decoded is what it covers.
      const valid = await crypto.subtle.verify(verifyAlgorithm(choice.row.alg, key), key, signature, signingInput).catch(() => false);
      if (!valid) throw new JwtVerificationError("bad_signature", null, ctx);
      claims = payload;
    } else {
      const pool = options.jwks ?? defaultPool();
      const set = await pool.resolver(choice.row.jwks_uri!);
      try {
        const result = await compactVerify(token, set, { algorithms: [choice.row.alg] });
        claims = JSON.parse(decoder.decode(result.payload)) as Record<string, unknown>;
        verifiedKid = result.protectedHeader.kid;
      } catch (e) {
        if (e instanceof joseErrors.JWKSTimeout || e instanceof TypeError || e instanceof ProxyError) pool.markFailed(choice.row.jwks_uri!);
        throw e;
      }
    }
  } catch (e) {
    mapJoseError(e, ctx);
  }

  const exp = numericClaim(claims, "exp", true, ctx)!;
  const iat = numericClaim(claims, "iat", true, ctx)!;
  const nbf = numericClaim(claims, "nbf", false, ctx);
  if (claims.sub === undefined) throw new JwtVerificationError("claim_missing", "the sub claim is required", ctx);
  if (typeof claims.sub !== "string" || claims.sub === "" || claims.sub.length > 256) {
    throw new JwtVerificationError("claim_invalid", "sub must be a non-empty string", ctx);
  }
  if (!isPlainText(claims.sub)) throw new JwtVerificationError("token_malformed", "sub has control characters or invalid UTF-16", ctx);
  if (claims.aud === undefined) throw new JwtVerificationError("claim_missing", "the aud claim is required", ctx);
  const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!auds.includes(options.audience)) throw new JwtVerificationError("audience_mismatch", null, ctx);

  if (exp <= now - tolerance) throw new JwtVerificationError("token_expired", null, ctx);
  if (nbf !== undefined && nbf > now + tolerance) throw new JwtVerificationError("token_not_yet_valid", "nbf is in the future", ctx);
  if (iat > now + tolerance) throw new JwtVerificationError("token_not_yet_valid", "iat is in the future", ctx);
  if (exp <= iat) throw new JwtVerificationError("claim_invalid", "exp must be after iat", ctx);
  if (exp - iat > record.policy.max_token_lifetime_seconds) {
    throw new JwtVerificationError("lifetime_too_long", "exp - iat is over the issuer's maximum", ctx);
  }

  const reserved = FORBIDDEN_CLAIMS.find((c) => c in claims);
  if (reserved) throw new JwtVerificationError("claim_reserved", `the ${reserved} claim is reserved`, ctx);

  const jti = claims.jti;
  if (jti !== undefined && (typeof jti !== "string" || jti === "" || jti.length > 200)) {
    throw new JwtVerificationError("claim_invalid", "jti must be a short string", ctx);
  }
  if (jti !== undefined && !isPlainText(jti))
    throw new JwtVerificationError("token_malformed", "jti has control characters or invalid UTF-16", ctx);
  const roles = requestedRoles(claims, ctx);
  const denied = roles.filter((r) => !record.policy.allowed_roles.includes(r));
  if (denied.length > 0) {
    throw new JwtVerificationError("role_not_allowed", `not allowed for this issuer: ${denied.slice(0, 5).join(", ")}`, ctx);
  }
  // Re-checked here, whatever the registry says: a writer never runs as a Supabase Auth user or the platform.
  if (!record.policy.db_role_valid || !isWriterDbRoleName(record.policy.db_role)) {
    throw new JwtVerificationError("db_role_refused", null, ctx);
  }
  if (record.policy.require_jti && jti === undefined) throw new JwtVerificationError("claim_missing", "this issuer requires a jti", ctx);

  return {
    issuer: iss,
    kid: verifiedKid,
    alg: choice.row.alg,
    claims: claims as VerifiedToken["claims"],
    roles,
    policy: record.policy,
  };
}

let sharedDiscovery: DiscoveryCache | undefined;
function defaultDiscovery(): DiscoveryCache {
  return (sharedDiscovery ??= new DiscoveryCacheImpl());
}

let sharedPool: JwksPool | undefined;
function defaultPool(): JwksPool {
  return (sharedPool ??= new JwksPool());
}

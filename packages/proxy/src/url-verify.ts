// Workload identity tokens: a token whose `iss` is a URL issuer (GitHub Actions, a cluster, an OAuth server…)
// is verified against that issuer's keys (JWKS URL or OIDC discovery) and settings, then admitted by exactly
// one of the issuer's trust policies, as the policy's writer.
import { compactVerify, errors as joseErrors } from "jose";
import { isWriterDbRoleName } from "./db-role.ts";
import type { DiscoveryCache } from "./discovery.ts";
import { JwtVerificationError, ProxyError } from "./errors.ts";
import type { JwksPool } from "./jwks.ts";
import { matchPolicies, policySubject, policyWriterClaims } from "./policy-match.ts";
import { MAX_URL_ISSUER_LIFETIME_SECONDS, type UrlIssuerAlg } from "./providers.ts";
import { isPlainText } from "./text.ts";
import type { ParsedToken } from "./token.ts";
import type { TrustRecord, TrustRegistry } from "./trust-registry.ts";
import { type Ctx, mapJoseError, numericClaim } from "./verify-shared.ts";
import type { VerifiedToken } from "./verify.ts";

export interface UrlVerifyOptions {
  trust: TrustRegistry;
  discovery: DiscoveryCache;
  jwks: JwksPool;
  audience: string;
  nowMs: number;
}

/** What the gateway adds to a verified token admitted by a trust policy. */
export interface TrustAdmission {
  issuerUrl: string;
  policyId: string;
  provider: string;
  /** The outbound `sub` (UUIDv5 of the issuer URL and the policy's pinned IDs). */
  subject: string;
  /** The template's allow-listed claims of this token, with the policy id and issuer URL. */
  writerClaims: Record<string, unknown>;
  /** The registry record the token was verified against (the token cache checks it is still current). */
  record: TrustRecord;
}

const decoder = new TextDecoder();
const AT_JWT = new Set(["AT+JWT", "APPLICATION/AT+JWT"]);

/**
 * Verifies a URL issuer's token: the issuer has an enabled policy (else unknown_issuer), alg among the issuer's
 * algs, typ against its token kind, signature with its JWKS (discovered when no JWKS URL is registered), aud
 * exactly this project's audience (one value), exp/nbf/iat with the issuer's clock tolerance, lifetime within
 * its max; then the policies: exactly one must admit the token. Returns it as the policy's writer.
 */
export async function verifyUrlIssuerToken(token: string, parsed: ParsedToken, o: UrlVerifyOptions): Promise<VerifiedToken> {
  const { header, payload } = parsed;
  const iss = payload.iss as string;
  const ctx: Ctx = { issuer: iss, kid: header.kid };
  const record = await o.trust.lookup(iss);
  if (!record) throw new JwtVerificationError("unknown_issuer", null, ctx);
  const u = record.issuer;
  if (!(u.algs as string[]).includes(header.alg)) {
    // The caller learns the refusal, not the issuer's registered algs (as for writers' keys).
    throw new JwtVerificationError("alg_not_allowed", "the token's alg is not one this issuer is registered with", ctx);
  }
  const accessTokenTyp = typeof header.typ === "string" && AT_JWT.has(header.typ.toUpperCase());
  if (accessTokenTyp && u.token_kind !== "access_token") {
    throw new JwtVerificationError("token_kind_mismatch", "an at+jwt access token; this issuer is registered for ID tokens", ctx);
  }

  let verifiedPayload: Uint8Array;
  const jwksUri = u.jwks_uri ?? (await o.discovery.jwksUri(u.issuer_url));
  try {
    const set = await o.jwks.resolver(jwksUri);
    try {
      const result = await compactVerify(token, set, { algorithms: u.algs });
      verifiedPayload = result.payload;
    } catch (e) {
      if (e instanceof joseErrors.JWKSTimeout || e instanceof TypeError || e instanceof ProxyError) o.jwks.markFailed(jwksUri);
      throw e;
    }
  } catch (e) {
    mapJoseError(e, ctx);
  }

  const claims = JSON.parse(decoder.decode(verifiedPayload)) as Record<string, unknown>;
  const now = Math.floor(o.nowMs / 1000);
  const tolerance = u.clock_tolerance_seconds;
  const exp = numericClaim(claims, "exp", true, ctx)!;
  const iat = numericClaim(claims, "iat", true, ctx)!;
  const nbf = numericClaim(claims, "nbf", false, ctx);
  if (claims.sub === undefined) throw new JwtVerificationError("claim_missing", "the sub claim is required", ctx);
  if (typeof claims.sub !== "string" || claims.sub === "" || claims.sub.length > 512) {
    throw new JwtVerificationError("claim_invalid", "sub must be a non-empty string", ctx);
  }
  if (!isPlainText(claims.sub)) throw new JwtVerificationError("token_malformed", "sub has control characters or invalid UTF-16", ctx);
  if (claims.aud === undefined) throw new JwtVerificationError("claim_missing", "the aud claim is required", ctx);
  const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!auds.includes(o.audience)) throw new JwtVerificationError("audience_mismatch", null, ctx);
  // A token for several audiences can be replayed by any of them to the others.
  if (auds.length !== 1) throw new JwtVerificationError("multiple_audiences", null, ctx);

  if (exp <= now - tolerance) throw new JwtVerificationError("token_expired", null, ctx);
  if (nbf !== undefined && nbf > now + tolerance) throw new JwtVerificationError("token_not_yet_valid", "nbf is in the future", ctx);
  if (iat > now + tolerance) throw new JwtVerificationError("token_not_yet_valid", "iat is in the future", ctx);
  if (exp <= iat) throw new JwtVerificationError("claim_invalid", "exp must be after iat", ctx);
  if (exp - iat > Math.min(u.max_lifetime_seconds, MAX_URL_ISSUER_LIFETIME_SECONDS)) {
    throw new JwtVerificationError("lifetime_too_long", "exp - iat is over the issuer's maximum", ctx);
  }
  const jti = claims.jti;
  if (jti !== undefined && (typeof jti !== "string" || jti === "" || jti.length > 200)) {
    throw new JwtVerificationError("claim_invalid", "jti must be a short string", ctx);
  }
  if (jti !== undefined && !isPlainText(jti as string)) {
    throw new JwtVerificationError("token_malformed", "jti has control characters or invalid UTF-16", ctx);
  }

  const match = matchPolicies(record.policies, claims);
  if (!match.ok) {
    const err = new JwtVerificationError(match.reason, null, ctx);
    err.logDetails = match.log;
    throw err;
  }
  const p = match.policy;
  const writerCtx = { issuer: p.writer, kid: `policy:${p.id}` };
  const wp = p.writerPolicy;
  if (!wp.db_role_valid || !isWriterDbRoleName(wp.db_role)) throw new JwtVerificationError("db_role_refused", null, writerCtx);
  // Consumed by the replay stage (jti.ts), after the rate limit, as for writers with keys.
  if (wp.require_jti && jti === undefined) throw new JwtVerificationError("claim_missing", "this writer requires a jti", writerCtx);
  return {
    issuer: p.writer,
    kid: `policy:${p.id}`,
    alg: header.alg as UrlIssuerAlg,
    claims: claims as VerifiedToken["claims"],
    // A workload cannot ask for roles (its token is the provider's): the policy admits it with the writer's.
    roles: [...wp.allowed_roles],
    policy: wp,
    trust: {
      issuerUrl: u.issuer_url,
      policyId: p.id,
      provider: p.provider,
      subject: await policySubject(p),
      writerClaims: policyWriterClaims(p, claims, u.issuer_url),
      record,
    },
  };
}

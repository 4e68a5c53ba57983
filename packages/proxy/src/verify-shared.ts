// Checks shared by the two kinds of inbound token (writer tokens and URL issuers' workload tokens).
import { errors as joseErrors } from "jose";
import { JwtVerificationError, ProxyError } from "./errors.ts";

/** Unverified issuer and kid, carried into errors for the audit log. */
export type Ctx = { issuer: string; kid?: string | undefined };

/** Turns a jose verification failure into the gateway's reason (a ProxyError passes through). */
export function mapJoseError(e: unknown, ctx: Ctx): never {
  if (e instanceof ProxyError) throw e;
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) throw new JwtVerificationError("bad_signature", null, ctx);
  if (e instanceof joseErrors.JWKSNoMatchingKey) throw new JwtVerificationError("unknown_kid", "no key in the issuer's JWKS matches", ctx);
  if (e instanceof joseErrors.JWKSMultipleMatchingKeys)
    throw new JwtVerificationError("kid_missing", "several JWKS keys match; set kid", ctx);
  if (e instanceof joseErrors.JOSEAlgNotAllowed) throw new JwtVerificationError("alg_not_allowed", null, ctx);
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || e instanceof TypeError) {
    throw new ProxyError("jwks_unavailable", "the JWKS endpoint could not be fetched");
  }
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JOSENotSupported) {
    throw new JwtVerificationError("token_malformed", null, ctx);
  }
  throw new JwtVerificationError("bad_signature", null, ctx);
}

/** A numeric claim (exp, iat, nbf): absent is claim_missing when required; another type is claim_invalid. */
export function numericClaim(claims: Record<string, unknown>, name: string, required: boolean, ctx: Ctx): number | undefined {
  const v = claims[name];
  if (v === undefined) {
    if (required) throw new JwtVerificationError("claim_missing", `the ${name} claim is required`, ctx);
    return undefined;
  }
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new JwtVerificationError("claim_invalid", `${name} must be a number of seconds`, ctx);
  return v;
}

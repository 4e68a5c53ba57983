import { base64url, importJWK, type JWK, type JWTPayload } from "jose";
import { GATEWAY_RESERVED_CLAIMS, MAX_WRITER_CLAIMS_BYTES, REGISTERED_CLAIMS } from "@fedjwt/signer";
import { JwtVerificationError } from "./errors.ts";
import { LruMap } from "./lru.ts";
import { isPlainJson } from "./text.ts";
import { uuidV5 } from "./uuid.ts";
import type { VerifiedToken } from "./verify.ts";

/** Longest outbound token lifetime in seconds. */
export const MAX_OUTBOUND_LIFETIME_SECONDS = 60;

/** The key the gateway signs PostgREST tokens with: the legacy JWT secret, or an imported signing key. */
export type SigningKeyConfig = { hs256Secret: string } | { privateJwk: JWK };

/** Signs the outbound claims. */
export interface OutboundSigner {
  sign(claims: JWTPayload): Promise<string>;
}

/** Why a signing key cannot be used (for the misconfiguration log line; never contains the key). */
export class SigningKeyError extends Error {
  override readonly name = "SigningKeyError";
}

/** Claims never copied into `writer_claims`: the contract's own (the gateway re-states what it keeps). */
const NOT_WRITER_CLAIMS = new Set<string>([...REGISTERED_CLAIMS, ...GATEWAY_RESERVED_CLAIMS]);

/** The claim only the gateway mints (and refuses in inbound tokens): federation.* helpers require it. */
export const GATEWAY_MARKER_CLAIM = "fedjwt_gateway";

const encoder = new TextEncoder();

/**
 * A compact JWS signer over a key imported once (RFC 7515 §7.1): the header segment is encoded once, each
 * call encodes the claims as JSON and signs `<header>.<claims>` with WebCrypto (HMAC, or ECDSA/RSA, whose
 * WebCrypto signatures are already in JWS form). The claims are the gateway's own (outboundClaims).
 */
function compactSigner(header: Record<string, string>, key: CryptoKey, params: AlgorithmIdentifier | EcdsaParams): OutboundSigner {
  const head = base64url.encode(JSON.stringify(header));
  return {
    async sign(claims) {
      const input = `${head}.${base64url.encode(JSON.stringify(claims))}`;
      const signature = new Uint8Array(await crypto.subtle.sign(params, key, encoder.encode(input)));
      return `${input}.${base64url.encode(signature)}`;
    },
  };
}

/** (iss, sub) → UUIDv5, remembered (bounded LRU): writers reuse a handful of subjects. */
const subjectCache = new LruMap<string, string>(10_000);
async function mappedSubject(issuer: string, sub: string): Promise<string> {
  const name = `${issuer}\n${sub}`;
  let uuid = subjectCache.get(name);
  if (uuid === undefined) {
    uuid = await uuidV5(name);
    subjectCache.set(name, uuid);
  }
  return uuid;
}

/**
 * The claims PostgREST sees. Never the writer's claims verbatim: `role` is the registry's db_role (a writer
 * role), the requested roles travel as `app_roles`, `sub` is always the UUIDv5 of (iss, sub) — UUID-shaped
 * or not — with the original in `writer_sub`, so no writer can choose an auth.uid(); every other claim the
 * writer signed is nested in `writer_claims` (at most MAX_WRITER_CLAIMS_BYTES of JSON, else claim_invalid);
 * `fedjwt_gateway` marks the token as the gateway's. Lifetime ≤ 60 s and ≤ what the writer's token had left.
 */
export async function outboundClaims(v: VerifiedToken, nowMs: number): Promise<JWTPayload> {
  const now = Math.floor(nowMs / 1000);
  if (v.trust) return trustOutboundClaims(v, v.trust, now);
  // fromEntries defines own properties, so a claim named "__proto__" is kept (and counted), not swallowed.
  const own = Object.entries(v.claims).filter(([name]) => !NOT_WRITER_CLAIMS.has(name));
  const writerClaims: Record<string, unknown> = Object.fromEntries(own);
  const count = own.length;
  if (count > 0 && !isPlainJson(writerClaims)) {
    throw new JwtVerificationError("token_malformed", "a claim has control characters or invalid UTF-16", { issuer: v.issuer, kid: v.kid });
  }
  if (count > 0 && encoder.encode(JSON.stringify(writerClaims)).byteLength > MAX_WRITER_CLAIMS_BYTES) {
    throw new JwtVerificationError("claim_invalid", `the writer's own claims are over ${MAX_WRITER_CLAIMS_BYTES} bytes of JSON`, {
      issuer: v.issuer,
      kid: v.kid,
    });
  }
  // A token accepted within the clock tolerance may have exp <= now: give it one second rather than none.
  const exp = Math.max(now + 1, Math.min(now + MAX_OUTBOUND_LIFETIME_SECONDS, v.claims.exp));
  return {
    iss: v.issuer,
    sub: await mappedSubject(v.issuer, v.claims.sub),
    writer_sub: v.claims.sub,
    ...(v.kid !== undefined ? { writer_kid: v.kid } : {}),
    role: v.policy.db_role,
    aud: "authenticated",
    app_roles: v.roles,
    [GATEWAY_MARKER_CLAIM]: 1,
    ...(count > 0 ? { writer_claims: writerClaims } : {}),
    iat: now,
    exp,
  };
}

/**
 * The claims for a token a trust policy admitted: `iss` the writer's name, `role` its db_role, `sub` the
 * policy's subject (UUIDv5 of the issuer URL and the pinned IDs, so renames keep it), the provider's `sub` in
 * `writer_sub`, `writer_kid` `policy:<id>`, and in `writer_claims` only the template's allow-listed claims
 * with the policy id and issuer URL. Nothing else from the provider's token.
 */
function trustOutboundClaims(v: VerifiedToken, trust: NonNullable<VerifiedToken["trust"]>, now: number): JWTPayload {
  if (!isPlainJson(trust.writerClaims)) {
    throw new JwtVerificationError("token_malformed", "a claim has control characters or invalid UTF-16", { issuer: v.issuer, kid: v.kid });
  }
  if (encoder.encode(JSON.stringify(trust.writerClaims)).byteLength > MAX_WRITER_CLAIMS_BYTES) {
    throw new JwtVerificationError("claim_invalid", `the allow-listed claims are over ${MAX_WRITER_CLAIMS_BYTES} bytes of JSON`, {
      issuer: v.issuer,
      kid: v.kid,
    });
  }
  const exp = Math.max(now + 1, Math.min(now + MAX_OUTBOUND_LIFETIME_SECONDS, v.claims.exp));
  return {
    iss: v.issuer,
    sub: trust.subject,
    writer_sub: v.claims.sub,
    writer_kid: v.kid,
    role: v.policy.db_role,
    aud: "authenticated",
    app_roles: v.roles,
    [GATEWAY_MARKER_CLAIM]: 1,
    writer_claims: trust.writerClaims,
    iat: now,
    exp,
  };
}

/** Checks and imports the signing key once. Throws SigningKeyError when it is missing or weak. */
export async function createOutboundSigner(config: SigningKeyConfig | undefined): Promise<OutboundSigner> {
  if (!config) throw new SigningKeyError("no signing key: set FEDJWT_LEGACY_JWT_SECRET or FEDJWT_SIGNING_JWK");
  if ("hs256Secret" in config) {
    const secret = new TextEncoder().encode(config.hs256Secret);
    if (secret.byteLength < 32) throw new SigningKeyError(`the JWT secret is ${secret.byteLength} bytes; at least 32 are required`);
    // Imported once, not on every sign.
    const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return compactSigner({ alg: "HS256", typ: "JWT" }, key, "HMAC");
  }
  const jwk = config.privateJwk;
  const alg = jwk.kty === "EC" && jwk.crv === "P-256" ? "ES256" : jwk.kty === "RSA" ? "RS256" : undefined;
  if (!alg) throw new SigningKeyError("the signing JWK must be an ES256 (P-256) or RS256 key");
  if (typeof jwk.d !== "string") throw new SigningKeyError("the signing JWK has no private part");
  if (typeof jwk.kid !== "string" || jwk.kid === "") throw new SigningKeyError("the signing JWK needs the kid Supabase gave it");
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new SigningKeyError(`the signing JWK says alg ${jwk.alg} but is a ${alg} key`);
  // `supabase gen signing-key` prints key_ops ["sign","verify"], use "sig" and ext true: WebCrypto refuses a
  // private key with "verify" usage, and the gateway only signs. Those members are dropped, never trusted.
  const { key_ops: _ops, use: _use, ext: _ext, ...material } = jwk;
  if (jwk.use !== undefined && jwk.use !== "sig")
    throw new SigningKeyError(`the signing JWK says use ${jwk.use}; a signing key has use sig`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes("sign"))) {
    throw new SigningKeyError("the signing JWK's key_ops do not include sign");
  }
  let key: CryptoKey;
  try {
    key = (await importJWK({ ...material, ext: false }, alg)) as CryptoKey;
  } catch {
    throw new SigningKeyError("the signing JWK could not be imported");
  }
  const kid = jwk.kid;
  return compactSigner({ alg, kid, typ: "JWT" }, key, alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : "RSASSA-PKCS1-v1_5");
}

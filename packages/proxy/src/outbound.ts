import { importJWK, SignJWT, type JWK, type JWTPayload } from "jose";
import { GATEWAY_RESERVED_CLAIMS, REGISTERED_CLAIMS } from "@fedjwt/signer";
import { isUuid, uuidV5 } from "./uuid.ts";
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

const DROPPED = new Set<string>([...REGISTERED_CLAIMS, ...GATEWAY_RESERVED_CLAIMS, "writer_iss"]);

/** (iss, sub) → UUIDv5, remembered: writers reuse a handful of subjects, and the hash is per request otherwise. */
const subjectCache = new Map<string, string>();
async function mappedSubject(issuer: string, sub: string): Promise<string> {
  const name = `${issuer}\n${sub}`;
  let uuid = subjectCache.get(name);
  if (uuid === undefined) {
    uuid = await uuidV5(name);
    if (subjectCache.size >= 10_000) subjectCache.clear();
    subjectCache.set(name, uuid);
  }
  return uuid;
}

/**
 * The claims PostgREST sees. Never the writer's claims verbatim: `role` is the registry's db_role, the
 * writer's requested roles travel as `app_roles`, reserved claims are dropped, a non-UUID `sub` becomes a
 * UUIDv5 of (iss, sub) with the original kept in `writer_sub`, and the lifetime is at most 60 s and at most
 * what the writer's token had left.
 */
export async function outboundClaims(v: VerifiedToken, nowMs: number): Promise<JWTPayload> {
  const now = Math.floor(nowMs / 1000);
  const custom: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(v.claims)) if (!DROPPED.has(name)) custom[name] = value;
  const mapped = !isUuid(v.claims.sub);
  // A token accepted within the clock tolerance may have exp <= now: give it one second rather than none.
  const exp = Math.max(now + 1, Math.min(now + MAX_OUTBOUND_LIFETIME_SECONDS, v.claims.exp));
  return {
    ...custom,
    iss: v.issuer,
    sub: mapped ? await mappedSubject(v.issuer, v.claims.sub) : v.claims.sub.toLowerCase(),
    ...(mapped ? { writer_sub: v.claims.sub } : {}),
    ...(v.kid !== undefined ? { writer_kid: v.kid } : {}),
    role: v.policy.db_role,
    aud: "authenticated",
    app_roles: v.roles,
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
    // Imported once: given raw bytes, jose would import an HMAC key on every sign.
    const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return { sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key) };
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
  if (jwk.use !== undefined && jwk.use !== "sig") throw new SigningKeyError(`the signing JWK says use ${jwk.use}; a signing key has use sig`);
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
  return { sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg, kid, typ: "JWT" }).sign(key) };
}

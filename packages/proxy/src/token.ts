import { base64url } from "jose";
import { ISSUER_PATTERN, isSupportedAlg, type SupportedAlg } from "@fedjwt/signer";
import { JwtVerificationError } from "./errors.ts";
import { URL_ISSUER_ALGS, type UrlIssuerAlg } from "./providers.ts";
import { isPlainText } from "./text.ts";
import { isUrlIssuerShape } from "./url-issuer.ts";

/** Longest token accepted (bytes of the compact form). Writer tokens are a few hundred bytes. */
export const MAX_TOKEN_LENGTH = 8192;

/** A compact JWS split and decoded, not yet verified: nothing in it may be trusted but its shape. */
export interface ParsedToken {
  header: { alg: SupportedAlg | UrlIssuerAlg; kid?: string; typ?: string; [k: string]: unknown };
  payload: Record<string, unknown>;
  /** True when `iss` has the shape of a URL issuer (a workload identity token), false for a writer name. */
  urlIssuer: boolean;
  /** What the signature covers: the ASCII bytes of `<header>.<payload>` as sent. */
  signingInput: Uint8Array<ArrayBuffer>;
  /** The signature segment, decoded. */
  signature: Uint8Array<ArrayBuffer>;
}

const isUrlIssuerAlg = (alg: unknown): alg is UrlIssuerAlg => (URL_ISSUER_ALGS as readonly unknown[]).includes(alg);
/** `typ` values a URL issuer's token may carry: ID tokens (JWT) and RFC 9068 access tokens (at+jwt). */
const URL_ISSUER_TYPS = new Set(["JWT", "AT+JWT", "APPLICATION/AT+JWT"]);

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

function decodeJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new JwtVerificationError("token_malformed", `the ${what} is not base64url-encoded JSON`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new JwtVerificationError("token_malformed", `the ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The payload's iss, if the segment decodes to a JSON object with one; undefined otherwise. */
function peekIss(segment: string): unknown {
  try {
    return decodeJsonObject(decodeSegment(segment, "payload"), "payload").iss;
  } catch {
    return undefined;
  }
}

/**
 * Whether a segment of the base64url alphabet (checked before) is the one spelling of its bytes: no length
 * that leaves 6 spare bits, and the unused low bits of the last character zero. The same answer as
 * encode(decode(segment)) === segment, without decoding.
 */
function isCanonical(segment: string): boolean {
  const rest = segment.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = ALPHABET.indexOf(segment[segment.length - 1]!);
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/** Decodes a segment of the base64url alphabet; a failure is a malformed token. */
function decodeSegment(segment: string, what: string): Uint8Array<ArrayBuffer> {
  try {
    return base64url.decode(segment) as Uint8Array<ArrayBuffer>;
  } catch {
    throw new JwtVerificationError("token_malformed", `the ${what} is not base64url${what === "signature" ? "" : "-encoded JSON"}`);
  }
}

/** Extracts the bearer token from an Authorization header value. */
export function bearerToken(authorization: string | null): string {
  if (!authorization) throw new JwtVerificationError("token_missing");
  const m = /^Bearer +([^\s]+) *$/i.exec(authorization);
  if (!m) throw new JwtVerificationError("token_malformed", "the Authorization header is not `Bearer <token>`");
  return m[1]!;
}

/**
 * Splits and decodes a compact JWS, refusing anything but three base64url segments with a JSON header
 * whose `alg` is on the allow-list (never `none`, never HS*; ES384 and PS256 only for URL issuers) and whose
 * `typ` is absent or `JWT` (URL issuers: also `at+jwt`, judged against the issuer's token kind later). No
 * `crit`, no JWE, no embedded keys.
 */
export function parseToken(token: string): ParsedToken {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new JwtVerificationError("token_malformed", `the token is longer than ${MAX_TOKEN_LENGTH} bytes`);
  }
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtVerificationError("token_malformed", `expected 3 segments, got ${parts.length}`);
  if (!SEGMENT.test(parts[0]!)) throw new JwtVerificationError("token_malformed", "the header is empty or not base64url");
  const header = decodeJsonObject(decodeSegment(parts[0]!, "header"), "header");
  // The algorithm is judged first, so an unsigned `alg: none` token is named for what it is.
  if (!isSupportedAlg(header.alg) && !isUrlIssuerAlg(header.alg)) {
    // An HS* token here is almost always the project's own: Supabase's gateway puts the anon JWT in
    // Authorization when a caller sends only the publishable key, and Auth sessions used to be HS256.
    const own =
      typeof header.alg === "string" && /^HS/i.test(header.alg)
        ? " (a Supabase API key or user session, not a writer token: send the writer's token as Bearer)"
        : "";
    throw new JwtVerificationError("alg_not_allowed", `alg ${JSON.stringify(header.alg ?? null)} is not allowed${own}`);
  }
  // ES384 and PS256 only from URL issuers: judged here, before the segments, as every other alg is.
  if (!isSupportedAlg(header.alg) && !isUrlIssuerShape(peekIss(parts[1]!))) {
    throw new JwtVerificationError("alg_not_allowed", `alg ${header.alg} is accepted only from URL issuers (workload identities)`);
  }
  if (!SEGMENT.test(parts[1]!) || !SEGMENT.test(parts[2]!)) {
    throw new JwtVerificationError("token_malformed", "a segment is empty or not base64url");
  }
  // One token, one spelling: the unused low bits of a segment's last character must be zero. Otherwise
  // several strings decode to the same signature, and anything keyed on the token string can be dodged.
  if (!parts.every(isCanonical)) throw new JwtVerificationError("token_malformed", "a segment is not canonical base64url");
  const payload = decodeJsonObject(decodeSegment(parts[1]!, "payload"), "payload");
  const urlIssuer = isUrlIssuerShape(payload.iss);
  // Logged with a refusal only when it has the shape of an issuer name: an unverified iss of any other shape
  // (a log line's worth of text, say) never reaches the logs.
  const claimed = typeof payload.iss === "string" && (ISSUER_PATTERN.test(payload.iss) || urlIssuer) ? payload.iss : undefined;
  if (header.kid !== undefined && (typeof header.kid !== "string" || header.kid === "" || header.kid.length > 200)) {
    throw new JwtVerificationError("token_malformed", "the kid header is not a short string", { issuer: claimed });
  }
  // The kid is counted in SQL (usage) and logged: no control characters, no lone surrogates.
  if (header.kid !== undefined && !isPlainText(header.kid as string)) {
    throw new JwtVerificationError("token_malformed", "the kid header has control characters or invalid UTF-16", { issuer: claimed });
  }
  const kid = header.kid as string | undefined;
  // Explicit typing (RFC 8725 §3.11): a JWT of another kind (`at+jwt`, `dpop+jwt`, …) is not a writer token.
  // `typ` is a media type, so compared case-insensitively (RFC 7515 §4.1.9).
  if (urlIssuer) {
    if (header.typ !== undefined && (typeof header.typ !== "string" || !URL_ISSUER_TYPS.has(header.typ.toUpperCase()))) {
      throw new JwtVerificationError("typ_not_allowed", "typ must be absent, JWT or at+jwt", { issuer: claimed, kid });
    }
  } else if (header.typ !== undefined && (typeof header.typ !== "string" || header.typ.toUpperCase() !== "JWT")) {
    throw new JwtVerificationError("typ_not_allowed", "typ must be absent or JWT", { issuer: claimed, kid });
  }
  for (const forbidden of ["crit", "jku", "x5u", "jwk", "x5c", "enc", "zip", "b64"]) {
    if (forbidden in header) {
      throw new JwtVerificationError("token_malformed", `the ${forbidden} header is not accepted`, { issuer: claimed, kid });
    }
  }
  return {
    header: header as ParsedToken["header"],
    payload,
    urlIssuer,
    signingInput: encoder.encode(token.slice(0, parts[0]!.length + 1 + parts[1]!.length)),
    signature: decodeSegment(parts[2]!, "signature"),
  };
}

import { SignJWT, type JWTPayload } from "jose";
import {
  ABSOLUTE_MAX_LIFETIME_SECONDS,
  APP_ROLE_PATTERN,
  DEFAULT_LIFETIME_SECONDS,
  DEFAULT_MAX_LIFETIME_SECONDS,
  GATEWAY_RESERVED_CLAIMS,
  ISSUER_PATTERN,
  isPlatformIssuerName,
  MAX_WRITER_CLAIMS_BYTES,
  REGISTERED_CLAIMS,
  type SupportedAlg,
} from "./contract.ts";
import { SignerError } from "./errors.ts";
import { importPrivateKey, thumbprint, type ImportedKey, type PrivateKeyInput } from "./keys.ts";
import { parseLifetime } from "./lifetime.ts";

/** What every token carries; fixed when a signer is created. */
export interface SignerOptions {
  /** PKCS#8 PEM, private JWK (object or JSON text) or CryptoKey. */
  privateKey: PrivateKeyInput;
  /** Registered issuer name (`iss`), e.g. "orders-service". */
  issuer: string;
  /** The target's audience (`aud`), as configured on the gateway. */
  audience: string;
  /** Key id for the header; defaults to the JWK's own `kid` (as `fedjwt register` records it), else the RFC 7638 thumbprint. */
  kid?: string;
  /** Checked against the key; inferred from it when omitted. */
  alg?: SupportedAlg;
  /** Default lifetime: seconds or "60s"/"5m"; default 60 s. */
  expiresIn?: number | string;
  /** Allows lifetimes over 300 s (never over 3600 s). The gateway still enforces the issuer's own max. */
  allowLongLifetime?: boolean;
  /**
   * `token()` hands out the same token until this fraction of its lifetime has passed, then mints anew
   * (default 0.5: a 60 s token is reused for 30 s). 0 makes `token()` mint every time, like `sign()`.
   */
  reuseFraction?: number;
  /** The issuer is registered with require_jti (every token single-use): `token()` never reuses. */
  requireJti?: boolean;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
}

/** What may change per token. */
export interface MintOptions {
  /** `sub`; defaults to the issuer name. */
  subject?: string;
  /** Application roles requested; the gateway checks them against the issuer's `allowed_roles`. */
  roles?: readonly string[];
  /** Extra claims. Registered claims and gateway-reserved claims are refused. */
  claims?: Record<string, unknown>;
  /** Overrides the signer's lifetime for this token. */
  expiresIn?: number | string;
}

export type SignMultiIssuerJwtOptions = SignerOptions & MintOptions;

/** A private key imported once: `sign()` mints a fresh token, `token()` reuses one while it is young. */
export interface Signer {
  readonly issuer: string;
  readonly audience: string;
  readonly kid: string;
  readonly alg: SupportedAlg;
  /** Mints one fresh token (new iat, exp and jti) on every call. */
  sign(options?: MintOptions): Promise<string>;
  /**
   * A token for these options, reused until `reuseFraction` of its lifetime has passed (only for calls with
   * equal options; never with `requireJti`). For per-request callbacks such as supabase-js `accessToken`:
   * the gateway then verifies it once and serves the repeats from its verified-token cache.
   */
  token(options?: MintOptions): Promise<string>;
}

/** Distinct option sets whose token `token()` remembers at once. */
const MAX_REUSED_TOKENS = 32;

const RESERVED = new Set<string>([...REGISTERED_CLAIMS, ...GATEWAY_RESERVED_CLAIMS]);

function checkIssuer(issuer: unknown): string {
  if (issuer === undefined || issuer === null || issuer === "") {
    throw new SignerError("issuer_missing", "issuer is required");
  }
  if (typeof issuer !== "string" || !ISSUER_PATTERN.test(issuer)) {
    throw new SignerError("issuer_invalid", "issuer must match ^[a-z0-9][a-z0-9._-]{0,62}$");
  }
  if (isPlatformIssuerName(issuer)) {
    throw new SignerError("issuer_invalid", 'issuer names containing "supabase" are reserved for the platform\'s own tokens');
  }
  return issuer;
}

function checkAudience(audience: unknown): string {
  if (typeof audience !== "string" || audience.trim() === "") {
    throw new SignerError("audience_missing", "audience is required (the target's configured audience)");
  }
  return audience;
}

function checkLifetime(value: number | string, allowLong: boolean): number {
  const seconds = parseLifetime(value);
  if (seconds > ABSOLUTE_MAX_LIFETIME_SECONDS) {
    throw new SignerError("lifetime_too_long", `lifetime ${seconds}s is over the absolute maximum of ${ABSOLUTE_MAX_LIFETIME_SECONDS}s`);
  }
  if (seconds > DEFAULT_MAX_LIFETIME_SECONDS && !allowLong) {
    throw new SignerError(
      "lifetime_too_long",
      `lifetime ${seconds}s is over ${DEFAULT_MAX_LIFETIME_SECONDS}s; pass allowLongLifetime if the issuer's max allows it`,
    );
  }
  return seconds;
}

function checkRoles(roles: unknown): string[] | undefined {
  if (roles === undefined) return undefined;
  if (!Array.isArray(roles)) throw new SignerError("roles_invalid", "roles must be an array of role names");
  const seen = new Set<string>();
  for (const r of roles) {
    if (typeof r !== "string" || !APP_ROLE_PATTERN.test(r)) {
      throw new SignerError("roles_invalid", `role ${JSON.stringify(r)} is not a valid application role name`);
    }
    if (seen.has(r)) throw new SignerError("roles_invalid", `role "${r}" is listed twice`);
    seen.add(r);
  }
  return [...seen];
}

function checkClaims(claims: unknown): Record<string, unknown> {
  if (claims === undefined) return {};
  if (!claims || typeof claims !== "object" || Array.isArray(claims)) {
    throw new SignerError("claims_invalid", "claims must be a plain object");
  }
  for (const name of Object.keys(claims)) {
    if (RESERVED.has(name)) {
      const hint = (REGISTERED_CLAIMS as readonly string[]).includes(name)
        ? "set it through the signer's own option"
        : name === "role" || name === "roles"
          ? "request application roles with the roles option"
          : "the gateway sets it";
      throw new SignerError("claim_reserved", `claim "${name}" is reserved: ${hint}`);
    }
  }
  if (new TextEncoder().encode(JSON.stringify(claims)).byteLength > MAX_WRITER_CLAIMS_BYTES) {
    throw new SignerError("claims_invalid", `custom claims are over ${MAX_WRITER_CLAIMS_BYTES} bytes of JSON (the gateway's limit)`);
  }
  return claims as Record<string, unknown>;
}

function randomJti(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Imports the key once and returns a signer: `sign()` mints a fresh short-lived token, `token()` reuses a young one. */
export async function createSigner(options: SignerOptions): Promise<Signer> {
  const issuer = checkIssuer(options.issuer);
  const audience = checkAudience(options.audience);
  const allowLong = options.allowLongLifetime === true;
  const defaultLifetime = checkLifetime(options.expiresIn ?? DEFAULT_LIFETIME_SECONDS, allowLong);
  const imported: ImportedKey = await importPrivateKey(options.privateKey, options.alg);
  let kid = options.kid;
  if (kid !== undefined && (typeof kid !== "string" || kid === "")) {
    throw new SignerError("kid_required", "kid must be a non-empty string");
  }
  if (kid === undefined) kid = imported.kid;
  if (kid === undefined) {
    if (!imported.publicJwk) {
      throw new SignerError("kid_required", "the CryptoKey is not extractable, so pass kid explicitly");
    }
    kid = await thumbprint(imported.publicJwk);
  }
  const now = options.now ?? Date.now;
  const headerKid = kid;
  const reuseFraction = options.reuseFraction ?? 0.5;
  if (typeof reuseFraction !== "number" || !(reuseFraction >= 0 && reuseFraction < 1)) {
    throw new SignerError("reuse_invalid", "reuseFraction must be a number from 0 (never reuse) to below 1");
  }
  const reuse = reuseFraction > 0 && options.requireJti !== true;
  /** Options (as JSON) → the token minted for them and until when it is handed out again (ms). */
  const reused = new Map<string, { token: Promise<string>; until: number }>();

  const signer: Signer = {
    issuer,
    audience,
    kid: headerKid,
    alg: imported.alg,
    async token(mint: MintOptions = {}): Promise<string> {
      if (!reuse) return signer.sign(mint);
      const key = JSON.stringify([mint.subject, mint.roles, mint.claims, mint.expiresIn]);
      const hit = reused.get(key);
      const t = now();
      if (hit && hit.until > t) return await hit.token;
      if (hit) reused.delete(key);
      const lifetime = mint.expiresIn === undefined ? defaultLifetime : checkLifetime(mint.expiresIn, allowLong);
      // From the whole second iat will carry, so the reuse window is never longer than the fraction.
      const entry = { token: signer.sign(mint), until: Math.floor(t / 1000) * 1000 + lifetime * 1000 * reuseFraction };
      entry.token.catch(() => reused.get(key) === entry && reused.delete(key));
      if (reused.size >= MAX_REUSED_TOKENS) reused.delete(reused.keys().next().value!);
      reused.set(key, entry);
      return await entry.token;
    },
    async sign(mint: MintOptions = {}): Promise<string> {
      const lifetime = mint.expiresIn === undefined ? defaultLifetime : checkLifetime(mint.expiresIn, allowLong);
      const subject = mint.subject ?? issuer;
      if (typeof subject !== "string" || subject === "" || subject.length > 256) {
        throw new SignerError("subject_invalid", "subject must be a non-empty string of at most 256 characters");
      }
      const roles = checkRoles(mint.roles);
      const payload: JWTPayload = { ...checkClaims(mint.claims) };
      if (roles) payload.roles = roles;
      const iat = Math.floor(now() / 1000);
      return await new SignJWT(payload)
        .setProtectedHeader({ alg: imported.alg, kid: headerKid, typ: "JWT" })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(subject)
        .setIssuedAt(iat)
        .setExpirationTime(iat + lifetime)
        .setJti(randomJti())
        .sign(imported.key);
    },
  };
  return signer;
}

/** Mints one token. Imports the key on every call: prefer `createSigner` in a long-running service. */
export async function signMultiIssuerJwt(options: SignMultiIssuerJwtOptions): Promise<string> {
  const { subject, roles, claims, expiresIn, ...signerOptions } = options;
  const signer = await createSigner(expiresIn === undefined ? signerOptions : { ...signerOptions, expiresIn });
  const mint: MintOptions = {};
  if (subject !== undefined) mint.subject = subject;
  if (roles !== undefined) mint.roles = roles;
  if (claims !== undefined) mint.claims = claims;
  return signer.sign(mint);
}

// The token contract's test vectors (docs/token-vectors.json): loading, registry rows for the issuers they
// assume, and each recipe turned into the request a writer would send. Used in-process (vectors.test.ts)
// and against the real function under Deno (deno-function.test.ts).
import { readFileSync } from "node:fs";
import { base64url, type JWK } from "jose";
import type { IssuerPolicy, RegistryKey } from "../src/registry.ts";
import type { TrustDocument, UrlIssuer } from "../src/trust-registry.ts";

/** One test key: its alg, kid (RFC 7638 SHA-256 thumbprint) and both halves as JWKs. */
export interface VectorKey {
  alg: "ES256" | "RS256" | "EdDSA";
  kid: string;
  public_jwk: JWK;
  private_jwk: JWK;
}

/** An issuer registration the vectors assume. */
export interface VectorIssuer {
  issuer: string;
  keys: string[];
  db_role: string;
  allowed_roles: string[];
  max_token_lifetime_seconds: number;
  require_jti: boolean;
  is_active: boolean;
}

export type Expect = { verdict: "accept" } | { verdict: "reject"; status: number; code: string };

/** A recipe: what to sign (or send), and the gateway's expected verdict. */
export interface Vector {
  name: string;
  key?: string;
  signing_key?: string;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  times?: Record<string, number>;
  unsigned?: boolean;
  hmac_secret?: string;
  raw_token?: string;
  no_token?: boolean;
  send_twice?: boolean;
  expect: Expect;
}

/** A complete token with a fixed clock (EdDSA: the same header and claims always sign to the same string). */
export interface FixedVector {
  name: string;
  key: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  token: string;
  expect: Expect;
}

/** A workload identity issuer the vectors assume, with its trust policies. */
export interface VectorUrlIssuer extends Omit<UrlIssuer, "jwks_uri"> {
  keys: string[];
  policies: Array<{
    id: string;
    writer: string;
    provider: string;
    conditions: Record<string, string>;
    allow_self_hosted: boolean;
    allow_events: string[];
  }>;
}

export interface Vectors {
  audience: string;
  keys: Record<string, VectorKey>;
  issuers: VectorIssuer[];
  url_issuers: VectorUrlIssuer[];
  vectors: Vector[];
  fixed: { now: number; tokens: FixedVector[] };
}

/** Where the vectors live: beside the contract they test, where users find them. */
export const VECTORS_PATH = new URL("../../../docs/token-vectors.json", import.meta.url);

/** The vectors file, parsed. */
export function loadVectors(): Vectors {
  return JSON.parse(readFileSync(VECTORS_PATH, "utf8")) as Vectors;
}

/** The rows /rest/v1/jwt_registry would return for the vectors' issuers (one per issuer key). */
export function vectorRows(v: Vectors): Array<RegistryKey & IssuerPolicy> {
  return v.issuers.flatMap((i) =>
    i.keys.map((name) => {
      const key = v.keys[name]!;
      return {
        issuer: i.issuer,
        kid: key.kid,
        alg: key.alg,
        public_key_pem: null,
        public_jwk: key.public_jwk,
        jwks_uri: null,
        usable: i.is_active,
        not_before: null,
        expires_at: null,
        db_role: i.db_role,
        // What the registry's read-time check says: only writer roles pass.
        db_role_valid: i.db_role === "federated_writer",
        allowed_roles: i.allowed_roles,
        max_token_lifetime_seconds: i.max_token_lifetime_seconds,
        require_jti: i.require_jti,
      };
    }),
  );
}

/**
 * What public.trust_policies_for returns for each of the vectors' URL issuers (by issuer URL), with each
 * issuer's JWKS served at `jwksUri(index)`, and those JWKS documents (by URL).
 */
export function vectorTrust(
  v: Vectors,
  jwksUri: (index: number) => string,
): { docs: Map<string, TrustDocument>; jwks: Map<string, unknown> } {
  const docs = new Map<string, TrustDocument>();
  const jwks = new Map<string, unknown>();
  v.url_issuers.forEach((u, index) => {
    const { keys, policies, ...issuer } = u;
    const uri = jwksUri(index);
    jwks.set(uri, { keys: keys.map((k) => v.keys[k]!.public_jwk) });
    docs.set(u.issuer_url, {
      issuer: { ...issuer, jwks_uri: uri },
      policies: policies.map((p) => {
        const w = v.issuers.find((i) => i.issuer === p.writer)!;
        return {
          ...p,
          writer_policy: {
            db_role: w.db_role,
            db_role_valid: w.db_role === "federated_writer",
            allowed_roles: w.allowed_roles,
            max_token_lifetime_seconds: w.max_token_lifetime_seconds,
            require_jti: w.require_jti,
          },
        };
      }),
    });
  });
  return { docs, jwks };
}

const ALGS = {
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, sign: { name: "RSASSA-PKCS1-v1_5" } },
  EdDSA: { import: { name: "Ed25519" }, sign: { name: "Ed25519" } },
} as const;

const enc = (value: unknown) => base64url.encode(JSON.stringify(value));

/**
 * Signs exactly `header` and `claims` (no member added or checked, unlike a JWT library) with a private JWK.
 * WebCrypto's ECDSA signature is r‖s, the JWS form.
 */
export async function signExactly(header: Record<string, unknown>, claims: Record<string, unknown>, key: VectorKey): Promise<string> {
  const a = ALGS[key.alg];
  const { kid: _kid, alg: _alg, ...material } = key.private_jwk;
  const cryptoKey = await crypto.subtle.importKey("jwk", material as JsonWebKey, a.import, false, ["sign"]);
  const input = `${enc(header)}.${enc(claims)}`;
  const sig = await crypto.subtle.sign(a.sign, cryptoKey, new TextEncoder().encode(input));
  return `${input}.${base64url.encode(new Uint8Array(sig))}`;
}

/** The token a recipe describes, with `times` resolved against `nowSeconds`; null for "send no token". */
export async function buildToken(v: Vectors, vector: Vector, nowSeconds: number): Promise<string | null> {
  if (vector.no_token) return null;
  if (vector.raw_token !== undefined) return vector.raw_token;
  const claims: Record<string, unknown> = { ...vector.claims };
  for (const [name, offset] of Object.entries(vector.times ?? {})) claims[name] = nowSeconds + offset;
  const header = vector.header!;
  if (vector.unsigned) return `${enc(header)}.${enc(claims)}.`;
  if (vector.hmac_secret !== undefined) {
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(vector.hmac_secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const input = `${enc(header)}.${enc(claims)}`;
    return `${input}.${base64url.encode(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input))))}`;
  }
  return signExactly(header, claims, v.keys[vector.signing_key ?? vector.key!]!);
}

/** What a response said, in the vectors' terms. */
export async function verdictOf(res: Response, forwarded: boolean): Promise<Expect> {
  if (forwarded && res.status < 400) return { verdict: "accept" };
  const body = (await res.json().catch(() => ({}))) as { code?: string };
  return { verdict: "reject", status: res.status, code: String(body.code) };
}

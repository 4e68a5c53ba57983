import { calculateJwkThumbprint, exportJWK, importJWK, importPKCS8, importSPKI, type JWK } from "jose";
import { isSupportedAlg, SUPPORTED_ALGS, type SupportedAlg } from "./contract.ts";
import { SignerError } from "./errors.ts";

/** A private key as a writer holds it: PKCS#8 PEM, a private JWK (object or JSON text), or a CryptoKey. */
export type PrivateKeyInput = string | JWK | CryptoKey;
/** A public key as the gateway or a JWKS holds it: SPKI PEM, a public JWK, or a CryptoKey. */
export type PublicKeyInput = string | JWK | CryptoKey;

/** A key imported once and ready to use, with what is known about it. */
export interface ImportedKey {
  key: CryptoKey;
  alg: SupportedAlg;
  /** The public half as a JWK (`kty` and key members only), when it can be derived. */
  publicJwk: JWK | undefined;
  /** The `kid` the key carried, when it was given as a JWK with one. */
  kid?: string;
}

const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ["kty", "crv", "x", "y"],
  RSA: ["kty", "n", "e"],
  OKP: ["kty", "crv", "x"],
};

/** Keeps only the public members of a JWK (drops `d`, `p`, `q`, … and metadata). */
export function publicMembers(jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ""];
  if (!members) throw new SignerError("key_invalid", `unsupported key type ${String(jwk.kty)}`);
  const out: Record<string, unknown> = {};
  for (const m of members) {
    if (typeof (jwk as Record<string, unknown>)[m] === "string") out[m] = (jwk as Record<string, unknown>)[m];
  }
  return out as JWK;
}

/** RFC 7638 thumbprint (SHA-256) of a key's public members: the default `kid`. */
export function thumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(publicMembers(jwk), "sha256");
}

/** The algorithm a JWK's key type implies, or undefined when it is not one we sign with. */
export function algForJwk(jwk: JWK): SupportedAlg | undefined {
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "RSA") return "RS256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return undefined;
}

/** The algorithm a CryptoKey was imported for, or undefined when it is not one we sign with. */
export function algForCryptoKey(key: CryptoKey): SupportedAlg | undefined {
  const a = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  if (a.name === "ECDSA" && a.namedCurve === "P-256") return "ES256";
  if (a.name === "RSASSA-PKCS1-v1_5" && a.hash?.name === "SHA-256") return "RS256";
  if (a.name === "Ed25519" || (a.name === "EdDSA" && a.namedCurve === "Ed25519")) return "EdDSA";
  return undefined;
}

function checkAlg(alg: unknown): SupportedAlg | undefined {
  if (alg === undefined) return undefined;
  if (!isSupportedAlg(alg)) {
    throw new SignerError("alg_unsupported", `alg must be one of ${SUPPORTED_ALGS.join(", ")}`);
  }
  return alg;
}

function parseJwkText(text: string): JWK {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as JWK;
  } catch {
    // fall through to the typed error
  }
  throw new SignerError("key_invalid", "key text is neither PEM nor a JSON Web Key");
}

function checkRsaSize(key: CryptoKey): void {
  const bits = (key.algorithm as { modulusLength?: number }).modulusLength;
  if (bits !== undefined && bits < 2048) {
    throw new SignerError("key_invalid", `RSA keys must have at least 2048 bits (got ${bits})`);
  }
}

async function fromPem(
  pem: string,
  kind: "private" | "public",
  alg: SupportedAlg | undefined,
): Promise<{ key: CryptoKey; alg: SupportedAlg }> {
  const label = kind === "private" ? "PRIVATE KEY" : "PUBLIC KEY";
  if (!pem.includes(`-----BEGIN ${label}-----`)) {
    if (/-----BEGIN (EC |RSA )?PRIVATE KEY-----/.test(pem) && kind === "public") {
      throw new SignerError("key_is_private", "expected a public key (SPKI PEM) but got a private key");
    }
    if (/-----BEGIN (EC|RSA) PRIVATE KEY-----/.test(pem)) {
      throw new SignerError(
        "key_invalid",
        "legacy SEC1/PKCS#1 PEM is not supported; convert it: openssl pkcs8 -topk8 -nocrypt -in old.key -out new.key",
      );
    }
    if (pem.includes("-----BEGIN PUBLIC KEY-----")) {
      throw new SignerError("key_not_private", "expected a private key (PKCS#8 PEM) but got a public key");
    }
    throw new SignerError("key_invalid", `expected a ${label} PEM block`);
  }
  const importer = kind === "private" ? importPKCS8 : importSPKI;
  const candidates = alg ? [alg, ...SUPPORTED_ALGS.filter((a) => a !== alg)] : [...SUPPORTED_ALGS];
  for (const candidate of candidates) {
    try {
      const key = await importer(pem, candidate, { extractable: true });
      if (alg && candidate !== alg) {
        throw new SignerError("alg_key_mismatch", `the key is a ${candidate} key, not ${alg}`);
      }
      if (candidate === "RS256") checkRsaSize(key);
      return { key, alg: candidate };
    } catch (e) {
      if (e instanceof SignerError) throw e;
    }
  }
  throw new SignerError("key_invalid", `the PEM is not a P-256, RSA or Ed25519 ${kind} key (supported: ${SUPPORTED_ALGS.join(", ")})`);
}

async function fromJwk(
  jwk: JWK,
  kind: "private" | "public",
  alg: SupportedAlg | undefined,
): Promise<{ key: CryptoKey; alg: SupportedAlg }> {
  const implied = algForJwk(jwk);
  if (!implied) throw new SignerError("key_invalid", "the JWK is not a P-256, RSA or Ed25519 key");
  if (alg && implied !== alg) throw new SignerError("alg_key_mismatch", `the key is a ${implied} key, not ${alg}`);
  if (jwk.alg !== undefined && jwk.alg !== implied) {
    throw new SignerError("alg_key_mismatch", `the JWK says alg ${jwk.alg} but is a ${implied} key`);
  }
  const hasPrivate = typeof jwk.d === "string";
  if (kind === "private" && !hasPrivate) throw new SignerError("key_not_private", "the JWK has no private part (d)");
  if (kind === "public" && hasPrivate) throw new SignerError("key_is_private", "expected a public JWK but it has a private part (d)");
  try {
    const key = await importJWK({ ...jwk, ext: true }, implied, { extractable: true });
    if (!(key instanceof CryptoKey)) throw new Error("not an asymmetric key");
    if (implied === "RS256") checkRsaSize(key);
    return { key, alg: implied };
  } catch (e) {
    if (e instanceof SignerError) throw e;
    throw new SignerError("key_invalid", "the JWK could not be imported");
  }
}

async function importAny(input: PrivateKeyInput, kind: "private" | "public", algOption: unknown): Promise<ImportedKey> {
  const alg = checkAlg(algOption);
  let key: CryptoKey;
  let resolved: SupportedAlg;
  let ownKid: unknown;
  if (typeof CryptoKey !== "undefined" && input instanceof CryptoKey) {
    if (input.type !== kind) {
      throw new SignerError(kind === "private" ? "key_not_private" : "key_is_private", `expected a ${kind} CryptoKey`);
    }
    const implied = algForCryptoKey(input);
    if (!implied) throw new SignerError("key_invalid", "the CryptoKey is not a P-256, RSA-SHA256 or Ed25519 key");
    if (alg && implied !== alg) throw new SignerError("alg_key_mismatch", `the key is a ${implied} key, not ${alg}`);
    key = input;
    resolved = implied;
  } else if (typeof input === "string") {
    const text = input.trim();
    if (text.startsWith("{")) {
      const jwk = parseJwkText(text);
      ownKid = jwk.kid;
      ({ key, alg: resolved } = await fromJwk(jwk, kind, alg));
    } else {
      ({ key, alg: resolved } = await fromPem(text, kind, alg));
    }
  } else if (input && typeof input === "object") {
    ownKid = (input as JWK).kid;
    ({ key, alg: resolved } = await fromJwk(input as JWK, kind, alg));
  } else {
    throw new SignerError("key_invalid", "no key given");
  }
  let publicJwk: JWK | undefined;
  if (key.extractable) publicJwk = publicMembers(await exportJWK(key));
  return { key, alg: resolved, publicJwk, ...(typeof ownKid === "string" && ownKid !== "" ? { kid: ownKid } : {}) };
}

/** Imports a writer's private key once (PEM, JWK or CryptoKey) and works out its algorithm. */
export function importPrivateKey(input: PrivateKeyInput, alg?: SupportedAlg): Promise<ImportedKey> {
  return importAny(input, "private", alg);
}

/** Imports a public key (SPKI PEM, JWK or CryptoKey) and works out its algorithm. */
export function importPublicKey(input: PublicKeyInput, alg?: SupportedAlg): Promise<ImportedKey> {
  return importAny(input, "public", alg);
}

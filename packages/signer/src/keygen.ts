import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair as joseGenerateKeyPair, type JWK } from "jose";
import { isSupportedAlg, SUPPORTED_ALGS, type SupportedAlg } from "./contract.ts";
import { SignerError } from "./errors.ts";
import { publicMembers, thumbprint } from "./keys.ts";

/** A fresh writer keypair: keep `privateKeyPem` secret; register `publicKeyPem` or `publicJwk`. */
export interface GeneratedKeyPair {
  alg: SupportedAlg;
  /** RFC 7638 thumbprint of the public key. */
  kid: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** SPKI PEM. */
  publicKeyPem: string;
  /** Public JWK with `kid`, `alg` and `use: "sig"`. */
  publicJwk: JWK & { kid: string; alg: SupportedAlg; use: "sig" };
}

export interface GenerateKeyPairOptions {
  /** ES256 (default), RS256 or EdDSA (Ed25519). */
  alg?: SupportedAlg;
  /** RSA modulus length in bits, at least 2048 (default 2048). */
  modulusLength?: number;
}

/** Generates a signing keypair for one writer and one target (one keypair per pair). */
export async function generateKeyPair(options: GenerateKeyPairOptions = {}): Promise<GeneratedKeyPair> {
  const alg = options.alg ?? "ES256";
  if (!isSupportedAlg(alg)) {
    throw new SignerError("alg_unsupported", `alg must be one of ${SUPPORTED_ALGS.join(", ")}`);
  }
  const modulusLength = options.modulusLength ?? 2048;
  if (alg === "RS256" && (!Number.isInteger(modulusLength) || modulusLength < 2048)) {
    throw new SignerError("key_invalid", "RSA keys must have at least 2048 bits");
  }
  const { privateKey, publicKey } = await joseGenerateKeyPair(alg, {
    extractable: true,
    ...(alg === "RS256" ? { modulusLength } : {}),
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  const jwk = publicMembers(await exportJWK(publicKey));
  const kid = await thumbprint(jwk);
  return {
    alg,
    kid,
    privateKeyPem: await exportPKCS8(privateKey),
    publicKeyPem: await exportSPKI(publicKey),
    publicJwk: { ...jwk, kid, alg, use: "sig" },
  };
}

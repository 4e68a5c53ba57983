import type { JWK } from "jose";
import type { SupportedAlg } from "./contract.ts";
import { SignerError } from "./errors.ts";
import { importPublicKey, thumbprint, type PublicKeyInput } from "./keys.ts";

/** One entry for a JWKS: a public key (SPKI PEM, JWK or CryptoKey) with an optional kid and alg. */
export type JwksEntry = PublicKeyInput | { publicKey: PublicKeyInput; kid?: string; alg?: SupportedAlg };

/** A JSON Web Key Set as served at a `jwks_uri`. */
export interface Jwks {
  keys: Array<JWK & { kid: string; alg: SupportedAlg; use: "sig" }>;
}

function isWrapped(e: JwksEntry): e is { publicKey: PublicKeyInput; kid?: string; alg?: SupportedAlg } {
  return typeof e === "object" && e !== null && !(typeof CryptoKey !== "undefined" && e instanceof CryptoKey) && "publicKey" in e;
}

/** Builds a JWKS document from public keys. Refuses private keys and duplicate kids. */
export async function toJwks(publicKeys: readonly JwksEntry[]): Promise<Jwks> {
  const keys: Jwks["keys"] = [];
  const kids = new Set<string>();
  for (const entry of publicKeys) {
    const input = isWrapped(entry) ? entry.publicKey : entry;
    const wantedAlg = isWrapped(entry) ? entry.alg : undefined;
    const imported = await importPublicKey(input, wantedAlg);
    if (!imported.publicJwk) throw new SignerError("key_invalid", "the public CryptoKey is not extractable");
    const ownKid = typeof input === "object" && !(input instanceof CryptoKey) ? input.kid : undefined;
    const kid = (isWrapped(entry) ? entry.kid : undefined) ?? ownKid ?? (await thumbprint(imported.publicJwk));
    if (kids.has(kid)) throw new SignerError("kid_duplicate", `kid "${kid}" appears twice`);
    kids.add(kid);
    keys.push({ ...imported.publicJwk, kid, alg: imported.alg, use: "sig" });
  }
  return { keys };
}

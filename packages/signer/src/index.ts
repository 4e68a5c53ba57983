export {
  ABSOLUTE_MAX_LIFETIME_SECONDS,
  APP_ROLE_PATTERN,
  DEFAULT_LIFETIME_SECONDS,
  DEFAULT_MAX_LIFETIME_SECONDS,
  GATEWAY_RESERVED_CLAIMS,
  ISSUER_PATTERN,
  isPlatformIssuerName,
  isSupportedAlg,
  MAX_WRITER_CLAIMS_BYTES,
  REGISTERED_CLAIMS,
  SUPPORTED_ALGS,
  type SupportedAlg,
} from "./contract.ts";
export { SignerError, type SignerErrorCode } from "./errors.ts";
export {
  algForJwk,
  importPrivateKey,
  importPublicKey,
  type ImportedKey,
  type PrivateKeyInput,
  type PublicKeyInput,
  publicMembers,
  thumbprint,
} from "./keys.ts";
export { generateKeyPair, type GenerateKeyPairOptions, type GeneratedKeyPair } from "./keygen.ts";
export { parseLifetime } from "./lifetime.ts";
export {
  createSigner,
  type MintOptions,
  type Signer,
  type SignerOptions,
  signMultiIssuerJwt,
  type SignMultiIssuerJwtOptions,
} from "./sign.ts";
export { type Jwks, type JwksEntry, toJwks } from "./jwks.ts";

/** Stable codes for every refusal the signer makes; callers branch on `code`, never on `message`. */
export type SignerErrorCode =
  | "alg_unsupported"
  | "alg_key_mismatch"
  | "key_invalid"
  | "key_not_private"
  | "key_is_private"
  | "kid_required"
  | "kid_duplicate"
  | "issuer_missing"
  | "issuer_invalid"
  | "audience_missing"
  | "subject_invalid"
  | "roles_invalid"
  | "claim_reserved"
  | "claims_invalid"
  | "lifetime_invalid"
  | "lifetime_too_long"
  | "reuse_invalid";

/** The one error type the signer throws for bad input. Never carries key material. */
export class SignerError extends Error {
  override readonly name = "SignerError";
  readonly code: SignerErrorCode;

  constructor(code: SignerErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

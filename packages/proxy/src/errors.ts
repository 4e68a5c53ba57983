import { REASONS, type Reason } from "./reasons.ts";

/** A refusal with a stable reason. `details` is safe to show the caller: never a token or key. */
export class ProxyError extends Error {
  override readonly name: string = "ProxyError";
  readonly reason: Reason;
  readonly details: string | null;
  /** What only the log line gets (which policies matched, what a discovery document said): never the caller. */
  logDetails: Record<string, unknown> | undefined;

  constructor(reason: Reason, details: string | null = null) {
    super(REASONS[reason].message);
    this.reason = reason;
    this.details = details;
  }

  /** The HTTP status for this reason. */
  get status(): number {
    return REASONS[this.reason].status;
  }
}

/** A token that fails verification. Thrown by verifyMultiIssuerJwt; `reason` is the stable code. */
export class JwtVerificationError extends ProxyError {
  override readonly name = "JwtVerificationError";
  /** Issuer and kid as claimed (unverified), for the audit log line. */
  readonly issuer: string | undefined;
  readonly kid: string | undefined;

  constructor(reason: Reason, details: string | null = null, context: { issuer?: string | undefined; kid?: string | undefined } = {}) {
    super(reason, details);
    this.issuer = context.issuer;
    this.kid = context.kid;
  }
}

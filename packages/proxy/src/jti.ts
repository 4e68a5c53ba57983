import { JwtVerificationError } from "./errors.ts";
import type { KeyRegistry } from "./registry.ts";
import type { VerifiedToken } from "./verify.ts";

/**
 * Records a verified token's jti in the registry when its issuer requires one-time tokens (kept until the
 * token's exp plus the clock tolerance); a jti seen before → token_replayed. The only database write made
 * before a request is forwarded, so it runs after the rate limit.
 */
export async function consumeJti(v: VerifiedToken, registry: KeyRegistry, clockToleranceSeconds: number): Promise<void> {
  if (!v.policy.require_jti) return;
  // A URL issuer's token is accepted until exp plus that issuer's tolerance: the jti is kept as long.
  const tolerance = v.trust ? Math.max(clockToleranceSeconds, v.trust.record.issuer.clock_tolerance_seconds) : clockToleranceSeconds;
  const expiresAt = new Date((v.claims.exp + tolerance) * 1000);
  const fresh = await registry.consumeJti(v.issuer, v.claims.jti as string, expiresAt);
  if (!fresh) throw new JwtVerificationError("token_replayed", null, { issuer: v.issuer, kid: v.kid });
}

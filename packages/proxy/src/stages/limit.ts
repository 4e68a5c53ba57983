import { reject, type Gateway, type Stage } from "../pipeline.ts";

/**
 * Stage 3, limit: the writer's rate limit, checked only once the token verified (a forged token never spends
 * a writer's budget) and before anything is written (the jti). The limit is the project's: this instance's
 * bucket refills at its share of it (shared-limits.ts).
 */
export function limitStage(g: Gateway): Stage {
  return (s) => {
    const v = s.verified!;
    const rps = v.policy.rate_limit_per_second;
    if (rps == null) return undefined;
    // The project-wide limit: this instance's share of it (1 until the database has answered, see shared-limits.ts).
    const share = g.sharedLimits?.share(v.issuer, rps) ?? 1;
    const burst = v.policy.rate_limit_burst ?? Math.ceil(rps);
    const wait = g.limiter.take(v.issuer, { perSecond: rps * share, burst: Math.max(1, burst * share) });
    g.sharedLimits?.observe(v.issuer, wait === 0);
    return wait > 0 ? reject(s, "rate_limited", null, { "retry-after": String(wait) }) : undefined;
  };
}

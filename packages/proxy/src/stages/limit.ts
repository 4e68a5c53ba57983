import { reject, type Gateway, type Stage } from "../pipeline.ts";

/**
 * Stage 3, limit: the writer's rate limit, checked only once the token verified (a forged token never spends
 * a writer's budget) and before anything is written (the jti, usage of a refused request is an error count).
 */
export function limitStage(g: Gateway): Stage {
  return (s) => {
    const v = s.verified!;
    const rps = v.policy.rate_limit_per_second;
    if (rps == null) return undefined;
    const wait = g.limiter.take(v.issuer, { perSecond: rps, burst: v.policy.rate_limit_burst });
    return wait > 0 ? reject(s, "rate_limited", null, { "retry-after": String(wait) }) : undefined;
  };
}

import { consumeJti } from "../jti.ts";
import type { Gateway, Stage } from "../pipeline.ts";

/**
 * Stage 4, replay: for issuers that require one-time tokens, the jti is recorded in the registry (a jti seen
 * before → 401 token_replayed). After the limit, so a refused request consumes nothing.
 */
export function replayStage(g: Gateway): Stage {
  return (s) => {
    const v = s.verified!;
    // Tokens of require_jti issuers are never cached, so a hit never gets here with a jti to consume.
    return v.policy.require_jti ? consumeJti(v, g.registry, g.clockToleranceSeconds).then(() => undefined) : undefined;
  };
}

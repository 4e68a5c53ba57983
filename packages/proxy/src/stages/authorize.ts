import { outboundClaims } from "../outbound.ts";
import type { Gateway, Stage } from "../pipeline.ts";

/**
 * Stage 5, authorize: what the writer runs as in the database: the registry's db_role and the requested
 * application roles, re-signed for PostgREST (outbound.ts), then remembered in the verified-token cache.
 * On a cache hit the outbound token is already there.
 */
export function authorizeStage(g: Gateway): Stage {
  return async (s) => {
    if (s.outbound !== undefined) return undefined;
    const verified = s.verified!;
    const claims = await outboundClaims(verified, g.now());
    s.outbound = await s.signer!.sign(claims);
    await g.tokenCache?.store(s.token!, { verified, outbound: s.outbound }, claims.exp!);
    return undefined;
  };
}

import type { Gateway, RequestState, Stage } from "../pipeline.ts";
import { type VerifiedToken, type VerifyOptions, verifyToken } from "../verify.ts";

function admit(s: RequestState, v: VerifiedToken): void {
  s.verified = v;
  s.issuer = v.issuer;
  s.kid = v.kid;
  s.writerSub = v.claims.sub;
}

/**
 * Stage 2, verify: the token's signature and claims against the registry. The hit path: a token seen before
 * (and still valid, see token-cache.ts) comes from the verified-token cache with its re-signed outbound token,
 * skipping the signature check here and the signing in the authorize stage. Writes nothing.
 */
export function verifyStage(g: Gateway): Stage {
  const options: VerifyOptions = {
    registry: g.registry,
    audience: g.audience,
    clockToleranceSeconds: g.clockToleranceSeconds,
    now: g.now,
    jwks: g.jwks,
    discovery: g.discovery,
    ...(g.trust ? { trust: g.trust } : {}),
  };
  return async (s) => {
    const token = s.token!;
    const hit = await g.tokenCache?.lookup(token);
    if (hit) {
      s.cache = "hit";
      admit(s, hit.verified);
      s.outbound = hit.outbound;
      return undefined;
    }
    s.cache = g.tokenCache ? "miss" : "off";
    admit(s, await verifyToken(token, options));
    return undefined;
  };
}

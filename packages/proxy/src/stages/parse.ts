import { checkDeclaredSize } from "../body.ts";
import { resolveTarget } from "../paths.ts";
import { METHODS, reject, type Gateway, type Stage } from "../pipeline.ts";
import { checkAccept, checkPrefer, checkProfiles } from "../profiles.ts";
import { bearerToken } from "../token.ts";

/**
 * Stage 1, parse: the request's shape before any token is looked at: method, target path, profile/Prefer/
 * Accept headers, the gateway's own configuration, declared body size, and the bearer token.
 */
export function parseStage(g: Gateway): Stage {
  return async (s) => {
    const { req } = s;
    if (!METHODS.has(req.method)) return reject(s, "method_not_allowed", null);
    s.target = resolveTarget(req.url, g.functionName);
    checkProfiles(req.headers, g.allowedSchemas);
    checkPrefer(req.headers);
    checkAccept(req.headers);
    const signer = await g.signer;
    if (!signer) return reject(s, "proxy_misconfigured", null);
    s.signer = signer;
    checkDeclaredSize(req, g.bodyLimit);
    s.token = bearerToken(req.headers.get("authorization"));
    return undefined;
  };
}

import type { Gateway, Stage } from "../pipeline.ts";
import { requestIdOf } from "../request-id.ts";

/**
 * Stage 0, request id: the writer's X-Request-Id when well-formed, else a new UUIDv7 (a malformed one is
 * replaced, never refused and never logged). handler.ts answers it in X-Request-Id on every response, the
 * access line carries it, and the forward stage sends it to PostgREST (SQL: federation.request_id()).
 */
export function requestIdStage(g: Gateway): Stage {
  return (s) => {
    s.requestId = requestIdOf(s.req.headers, g.now()).id;
    return undefined;
  };
}

import { readBody } from "../body.ts";
import { UpstreamDeadlines } from "../deadlines.ts";
import { responseHeaders, upstreamHeaders } from "../headers.ts";
import { capText } from "../log.ts";
import { reject, type Gateway, type Stage } from "../pipeline.ts";

/**
 * Stage 6, forward: reads the body (bounded in size and time) and sends the request to PostgREST with the
 * re-signed token; 502 upstream_unreachable / 504 upstream_timeout when it does not answer (the deadline covers
 * PostgREST's answer up to its headers; PostgREST has the whole result by then). Always answers.
 */
export function forwardStage(g: Gateway): Stage {
  // Requests starting close together share a deadline timer (deadlines.ts): no timer object per request, and a
  // request answered is released at once rather than held until its timeout (as an AbortSignal.timeout would).
  const deadlines = new UpstreamDeadlines(g.upstreamTimeoutMs);
  return async (s) => {
    const { req } = s;
    const target = s.target!;
    const body = req.method === "GET" || req.method === "HEAD" ? null : await readBody(req, g.bodyLimit, g.bodyTimeoutMs);
    const deadline = deadlines.start();
    let upstream: Response;
    try {
      upstream = await g.fetch(`${g.base}/rest/v1/${target.path}${target.query}`, {
        method: req.method,
        headers: upstreamHeaders(req.headers, g.apiKey, s.outbound!, s.requestId!),
        body,
        redirect: "manual",
        signal: deadline.signal,
      });
    } catch (e) {
      const name = (e as Error)?.name;
      return deadline.signal.aborted || name === "TimeoutError" || name === "AbortError"
        ? reject(s, "upstream_timeout", `no answer within ${g.upstreamTimeoutMs} ms`)
        : reject(s, "upstream_unreachable", null);
    } finally {
      deadline.release();
    }
    s.upstreamStatus = upstream.status;
    if (upstream.status === 401) {
      g.log({
        level: "error",
        event: "upstream_rejected_token",
        issuer: s.issuer === undefined ? null : capText(s.issuer, 64),
        kid: s.kid === undefined ? null : capText(s.kid, 128),
        note: "PostgREST refused the re-signed token: does the signing key match the project's JWT secret or signing key?",
      });
    }
    return new Response(req.method === "HEAD" ? null : upstream.body, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: responseHeaders(upstream.headers),
    });
  };
}

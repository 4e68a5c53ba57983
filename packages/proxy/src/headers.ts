import { REQUEST_ID_HEADER } from "./request-id.ts";

/** Request headers a writer may send upstream; every other header is dropped. */
export const FORWARDED_REQUEST_HEADERS = [
  "accept",
  "accept-profile",
  "content-profile",
  "content-type",
  "prefer",
  "range",
  "range-unit",
  "if-match",
  "if-none-match",
  "x-client-info",
] as const;

/** Response headers never passed back: hop-by-hop, cookies, and encodings fetch already undid. */
const DROPPED_RESPONSE_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "set-cookie",
  "content-encoding",
  "content-length",
]);

/**
 * Builds the upstream request headers: the allow-listed ones from the writer, then our own credentials and
 * the request's id (PostgREST hands it to SQL in request.headers, where federation.request_id() reads it). A
 * list rather than a Headers object: fetch copies (and checks) headers once either way, a Headers object twice.
 */
export function upstreamHeaders(incoming: Headers, apiKey: string, bearer: string, requestId: string): [string, string][] {
  const out: [string, string][] = [];
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const v = incoming.get(name);
    if (v !== null) out.push([name, v]);
  }
  out.push(["apikey", apiKey], ["authorization", `Bearer ${bearer}`], [REQUEST_ID_HEADER, requestId]);
  return out;
}

/** Upstream response headers minus hop-by-hop and cookie headers, as a list for the Response constructor. */
export function responseHeaders(upstream: Headers): [string, string][] {
  const out: [string, string][] = [];
  upstream.forEach((value, name) => {
    if (!DROPPED_RESPONSE_HEADERS.has(name)) out.push([name, value]);
  });
  return out;
}

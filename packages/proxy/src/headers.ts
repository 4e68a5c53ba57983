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
 * the request's id (PostgREST hands it to SQL in request.headers, where federation.request_id() reads it).
 */
export function upstreamHeaders(incoming: Headers, apiKey: string, bearer: string, requestId: string): Headers {
  const out = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const v = incoming.get(name);
    if (v !== null) out.set(name, v);
  }
  out.set("apikey", apiKey);
  out.set("authorization", `Bearer ${bearer}`);
  out.set(REQUEST_ID_HEADER, requestId);
  return out;
}

/** Copies an upstream response's headers minus hop-by-hop and cookie headers. */
export function responseHeaders(upstream: Headers): Headers {
  const out = new Headers();
  upstream.forEach((value, name) => {
    if (!DROPPED_RESPONSE_HEADERS.has(name.toLowerCase())) out.append(name, value);
  });
  return out;
}

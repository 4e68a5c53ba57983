// The gateway as a pipeline: each request runs through a list of named stages (see handler.ts for the list),
// each in its own module under stages/. A stage reads and fills the request's state; it ends the request by
// returning a Response (or throwing a ProxyError), or hands on to the next stage by returning nothing.
// Adding a stage = one module exporting a factory `(g: Gateway) => Stage`, and one line in handler.ts.
import { JwtVerificationError, ProxyError } from "./errors.ts";
import type { DiscoveryCache } from "./discovery.ts";
import type { JwksPool } from "./jwks.ts";
import { capText, type Logger } from "./log.ts";
import type { OutboundSigner } from "./outbound.ts";
import type { Target } from "./paths.ts";
import type { RateLimiter } from "./rate-limit.ts";
import { REASONS, type Reason } from "./reasons.ts";
import type { KeyRegistry } from "./registry.ts";
import type { SharedLimits } from "./shared-limits.ts";
import type { VerifiedTokenCache } from "./token-cache.ts";
import type { TrustRegistry } from "./trust-registry.ts";
import type { UsageRecorder } from "./usage.ts";
import type { VerifiedToken } from "./verify.ts";

/** What the stages share: built once per gateway from ProxyOptions (handler.ts). */
export interface Gateway {
  log: Logger;
  now: () => number;
  fetch: typeof fetch;
  /** The project URL without a trailing slash. */
  base: string;
  apiKey: string;
  audience: string;
  functionName: string;
  clockToleranceSeconds: number;
  bodyLimit: number;
  bodyTimeoutMs: number;
  upstreamTimeoutMs: number;
  allowedSchemas: Set<string>;
  registry: KeyRegistry;
  /** URL issuers and their trust policies; undefined when workload identity tokens are not served. */
  trust: TrustRegistry | undefined;
  jwks: JwksPool;
  /** URL issuers' OIDC discovery documents. */
  discovery: DiscoveryCache;
  /** null when the verified-token cache is off. */
  tokenCache: VerifiedTokenCache | null;
  /** Resolves to null when the gateway is misconfigured (then every request gets 503). */
  signer: Promise<OutboundSigner | null>;
  limiter: RateLimiter;
  /** null when each instance limits on its own (limits: false). */
  sharedLimits: SharedLimits | null;
  /** null when usage is not counted. */
  usage: UsageRecorder | null;
}

/** One request as it goes through the stages; what the access line says is filled in as it goes. */
export interface RequestState {
  readonly req: Request;
  /** performance.now() when the request arrived. */
  readonly started: number;
  /** Set by the request-id stage, first of all: answered in X-Request-Id, logged, sent to PostgREST. */
  requestId?: string;
  target?: Target;
  signer?: OutboundSigner;
  /** The bearer token, exactly as sent. */
  token?: string;
  /** Set by the verify stage: the token passed every check (from the verified-token cache on a hit). */
  verified?: VerifiedToken;
  /** The re-signed token for PostgREST: from the cache on a hit, else signed by the authorize stage. */
  outbound?: string;
  /** The refusal's reason, when the request was refused. */
  reason?: Reason;
  /** Issuer and kid: as claimed for a refusal before verification, as verified after it. */
  issuer?: string | undefined;
  kid?: string | undefined;
  writerSub?: string;
  cache?: "hit" | "miss" | "off";
  upstreamStatus?: number;
  /** What only the access line gets about a refusal (which policies matched, a discovery document's issuer). */
  logDetails?: Record<string, unknown>;
}

/** A stage: a Response ends the request; nothing hands on to the next stage. */
export type Stage = (s: RequestState) => Response | undefined | Promise<Response | undefined>;

/** The methods the gateway forwards. */
export const METHODS = new Set(["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]);

/** The JSON error answer for a reason (PostgREST-shaped: code, message, details, hint). */
export function errorResponse(reason: Reason, details: string | null, extraHeaders: Record<string, string> = {}): Response {
  const r = REASONS[reason];
  const headers = new Headers({ "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...extraHeaders });
  if (reason === "token_missing") headers.set("www-authenticate", 'Bearer realm="supabase-federated-writers"');
  else if (r.status === 401) headers.set("www-authenticate", `Bearer error="invalid_token", error_description="${reason}"`);
  else if (r.status === 403) headers.set("www-authenticate", `Bearer error="insufficient_scope", error_description="${reason}"`);
  else if (r.status === 405) headers.set("allow", [...METHODS].join(", "));
  return new Response(JSON.stringify({ code: reason, message: r.message, details, hint: r.hint }), { status: r.status, headers });
}

/** Refuses the request with `reason` (remembered for the access line). */
export function reject(s: RequestState, reason: Reason, details: string | null, headers?: Record<string, string>): Response {
  s.reason = reason;
  return errorResponse(reason, details, headers);
}

/**
 * Runs the stages in order until one answers; a thrown ProxyError becomes its refusal, anything else a
 * logged 500 internal_error. Sync stages are not awaited (the cache-hit path stays a handful of calls).
 */
export async function runStages(stages: readonly Stage[], s: RequestState, log: Logger): Promise<Response> {
  try {
    for (const stage of stages) {
      let out = stage(s);
      if (out instanceof Promise) out = await out;
      if (out) return out;
    }
    throw new Error("no stage answered");
  } catch (e) {
    if (e instanceof ProxyError && e.logDetails) s.logDetails = e.logDetails;
    if (e instanceof JwtVerificationError) {
      // Unverified issuer and kid, as the token claimed them: for the audit line only.
      if (!s.verified) {
        s.issuer = e.issuer;
        s.kid = e.kid;
      }
      return reject(s, e.reason, e.details);
    }
    if (e instanceof ProxyError) return reject(s, e.reason, e.details);
    log({
      level: "error",
      event: "internal_error",
      error: capText(String((e as Error)?.name ?? "unknown"), 64),
      issuer: s.issuer === undefined ? null : capText(s.issuer, 64),
      kid: s.kid === undefined ? null : capText(s.kid, 128),
    });
    return reject(s, "internal_error", null);
  }
}

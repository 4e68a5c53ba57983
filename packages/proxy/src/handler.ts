import { ProxyError, JwtVerificationError } from "./errors.ts";
import { checkDeclaredSize, readBody } from "./body.ts";
import { responseHeaders, upstreamHeaders } from "./headers.ts";
import { JwksPool, type JwksOptions } from "./jwks.ts";
import { accessLogFilter, type AccessLogMode, capText, consoleLogger, type Logger } from "./log.ts";
import { createOutboundSigner, outboundClaims, type OutboundSigner, type SigningKeyConfig } from "./outbound.ts";
import { resolveTarget } from "./paths.ts";
import { checkAccept, checkPrefer, checkProfiles } from "./profiles.ts";
import { REASONS, type Reason } from "./reasons.ts";
import { RateLimiter } from "./rate-limit.ts";
import { cachedRegistry, postgrestRegistry, postgrestUsageSink, type KeyRegistry } from "./registry.ts";
import { bearerToken } from "./token.ts";
import { VerifiedTokenCache } from "./token-cache.ts";
import { UsageRecorder, type UsageSink } from "./usage.ts";
import { verifyMultiIssuerJwt } from "./verify.ts";

/** Everything the gateway needs. Built from env by `proxyOptionsFromEnv` in the Edge Function. */
export interface ProxyOptions {
  /** The project URL: registry reads and forwarded requests go to `${supabaseUrl}/rest/v1/…`. */
  supabaseUrl: string;
  /** Secret (sb_secret_…) or legacy service_role key: reads the registry. Never sent with forwarded requests. */
  serviceKey: string;
  /** Publishable (sb_publishable_…) or legacy anon key: sent as `apikey` with forwarded requests. */
  apiKey: string;
  /** What the gateway signs PostgREST tokens with. Missing or weak → every request gets 503 proxy_misconfigured. */
  signingKey: SigningKeyConfig | undefined;
  /** This target's audience; writer tokens must carry it in `aud`. */
  audience: string;
  /** The function's name, the first path segment (default "rest"). */
  functionName?: string;
  /** Clock skew allowed for exp/nbf/iat, seconds (default 30). */
  clockToleranceSeconds?: number;
  /** Registry cache lifetime: how late a deactivation may be seen (default 5000 ms). */
  keyCacheTtlMs?: number;
  /** Largest request body (default 1 MiB). */
  bodyLimitBytes?: number;
  /** Time allowed for the whole request body to arrive (default 10 s); later → 408 body_timeout. */
  bodyTimeoutMs?: number;
  /** Which requests get an access log line (default all; refusals are logged in every mode). */
  accessLog?: AccessLogMode;
  /**
   * Where per-key usage is written, or false to count nothing (default: public.record_key_usage through
   * PostgREST with `serviceKey`).
   */
  usage?: false | { sink?: UsageSink; flushIntervalMs?: number; maxRows?: number };
  /** Time allowed for PostgREST to answer (default 10 s). */
  upstreamTimeoutMs?: number;
  /** Time allowed for a registry read (default 3 s). */
  registryTimeoutMs?: number;
  /** Schemas a writer may name in Accept-Profile/Content-Profile (default ["public"]); others get 406. */
  allowedSchemas?: string[];
  jwks?: Omit<JwksOptions, "fetch" | "now">;
  /** Verified-token cache bounds, or false to verify and re-sign every request (default on, 10 000 entries / 16 MiB). */
  tokenCache?: false | { maxEntries?: number; maxBytes?: number };
  /** Replaces the registry (tests); by default it is read through PostgREST with `serviceKey`. */
  registry?: KeyRegistry;
  fetch?: typeof fetch;
  /** Clock in milliseconds. */
  now?: () => number;
  logger?: Logger;
  /** Problems found while reading the configuration (from proxyOptionsFromEnv): the gateway refuses to serve. */
  configProblems?: string[];
}

const METHODS = new Set(["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]);

function errorResponse(reason: Reason, details: string | null, extraHeaders: Record<string, string> = {}): Response {
  const r = REASONS[reason];
  const headers = new Headers({ "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...extraHeaders });
  if (reason === "token_missing") headers.set("www-authenticate", 'Bearer realm="supabase-federated-writers"');
  else if (r.status === 401) headers.set("www-authenticate", `Bearer error="invalid_token", error_description="${reason}"`);
  else if (r.status === 403) headers.set("www-authenticate", `Bearer error="insufficient_scope", error_description="${reason}"`);
  else if (r.status === 405) headers.set("allow", [...METHODS].join(", "));
  return new Response(JSON.stringify({ code: reason, message: r.message, details, hint: r.hint }), { status: r.status, headers });
}

/**
 * Creates the gateway: a fetch handler (Request → Response) that runs unchanged on Deno, Node and Bun.
 * It verifies the writer's token against the registry, pins the database role, re-signs the claims for
 * PostgREST and forwards the request to `${supabaseUrl}/rest/v1/<table>`. It fails closed: 503 when the
 * registry is unreachable or the gateway is misconfigured, 502/504 when PostgREST is unreachable/slow.
 */
export function createJwtSwapProxy(options: ProxyOptions): (req: Request) => Promise<Response> {
  const log = options.logger ?? consoleLogger;
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
  const functionName = options.functionName ?? "rest";
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
  const upstreamTimeout = options.upstreamTimeoutMs ?? 10_000;
  const base = options.supabaseUrl.replace(/\/+$/, "");
  const keyCacheTtlMs = options.keyCacheTtlMs ?? 5000;
  // How the registry is read, and usage written: PostgREST with the service key.
  const registryAccess = {
    supabaseUrl: base,
    serviceKey: options.serviceKey,
    fetch: doFetch,
    timeoutMs: options.registryTimeoutMs ?? 3000,
  };
  const registry = options.registry ?? cachedRegistry(postgrestRegistry(registryAccess), { ttlMs: keyCacheTtlMs, now });
  const jwks = new JwksPool({ ...options.jwks, fetch: doFetch, now });
  const tokenCache =
    options.tokenCache === false ? null : new VerifiedTokenCache({ ...options.tokenCache, registry, ttlMs: keyCacheTtlMs, now });
  const allowedSchemas = new Set(options.allowedSchemas ?? ["public"]);

  const problems = [...(options.configProblems ?? [])];
  const signer: Promise<OutboundSigner | null> =
    problems.length > 0
      ? Promise.resolve(null)
      : createOutboundSigner(options.signingKey).catch((e: Error) => {
          problems.push(e.message);
          return null;
        });
  void signer.then((s) => {
    if (!s) log({ level: "error", event: "proxy_misconfigured", problems, note: "every request is refused with 503 until this is fixed" });
  });

  const bodyTimeout = options.bodyTimeoutMs ?? 10_000;
  const wantsLine = accessLogFilter(options.accessLog ?? { kind: "all" });
  const limiter = new RateLimiter({ now });
  const usage =
    options.usage === false
      ? null
      : new UsageRecorder({
          sink: options.usage?.sink ?? postgrestUsageSink(registryAccess),
          intervalMs: options.usage?.flushIntervalMs ?? 5000,
          maxRows: options.usage?.maxRows ?? 1000,
          now,
          log,
        });

  /** What one request's access line says; filled in as the request goes. */
  interface Access {
    reason?: Reason;
    target?: string;
    issuer?: string | undefined;
    kid?: string | undefined;
    writerSub?: string;
    /** True once the token verified: only then is (issuer, kid) counted as usage. */
    verified?: boolean;
    cache?: "hit" | "miss" | "off";
    upstreamStatus?: number;
  }

  function reject(a: Access, reason: Reason, details: string | null, headers?: Record<string, string>): Response {
    a.reason = reason;
    return errorResponse(reason, details, headers);
  }

  /** Writes the request's one access line (refusals keep the event name `request_rejected` and their reason). */
  function accessLine(req: Request, a: Access, status: number, ms: number): void {
    if (!wantsLine(status)) return;
    const entry: Parameters<Logger>[0] = a.reason
      ? { level: "warn", event: "request_rejected", reason: a.reason }
      : { level: "info", event: "request" };
    entry.status = status;
    entry.upstream_status = a.upstreamStatus ?? null;
    entry.method = capText(req.method, 16);
    entry.target = a.target ?? null;
    if (a.reason) entry.path = capText(new URL(req.url).pathname);
    entry.issuer = a.issuer === undefined ? null : capText(a.issuer, 64);
    entry.kid = a.kid === undefined ? null : capText(a.kid, 128);
    entry.writer_sub = a.writerSub === undefined ? null : capText(a.writerSub, 128);
    entry.cache = a.cache ?? null;
    entry.ms = Math.round(ms * 100) / 100;
    log(entry);
  }

  async function serve(req: Request, a: Access): Promise<Response> {
    try {
      if (!METHODS.has(req.method)) return reject(a, "method_not_allowed", null);
      const target = resolveTarget(req.url, functionName);
      a.target = target.path;
      checkProfiles(req.headers, allowedSchemas);
      checkPrefer(req.headers);
      checkAccept(req.headers);
      const sign = await signer;
      if (!sign) return reject(a, "proxy_misconfigured", null);
      checkDeclaredSize(req, bodyLimit);

      const token = bearerToken(req.headers.get("authorization"));
      // A token seen before (and still valid, see token-cache.ts) skips the signature check and the signing.
      let admitted = await tokenCache?.lookup(token);
      a.cache = tokenCache ? (admitted ? "hit" : "miss") : "off";
      if (!admitted) {
        const verified = await verifyMultiIssuerJwt(token, {
          registry,
          audience: options.audience,
          clockToleranceSeconds: options.clockToleranceSeconds ?? 30,
          now,
          jwks,
        });
        const claims = await outboundClaims(verified, now());
        admitted = { verified, outbound: await sign.sign(claims) };
        await tokenCache?.store(token, admitted, claims.exp!);
      }
      const { verified, outbound } = admitted;
      a.issuer = verified.issuer;
      a.kid = verified.kid;
      a.writerSub = verified.claims.sub;
      a.verified = true;
      const rps = verified.policy.rate_limit_per_second;
      if (rps != null) {
        const wait = limiter.take(verified.issuer, { perSecond: rps, burst: verified.policy.rate_limit_burst });
        if (wait > 0) return reject(a, "rate_limited", null, { "retry-after": String(wait) });
      }
      const body = req.method === "GET" || req.method === "HEAD" ? null : await readBody(req, bodyLimit, bodyTimeout);

      let upstream: Response;
      try {
        upstream = await doFetch(`${base}/rest/v1/${target.path}${target.query}`, {
          method: req.method,
          headers: upstreamHeaders(req.headers, options.apiKey, outbound),
          body,
          redirect: "manual",
          signal: AbortSignal.timeout(upstreamTimeout),
        });
      } catch (e) {
        const name = (e as Error)?.name;
        return name === "TimeoutError" || name === "AbortError"
          ? reject(a, "upstream_timeout", `no answer within ${upstreamTimeout} ms`)
          : reject(a, "upstream_unreachable", null);
      }
      a.upstreamStatus = upstream.status;
      if (upstream.status === 401) {
        log({
          level: "error",
          event: "upstream_rejected_token",
          issuer: a.issuer,
          kid: a.kid,
          note: "PostgREST refused the re-signed token: does the signing key match the project's JWT secret or signing key?",
        });
      }
      return new Response(req.method === "HEAD" ? null : upstream.body, {
        status: upstream.status,
        statusText: upstream.statusText,
        headers: responseHeaders(upstream.headers),
      });
    } catch (e) {
      if (e instanceof JwtVerificationError) {
        // Unverified issuer and kid, as the token claimed them: for the audit line only.
        a.issuer = e.issuer;
        a.kid = e.kid;
        return reject(a, e.reason, e.details);
      }
      if (e instanceof ProxyError) return reject(a, e.reason, e.details);
      log({ level: "error", event: "internal_error", error: (e as Error)?.name ?? "unknown", issuer: a.issuer, kid: a.kid });
      return reject(a, "internal_error", null);
    }
  }

  return async function handle(req: Request): Promise<Response> {
    const started = performance.now();
    const a: Access = {};
    const res = await serve(req, a);
    accessLine(req, a, res.status, performance.now() - started);
    if (a.verified) usage?.record(a.issuer!, a.kid ?? "", res.status >= 400);
    return res;
  };
}

import { JwksPool, type JwksOptions } from "./jwks.ts";
import { type AccessLogMode, consoleLogger, type Logger } from "./log.ts";
import { createOutboundSigner, type OutboundSigner, type SigningKeyConfig } from "./outbound.ts";
import { type Gateway, type RequestState, runStages, type Stage } from "./pipeline.ts";
import { RateLimiter } from "./rate-limit.ts";
import { DiscoveryCache } from "./discovery.ts";
import { isSharedDefaultAudience } from "./providers.ts";
import { REQUEST_ID_HEADER } from "./request-id.ts";
import { cachedRegistry, postgrestLimitSink, postgrestRegistry, postgrestUsageSink, type KeyRegistry } from "./registry.ts";
import { type LimitSink, SharedLimits } from "./shared-limits.ts";
import { authorizeStage } from "./stages/authorize.ts";
import { forwardStage } from "./stages/forward.ts";
import { limitStage } from "./stages/limit.ts";
import { parseStage } from "./stages/parse.ts";
import { recordStage } from "./stages/record.ts";
import { replayStage } from "./stages/replay.ts";
import { requestIdStage } from "./stages/request-id.ts";
import { verifyStage } from "./stages/verify.ts";
import { VerifiedTokenCache } from "./token-cache.ts";
import { cachedTrustRegistry, postgrestTrustRegistry, type TrustRegistry } from "./trust-registry.ts";
import { UsageRecorder, type UsageSink } from "./usage.ts";

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
  /**
   * How instances share rate limits, or false to limit per instance only (default: public.record_rate_windows
   * through PostgREST with `serviceKey`, reported every second while a rate-limited writer is active).
   */
  limits?: false | { sink?: LimitSink; syncIntervalMs?: number };
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
  /**
   * Replaces the URL issuers and trust policies (tests), or false to serve no workload identity tokens; by
   * default public.trust_policies_for is read through PostgREST with `serviceKey`, cached like the keys.
   */
  trustRegistry?: TrustRegistry | false;
  fetch?: typeof fetch;
  /** Clock in milliseconds. */
  now?: () => number;
  logger?: Logger;
  /** Problems found while reading the configuration (from proxyOptionsFromEnv): the gateway refuses to serve. */
  configProblems?: string[];
}

/**
 * Creates the gateway: a fetch handler (Request → Response) that runs unchanged on Deno, Node and Bun.
 * It verifies the writer's token against the registry, pins the database role, re-signs the claims for
 * PostgREST and forwards the request to `${supabaseUrl}/rest/v1/<table>`. It fails closed: 503 when the
 * registry is unreachable or the gateway is misconfigured, 502/504 when PostgREST is unreachable/slow.
 */
export function createJwtSwapProxy(options: ProxyOptions): (req: Request) => Promise<Response> {
  const g = gateway(options);
  // The pipeline (each stage in stages/<name>.ts; a stage answers to end the request, see pipeline.ts).
  const stages: Stage[] = [
    requestIdStage(g), // the request's id (the writer's X-Request-Id when well-formed, else a UUIDv7)
    parseStage(g), // method, path, headers, bearer token
    verifyStage(g), // signature and claims (or the verified-token cache: the hit path)
    limitStage(g), // the writer's rate limit: after the signature, before any write
    replayStage(g), // one-time jti, for issuers that require it
    authorizeStage(g), // db_role and app roles, re-signed for PostgREST (kept from the cache on a hit)
    forwardStage(g), // PostgREST
  ];
  const record = recordStage(g, options.accessLog ?? { kind: "all" }); // access line and usage count

  return async function handle(req: Request): Promise<Response> {
    const s: RequestState = { req, started: performance.now() };
    const res = await runStages(stages, s, g.log);
    // Every answer carries the id, refusals included (replacing any X-Request-Id PostgREST's side sent back).
    res.headers.set(REQUEST_ID_HEADER, s.requestId!);
    record(s, res);
    return res;
  };
}

/** What every request shares, built once from the options: registry, caches, signer, limiter, usage. */
function gateway(options: ProxyOptions): Gateway {
  const log = options.logger ?? consoleLogger;
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
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
  const trust =
    options.trustRegistry === false
      ? undefined
      : (options.trustRegistry ?? cachedTrustRegistry(postgrestTrustRegistry(registryAccess), { ttlMs: keyCacheTtlMs, now }));

  const problems = [...(options.configProblems ?? [])];
  // A provider's default audience is accepted by every relying party that trusts the provider: a token
  // minted for any of them would be good here.
  if (isSharedDefaultAudience(options.audience)) {
    problems.push(`the audience ${options.audience} is a provider's shared default audience: use this project's own URL`);
  }
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

  return {
    log,
    now,
    fetch: doFetch,
    base,
    apiKey: options.apiKey,
    audience: options.audience,
    functionName: options.functionName ?? "rest",
    clockToleranceSeconds: options.clockToleranceSeconds ?? 30,
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    bodyTimeoutMs: options.bodyTimeoutMs ?? 10_000,
    upstreamTimeoutMs: options.upstreamTimeoutMs ?? 10_000,
    allowedSchemas: new Set(options.allowedSchemas ?? ["public"]),
    registry,
    trust,
    jwks: new JwksPool({ ...options.jwks, fetch: doFetch, now }),
    discovery: new DiscoveryCache({ fetch: doFetch, now }),
    tokenCache:
      options.tokenCache === false ? null : new VerifiedTokenCache({ ...options.tokenCache, registry, trust, ttlMs: keyCacheTtlMs, now }),
    signer,
    limiter: new RateLimiter({ now }),
    sharedLimits:
      options.limits === false
        ? null
        : new SharedLimits({
            sink: options.limits?.sink ?? postgrestLimitSink(registryAccess),
            intervalMs: options.limits?.syncIntervalMs ?? 1000,
            now,
            log,
          }),
    usage:
      options.usage === false
        ? null
        : new UsageRecorder({
            sink: options.usage?.sink ?? postgrestUsageSink(registryAccess),
            intervalMs: options.usage?.flushIntervalMs ?? 5000,
            ...(options.usage?.maxRows !== undefined ? { maxRows: options.usage.maxRows } : {}),
            now,
            log,
          }),
  };
}

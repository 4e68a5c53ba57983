import type { JWK } from "jose";
import type { ProxyOptions } from "./handler.ts";
import { parseAccessLogMode } from "./log.ts";

/** The custom secrets the function reads (names starting with SUPABASE_ are reserved by the platform). */
export const ENV = {
  audience: "FEDJWT_AUDIENCE",
  legacySecret: "FEDJWT_LEGACY_JWT_SECRET",
  signingJwk: "FEDJWT_SIGNING_JWK",
  functionName: "FEDJWT_FUNCTION_NAME",
  clockTolerance: "FEDJWT_CLOCK_TOLERANCE_SECONDS",
  keyCacheTtl: "FEDJWT_KEY_CACHE_TTL_MS",
  bodyLimit: "FEDJWT_BODY_LIMIT_BYTES",
  upstreamTimeout: "FEDJWT_UPSTREAM_TIMEOUT_MS",
  registryTimeout: "FEDJWT_REGISTRY_TIMEOUT_MS",
  allowedSchemas: "FEDJWT_ALLOWED_SCHEMAS",
  bodyTimeout: "FEDJWT_BODY_TIMEOUT_MS",
  accessLog: "FEDJWT_ACCESS_LOG",
  usageFlush: "FEDJWT_USAGE_FLUSH_MS",
} as const;

/** Picks a key from SUPABASE_*_KEYS (a JSON object of named keys): "default", else the first. */
function fromKeyDictionary(json: string | undefined): string | undefined {
  if (!json) return undefined;
  try {
    const dict = JSON.parse(json) as Record<string, unknown>;
    const v = dict.default ?? Object.values(dict)[0];
    return typeof v === "string" && v !== "" ? v : undefined;
  } catch {
    return undefined;
  }
}

function positiveInt(get: (n: string) => string | undefined, name: string, problems: string[]): number | undefined {
  const raw = get(name);
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    problems.push(`${name} must be a whole number`);
    return undefined;
  }
  return n;
}

/**
 * Builds the gateway's options from the environment the Supabase platform gives a function:
 * SUPABASE_URL; SUPABASE_SECRET_KEYS (or legacy SUPABASE_SERVICE_ROLE_KEY) to read the registry;
 * SUPABASE_PUBLISHABLE_KEYS (or legacy SUPABASE_ANON_KEY) as the upstream apikey; plus the custom
 * secrets in ENV. Problems are collected, not thrown: the gateway then answers 503 proxy_misconfigured.
 */
export function proxyOptionsFromEnv(get: (name: string) => string | undefined): ProxyOptions {
  const problems: string[] = [];
  const supabaseUrl = get("SUPABASE_URL") ?? "";
  if (!/^https?:\/\//.test(supabaseUrl)) problems.push("SUPABASE_URL is not set");
  const serviceKey = fromKeyDictionary(get("SUPABASE_SECRET_KEYS")) ?? get("SUPABASE_SERVICE_ROLE_KEY") ?? "";
  if (!serviceKey) problems.push("neither SUPABASE_SECRET_KEYS nor SUPABASE_SERVICE_ROLE_KEY is set");
  const apiKey = fromKeyDictionary(get("SUPABASE_PUBLISHABLE_KEYS")) ?? get("SUPABASE_ANON_KEY") ?? "";
  if (!apiKey) problems.push("neither SUPABASE_PUBLISHABLE_KEYS nor SUPABASE_ANON_KEY is set");
  const audience = get(ENV.audience) ?? "";
  if (!audience) problems.push(`${ENV.audience} is not set (the audience writers put in aud)`);

  const secret = get(ENV.legacySecret);
  const jwkText = get(ENV.signingJwk);
  let signingKey: ProxyOptions["signingKey"];
  if (secret && jwkText) problems.push(`set only one of ${ENV.legacySecret} and ${ENV.signingJwk}`);
  else if (secret) signingKey = { hs256Secret: secret };
  else if (jwkText) {
    try {
      signingKey = { privateJwk: JSON.parse(jwkText) as JWK };
    } catch {
      problems.push(`${ENV.signingJwk} is not valid JSON`);
    }
  }

  const options: ProxyOptions = { supabaseUrl, serviceKey, apiKey, audience, signingKey, configProblems: problems };
  const fn = get(ENV.functionName);
  if (fn) options.functionName = fn;
  const tolerance = positiveInt(get, ENV.clockTolerance, problems);
  if (tolerance !== undefined) options.clockToleranceSeconds = tolerance;
  const ttl = positiveInt(get, ENV.keyCacheTtl, problems);
  if (ttl !== undefined) options.keyCacheTtlMs = ttl;
  const limit = positiveInt(get, ENV.bodyLimit, problems);
  if (limit !== undefined) options.bodyLimitBytes = limit;
  const upstream = positiveInt(get, ENV.upstreamTimeout, problems);
  if (upstream !== undefined) options.upstreamTimeoutMs = upstream;
  const registry = positiveInt(get, ENV.registryTimeout, problems);
  if (registry !== undefined) options.registryTimeoutMs = registry;
  const bodyTimeout = positiveInt(get, ENV.bodyTimeout, problems);
  if (bodyTimeout !== undefined) options.bodyTimeoutMs = bodyTimeout;
  const accessLog = get(ENV.accessLog);
  if (accessLog !== undefined && accessLog !== "") {
    const mode = parseAccessLogMode(accessLog);
    if (typeof mode === "string") problems.push(`${ENV.accessLog} ${mode}`);
    else options.accessLog = mode;
  }
  const flush = positiveInt(get, ENV.usageFlush, problems);
  if (flush === 0) options.usage = false;
  else if (flush !== undefined && flush < 100) problems.push(`${ENV.usageFlush} must be 0 (off) or at least 100`);
  else if (flush !== undefined) options.usage = { flushIntervalMs: flush };
  const schemas = get(ENV.allowedSchemas);
  if (schemas !== undefined && schemas !== "") {
    const list = schemas
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (list.length === 0 || !list.every((s) => /^[a-z_][a-z0-9_]{0,62}$/.test(s)))
      problems.push(`${ENV.allowedSchemas} must be a comma-separated list of schema names`);
    else options.allowedSchemas = list;
  }
  return options;
}

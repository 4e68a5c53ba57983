import { CliError } from "./errors.ts";
import { checkLocalAlone, LOCAL_FLAG, localTarget } from "./local.ts";
import type { FlagSpecs } from "./spec.ts";

/** Talks to a project's registry tables through PostgREST (`/rest/v1`) with the service_role key. */
export class RegistryClient {
  readonly url: string;
  /** Where the URL came from, for the unreachable error: a flag or variable to check, or the local stack to start. */
  readonly hint: string;
  readonly #key: string;
  readonly #fetch: typeof fetch;

  constructor(url: string, serviceKey: string, doFetch: typeof fetch = fetch, hint = "check --url / SUPABASE_URL") {
    this.url = url.replace(/\/+$/, "");
    this.hint = hint;
    this.#key = serviceKey;
    this.#fetch = doFetch;
  }

  /** Sends one request; turns every failure into a one-line CliError. */
  async request<T>(method: string, path: string, body?: unknown, prefer = "return=representation"): Promise<T> {
    const headers: Record<string, string> = { apikey: this.#key, accept: "application/json", prefer };
    // Legacy keys are JWTs and go in Authorization too; sb_secret_ keys go in apikey only.
    if (this.#key.startsWith("eyJ")) headers.authorization = `Bearer ${this.#key}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#fetch(`${this.url}/rest/v1/${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (e) {
      const c = (e as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (e as Error).name;
      throw new CliError("unreachable", `cannot reach ${this.url} (${cause}): ${this.hint}`, { exitCode: 1, cause: e });
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: reported below by status
    }
    if (res.ok) return parsed as T;
    const err = (parsed ?? {}) as { code?: string; message?: string };
    const upstream = {
      status: res.status,
      ...(err.code !== undefined ? { upstreamCode: err.code } : {}),
      ...(err.message !== undefined ? { upstreamMessage: err.message } : {}),
    };
    if (res.status === 401 || res.status === 403) {
      throw new CliError(
        "key_refused",
        `${this.url} refused the service role key (HTTP ${res.status}${err.message ? `: ${err.message}` : ""}): check --service-role-key / SUPABASE_SERVICE_ROLE_KEY / SUPABASE_SECRET_KEY`,
        upstream,
      );
    }
    if (err.code === "PGRST205" || err.code === "42P01") {
      throw new CliError(
        "registry_missing",
        `${this.url} has no key registry: run fedjwt adopt <project> (unless it is this template), then supabase db push --remote`,
        {
          ...upstream,
          exitCode: 1,
        },
      );
    }
    if (res.status === 404)
      throw new CliError(
        "not_found",
        `${this.url} answered 404 for /rest/v1/${path.split("?")[0]}: is this a Supabase project URL?`,
        upstream,
      );
    const failed = res.status >= 500;
    throw new CliError(
      failed ? "upstream_failed" : "request_refused",
      `${method} ${path.split("?")[0]} failed (HTTP ${res.status}): ${err.message ?? text.slice(0, 200)}`,
      { ...upstream, exitCode: failed ? 1 : 2 },
    );
  }
}

/** Resolves --local, or --url / --service-role-key from flags or the environment. */
export function connection(
  values: { url?: string | undefined; "service-role-key"?: string | undefined; local?: boolean | undefined },
  command: string,
): RegistryClient {
  if (values.local) {
    checkLocalAlone(values, ["url", "service-role-key"], command);
    const local = localTarget();
    return new RegistryClient(
      local.url,
      local.secretKey,
      fetch,
      local.stateFile
        ? `the local stack in ${local.stateFile} does not answer (pnpm stack status)`
        : "no local stack is running (start one: pnpm stack start --detach, pnpm dev or supabase start)",
    );
  }
  const url = values.url ?? process.env.SUPABASE_URL;
  // An empty variable counts as unset: SUPABASE_SERVICE_ROLE_KEY="" does not hide SUPABASE_SECRET_KEY.
  const key = values["service-role-key"] ?? (process.env.SUPABASE_SERVICE_ROLE_KEY || process.env.SUPABASE_SECRET_KEY);
  if (!url)
    throw new CliError(
      "bad_arguments",
      `--url (or SUPABASE_URL), or --local for the local stack, is required (see: fedjwt ${command} --help)`,
    );
  if (!/^https?:\/\/[^/]+/.test(url)) throw new CliError("bad_arguments", `--url ${JSON.stringify(url)} is not an http(s) URL`);
  if (!key)
    throw new CliError(
      "bad_arguments",
      `--service-role-key (or SUPABASE_SERVICE_ROLE_KEY or SUPABASE_SECRET_KEY) is required (see: fedjwt ${command} --help)`,
    );
  return new RegistryClient(url, key);
}

/** The flags every registry command takes (help group "Connection"). */
export const CONNECTION_FLAGS = {
  url: { type: "string", value: "<url>", description: "the Supabase project URL (default: $SUPABASE_URL)", group: "Connection" },
  "service-role-key": {
    type: "string",
    value: "<key>",
    description: "service_role or secret key (default: $SUPABASE_SERVICE_ROLE_KEY, then $SUPABASE_SECRET_KEY)",
    group: "Connection",
  },
  ...LOCAL_FLAG,
  json: { type: "boolean", default: false, description: "print machine-readable JSON", group: "Connection" },
} as const satisfies FlagSpecs;

export interface IssuerRow {
  issuer: string;
  description: string | null;
  db_role: string;
  allowed_roles: string[];
  max_token_lifetime_seconds: number;
  require_jti: boolean;
  /** Requests per second for the project, all gateway instances together (null: no limit); absent before the operations migration. */
  rate_limit_per_second?: number | null;
  rate_limit_burst?: number | null;
  is_active: boolean;
  created_at: string;
}

export interface KeyRow {
  issuer: string;
  kid: string | null;
  alg: string;
  public_key_pem: string | null;
  public_jwk: Record<string, unknown> | null;
  jwks_uri: string | null;
  is_active: boolean;
  not_before: string | null;
  expires_at: string | null;
  created_at: string;
}

export const enc = encodeURIComponent;

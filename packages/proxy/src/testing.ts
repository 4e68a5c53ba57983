// A fake Supabase project and token helpers for testing the proxy in-process (import "@fedjwt/proxy/testing").
// Used by this package's tests and by the fuzzer; not needed to run the proxy.
// deno-lint-ignore-file require-await -- async lambdas keep the case tables uniform
import {
  exportJWK,
  generateKeyPair as joseKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey as JoseCryptoKey,
  type JWK,
  type JWTPayload,
} from "jose";
import { generateKeyPair, type GeneratedKeyPair, type SupportedAlg } from "@fedjwt/signer";
import { createJwtSwapProxy, type ProxyOptions } from "./handler.ts";
import type { IssuerPolicy, RegistryKey } from "./registry.ts";
import type { TrustDocument, TrustPolicyRow, UrlIssuer } from "./trust-registry.ts";

export const SUPABASE_URL = "http://project.test";
export const AUDIENCE = "https://project.test";
export const SERVICE_KEY = "sb_secret_test_service_key";
export const API_KEY = "sb_publishable_test_key";
export const JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

/** A registered writer: its keypair and registry row. */
export interface Writer {
  issuer: string;
  keys: GeneratedKeyPair;
  policy: IssuerPolicy;
}

type Row = RegistryKey & IssuerPolicy;

export interface Call {
  method: string;
  url: string;
  headers: Headers;
  body: string | null;
}

/** A writer's row as /rest/v1/jwt_registry returns it: its PEM public key, usable, with its policy (and `key` over it). */
export function registryRow(writer: Writer, key: Partial<RegistryKey> = {}): RegistryKey & IssuerPolicy {
  return {
    issuer: writer.issuer,
    kid: writer.keys.kid,
    alg: writer.keys.alg,
    public_key_pem: writer.keys.publicKeyPem,
    public_jwk: null,
    jwks_uri: null,
    usable: true,
    not_before: null,
    expires_at: null,
    ...writer.policy,
    ...key,
  };
}

/** A fake Supabase project: the registry served at /rest/v1/jwt_registry, everything else recorded. */
export class FakeProject {
  rows: Row[] = [];
  consumed = new Set<string>();
  /** Forwarded data requests (not registry reads). */
  calls: Call[] = [];
  registryReads = 0;
  /** Reads of the issuer-name list (jwt_issuers?select=issuer). */
  issuerListReads = 0;
  /** PostgREST's db-max-rows for the issuer list (unlimited when undefined). */
  maxRows: number | undefined;
  jwksFetches = 0;
  jwks = new Map<string, { body: unknown; cacheControl?: string; fail?: boolean; hang?: boolean; raw?: () => Response }>();
  /** URL issuers and their policies, as public.trust_policies_for returns them (by issuer URL). */
  trust = new Map<string, TrustDocument>();
  /** Calls of rpc/trust_policies_for, and reads of the URL issuer list. */
  trustReads = 0;
  urlIssuerListReads = 0;
  /** Discovery documents served (by URL), and how often they were fetched. */
  discovery = new Map<string, { body: unknown; cacheControl?: string; fail?: boolean; raw?: () => Response }>();
  discoveryFetches = 0;
  /** Batches written with rpc/record_key_usage. */
  usageBatches: unknown[][] = [];
  /** Reports written with rpc/record_rate_windows. */
  limitReports: Array<{ p_instance: string; p_counts: unknown[] }> = [];
  /** What rpc/record_rate_windows answers (default: nothing known, so every instance limits on its own). */
  limitAnswer: () => Record<string, { seen: number; mine: number }> = () => ({});
  /** When "down", rpc/record_key_usage fails (the rest of the registry is unaffected). */
  usageMode: "ok" | "down" | "500" = "ok";
  /** Overrides for failure tests. */
  registryMode: "ok" | "500" | "hang" | "down" = "ok";
  upstreamMode: "ok" | "hang" | "down" = "ok";
  upstreamResponse: () => Response = () =>
    new Response(JSON.stringify([{ id: 1 }]), { status: 200, headers: { "content-type": "application/json", "content-range": "0-0/*" } });

  add(writer: Writer, key: Partial<RegistryKey> = {}): void {
    this.rows.push(registryRow(writer, key));
  }

  set(issuer: string, patch: Partial<Row>): void {
    for (const r of this.rows) if (r.issuer === issuer) Object.assign(r, patch);
  }

  fetch: typeof fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const u = new URL(url);
    const signal = init?.signal ?? undefined;
    const headers = new Headers(init?.headers);
    const method = init?.method ?? "GET";
    if (this.discovery.has(url)) {
      this.discoveryFetches++;
      const d = this.discovery.get(url)!;
      if (d.fail) throw new TypeError("fetch failed");
      if (d.raw) return d.raw();
      return new Response(JSON.stringify(d.body), {
        headers: { "content-type": "application/json", ...(d.cacheControl ? { "cache-control": d.cacheControl } : {}) },
      });
    }
    if (u.pathname === "/rest/v1/rpc/trust_policies_for" || u.pathname === "/rest/v1/jwt_url_issuers") {
      if (headers.get("apikey") !== SERVICE_KEY) return new Response("{}", { status: 401 });
      if (this.registryMode === "down") throw new TypeError("fetch failed");
      if (this.registryMode === "hang") return hang(signal);
      if (this.registryMode === "500") return new Response("{}", { status: 500 });
      if (u.pathname === "/rest/v1/jwt_url_issuers") {
        this.urlIssuerListReads++;
        const all = [...this.trust.keys()].map((issuer_url) => ({ issuer_url }));
        const range = all.length === 0 ? "*/0" : `0-${all.length - 1}/${all.length}`;
        return Response.json(all, { headers: { "content-range": range } });
      }
      this.trustReads++;
      const { p_issuer_url } = JSON.parse(String(init?.body)) as { p_issuer_url: string };
      const doc = this.trust.get(p_issuer_url);
      return Response.json(doc && doc.policies.length > 0 ? doc : null);
    }
    if (this.jwks.has(url)) {
      this.jwksFetches++;
      const j = this.jwks.get(url)!;
      if (j.fail) throw new TypeError("fetch failed");
      if (j.hang) return hang(signal);
      if (j.raw) return j.raw();
      return new Response(JSON.stringify(j.body), {
        headers: { "content-type": "application/json", ...(j.cacheControl ? { "cache-control": j.cacheControl } : {}) },
      });
    }
    if (u.pathname === "/rest/v1/rpc/record_key_usage") {
      if (headers.get("apikey") !== SERVICE_KEY) return new Response("{}", { status: 401 });
      if (this.usageMode === "down") throw new TypeError("fetch failed");
      if (this.usageMode === "500") return new Response("{}", { status: 500 });
      this.usageBatches.push((JSON.parse(String(init?.body)) as { p_usage: unknown[] }).p_usage);
      return new Response(null, { status: 204 });
    }
    if (u.pathname === "/rest/v1/rpc/record_rate_windows") {
      if (headers.get("apikey") !== SERVICE_KEY) return new Response("{}", { status: 401 });
      this.limitReports.push(JSON.parse(String(init?.body)) as { p_instance: string; p_counts: unknown[] });
      return Response.json(this.limitAnswer());
    }
    if (u.pathname === "/rest/v1/jwt_registry" || u.pathname === "/rest/v1/rpc/consume_jwt_id" || u.pathname === "/rest/v1/jwt_issuers") {
      if (headers.get("apikey") !== SERVICE_KEY) return new Response("{}", { status: 401 });
      if (this.registryMode === "down") throw new TypeError("fetch failed");
      if (this.registryMode === "hang") return hang(signal);
      if (this.registryMode === "500") return new Response("{}", { status: 500 });
      if (u.pathname.endsWith("consume_jwt_id")) {
        const b = JSON.parse(String(init?.body)) as { p_issuer: string; p_jti: string };
        const id = `${b.p_issuer}\n${b.p_jti}`;
        const fresh = !this.consumed.has(id);
        this.consumed.add(id);
        return Response.json(fresh);
      }
      if (u.pathname === "/rest/v1/jwt_issuers") {
        this.issuerListReads++;
        const all = [...new Set(this.rows.map((r) => r.issuer))].map((issuer) => ({ issuer }));
        const page = all.slice(0, this.maxRows ?? all.length);
        const range = page.length === 0 ? `*/${all.length}` : `0-${page.length - 1}/${all.length}`;
        return Response.json(page, { headers: { "content-range": range } });
      }
      this.registryReads++;
      const issuer = decodeURIComponent(u.searchParams.get("issuer")!.replace(/^eq\./, ""));
      return Response.json(this.rows.filter((r) => r.issuer === issuer));
    }
    if (this.upstreamMode === "down") throw new TypeError("fetch failed");
    if (this.upstreamMode === "hang") return hang(signal);
    const body = init?.body == null ? null : new TextDecoder().decode(init.body as Uint8Array);
    this.calls.push({ method, url, headers, body });
    return this.upstreamResponse();
  };
}

function hang(signal: AbortSignal | undefined): Promise<Response> {
  return new Promise((_, reject) => {
    signal?.addEventListener("abort", () => reject(signal.reason));
  });
}

export const DEFAULT_POLICY: IssuerPolicy = {
  db_role: "federated_writer",
  db_role_valid: true,
  allowed_roles: ["widgets_writer"],
  max_token_lifetime_seconds: 300,
  require_jti: false,
};

const keyCache = new Map<SupportedAlg, GeneratedKeyPair[]>();
/** A keypair per call, reused across tests (RSA generation is slow). */
export async function keypair(alg: SupportedAlg = "ES256", index = 0): Promise<GeneratedKeyPair> {
  const list = keyCache.get(alg) ?? [];
  keyCache.set(alg, list);
  while (list.length <= index) list.push(await generateKeyPair({ alg }));
  return list[index]!;
}

export async function writer(issuer: string, alg: SupportedAlg = "ES256", policy: Partial<IssuerPolicy> = {}, index = 0): Promise<Writer> {
  return { issuer, keys: await keypair(alg, index), policy: { ...DEFAULT_POLICY, ...policy } };
}

/** Signs arbitrary header and claims with a writer's key (for malformed-but-signed cases). */
export async function rawToken(w: Writer, payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const { importPKCS8 } = await import("jose");
  const key = await importPKCS8(w.keys.privateKeyPem, w.keys.alg);
  return new SignJWT(payload).setProtectedHeader({ alg: w.keys.alg, kid: w.keys.kid, typ: "JWT", ...header }).sign(key);
}

/** The standard claims of a good token from `w`, minted now. */
export function goodClaims(w: Writer, extra: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: w.issuer,
    aud: AUDIENCE,
    sub: "worker-1",
    iat: now,
    exp: now + 60,
    jti: crypto.randomUUID(),
    roles: ["widgets_writer"],
    ...extra,
  };
}

export interface Harness {
  project: FakeProject;
  handler: (req: Request) => Promise<Response>;
  logs: Array<Record<string, unknown>>;
}

/** A gateway over a fake project with the given writers registered. */
export function harness(writers: Writer[], options: Partial<ProxyOptions> = {}): Harness {
  const project = new FakeProject();
  for (const w of writers) project.add(w);
  const logs: Array<Record<string, unknown>> = [];
  const handler = createJwtSwapProxy({
    supabaseUrl: SUPABASE_URL,
    serviceKey: SERVICE_KEY,
    apiKey: API_KEY,
    audience: AUDIENCE,
    signingKey: { hs256Secret: JWT_SECRET },
    fetch: project.fetch,
    logger: (e) => logs.push(e),
    ...options,
  });
  return { project, handler, logs };
}

/** A request to the gateway as a writer would send it. */
export function request(path: string, token: string | null, init: RequestInit & { headers?: Record<string, string> } = {}): Request {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return new Request(`http://gateway.test${path}`, { ...init, headers });
}

/** The claims of the token PostgREST received, verified with the project's JWT secret. */
export async function outboundClaims(call: { headers: Headers }): Promise<JWTPayload> {
  const bearer = call.headers.get("authorization")!.replace(/^Bearer /, "");
  return (await jwtVerify(bearer, new TextEncoder().encode(JWT_SECRET), { algorithms: ["HS256"] })).payload;
}

export type { JWK };

/** A test identity provider: a keypair, its JWKS, and tokens shaped as a provider issues them. */
export class TestIdp {
  readonly issuerUrl: string;
  readonly alg: string;
  readonly kid: string;
  readonly #privateKey: JoseCryptoKey;
  readonly publicJwk: JWK;

  private constructor(issuerUrl: string, alg: string, kid: string, privateKey: JoseCryptoKey, publicJwk: JWK) {
    this.issuerUrl = issuerUrl;
    this.alg = alg;
    this.kid = kid;
    this.#privateKey = privateKey;
    this.publicJwk = publicJwk;
  }

  /** A provider at `issuerUrl` signing with `alg` (RS256, ES256, ES384, PS256, EdDSA). */
  static async create(issuerUrl: string, alg = "RS256", kid = `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`): Promise<TestIdp> {
    const { privateKey, publicKey } = await joseKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
    return new TestIdp(issuerUrl, alg, kid, privateKey, jwk);
  }

  /** The JWKS document. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /** Signs `claims` (iss, iat, exp filled in unless given) with the provider's key; `header` adds to {alg, kid, typ: JWT}. */
  sign(claims: Record<string, unknown>, header: Record<string, unknown> = {}, lifetimeSeconds = 300): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: this.issuerUrl, iat: now, exp: now + lifetimeSeconds, ...claims })
      .setProtectedHeader({ alg: this.alg, kid: this.kid, typ: "JWT", ...header })
      .sign(this.#privateKey);
  }
}

/** A URL issuer row with test defaults (JWKS at `jwksUri`, RS256, ID tokens, 900 s, 30 s tolerance). */
export function urlIssuer(issuerUrl: string, jwksUri: string | null, patch: Partial<UrlIssuer> = {}): UrlIssuer {
  return {
    issuer_url: issuerUrl,
    jwks_uri: jwksUri,
    token_kind: "id_token",
    algs: ["RS256"],
    max_lifetime_seconds: 900,
    clock_tolerance_seconds: 30,
    ...patch,
  };
}

/** A trust policy row for `writer` with DEFAULT_POLICY as its writer policy unless given. */
export function trustPolicy(
  writer: string,
  provider: string,
  conditions: Record<string, string>,
  patch: Partial<TrustPolicyRow> = {},
): TrustPolicyRow {
  return {
    id: crypto.randomUUID(),
    writer,
    provider,
    conditions,
    allow_self_hosted: false,
    allow_events: [],
    writer_policy: { ...DEFAULT_POLICY },
    ...patch,
  };
}

/** The claims of a GitHub Actions OIDC token (a push to main of octo-org/octo-repo on a hosted runner), with `extra` over them. */
export function githubClaims(extra: Record<string, unknown> = {}): JWTPayload {
  return {
    aud: AUDIENCE,
    sub: "repo:octo-org/octo-repo:ref:refs/heads/main",
    jti: crypto.randomUUID(),
    ref: "refs/heads/main",
    sha: "d6b4b3c3a1e0f5e2c0a7d5e8f9a0b1c2d3e4f5a6",
    repository: "octo-org/octo-repo",
    repository_owner: "octo-org",
    repository_owner_id: "74",
    repository_id: "1296269",
    repository_visibility: "private",
    run_id: "6287356523",
    run_number: "12",
    run_attempt: "1",
    actor: "octocat",
    actor_id: "583231",
    workflow: "deploy",
    workflow_ref: "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
    job_workflow_ref: "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
    event_name: "push",
    ref_type: "branch",
    ref_protected: "true",
    runner_environment: "github-hosted",
    ...extra,
  };
}

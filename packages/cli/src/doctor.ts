// fedjwt doctor: checks a deployment end to end and says, one line per check, what is wrong and how to fix it.
import { REASONS } from "@fedjwt/proxy";
import { createSigner, generateKeyPair, type Signer } from "@fedjwt/signer";
import { CliError } from "./errors.ts";
import { enc, RegistryClient, type IssuerRow, type KeyRow, type TrustPolicyRow, type UrlIssuerRow } from "./registry-client.ts";
import { probeUrlIssuer } from "./trust.ts";
import { fetchUsage, staticKids, usageOf } from "./usage.ts";

/** Keys that expire within this are reported by the keys check. */
export const EXPIRY_WARNING_MS = 7 * 86_400_000;

/** The keys check: active keys never seen by the gateway (in the 35 days of usage kept) and keys expiring within 7 days. */
async function keysCheck(client: RegistryClient, nowMs: number): Promise<DoctorCheck> {
  try {
    const keys = await client.request<KeyRow[]>(
      "GET",
      "jwt_public_keys?select=issuer,kid,is_active,expires_at&is_active=is.true&order=issuer,created_at",
    );
    const usage = await fetchUsage(client, nowMs);
    const neverSeen: string[] = [];
    const expiring: string[] = [];
    for (const k of keys) {
      const name = `${k.issuer}/${k.kid ?? "jwks"}`;
      const kids = staticKids(keys.filter((o) => o.issuer === k.issuer));
      if (!usageOf(usage, k.issuer, k.kid, kids).last_seen_at) neverSeen.push(name);
      const expires = k.expires_at === null ? Number.NaN : Date.parse(k.expires_at);
      if (expires > nowMs && expires - nowMs <= EXPIRY_WARNING_MS) expiring.push(`${name} (${k.expires_at})`);
    }
    const parts = [
      ...(neverSeen.length ? [`never seen by the gateway: ${neverSeen.join(", ")}`] : []),
      ...(expiring.length ? [`expiring within 7 days: ${expiring.join(", ")}`] : []),
    ];
    if (parts.length === 0)
      return { id: "keys", status: "ok", message: `${keys.length} active key(s), each seen by the gateway, none expiring within 7 days` };
    return {
      id: "keys",
      status: "warn",
      message: parts.join("; "),
      fix: "a key never seen is unused (retire it: fedjwt rotate --retire) or its writer is not running; rotate expiring keys (fedjwt rotate)",
    };
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    return { id: "keys", status: "fail", message: e.message, fix: "apply the template's latest migrations (supabase db push)" };
  }
}

/**
 * The issuers check: each active URL issuer with an active trust policy serves its OIDC discovery document
 * (whose issuer is the registered URL exactly) and a JWKS with a key for its algorithms.
 */
async function issuersCheck(client: RegistryClient, doFetch: typeof fetch): Promise<DoctorCheck> {
  let issuers: UrlIssuerRow[];
  let policies: TrustPolicyRow[];
  try {
    issuers = await client.request<UrlIssuerRow[]>("GET", "jwt_url_issuers?select=*&is_active=is.true&order=issuer_url");
    policies = await client.request<TrustPolicyRow[]>("GET", "jwt_trust_policies?select=issuer_url&is_active=is.true");
  } catch (e) {
    if (e instanceof CliError && e.code === "registry_missing")
      return {
        id: "issuers",
        status: "skip",
        message: "not checked: this registry has no trust policies yet (apply the latest migrations)",
      };
    throw e;
  }
  const used = issuers.filter((i) => policies.some((p) => p.issuer_url === i.issuer_url));
  if (used.length === 0) return { id: "issuers", status: "skip", message: "no URL issuer with an active trust policy" };
  const probes = await Promise.all(used.map((i) => probeUrlIssuer(i, doFetch)));
  const bad = probes.filter((p) => !p.ok);
  if (bad.length === 0) return { id: "issuers", status: "ok", message: probes.map((p) => `${p.issuer}: ${p.message}`).join("; ") };
  return {
    id: "issuers",
    status: "fail",
    message: bad.map((p) => `${p.issuer}: ${p.message}`).join("; "),
    fix: "the gateway answers 503 discovery_unavailable / jwks_unavailable for these issuers' tokens: check the issuer URL (fedjwt list) and that its discovery and JWKS are reachable from the function",
  };
}

/** The checks, in the order they run and are printed. */
export const DOCTOR_CHECKS = ["function", "registry", "keys", "issuers", "clock", "writer", "audience", "postgrest"] as const;
export type DoctorCheckId = (typeof DOCTOR_CHECKS)[number];

/** One check's outcome: `fix` says what to do when it failed. */
export interface DoctorCheck {
  id: DoctorCheckId;
  /** warn: worth a look, not a failure (the exit code stays 0). */
  status: "ok" | "warn" | "fail" | "skip";
  message: string;
  fix?: string;
  /** What the deployment answered, when it decided the outcome. */
  http?: { status: number; code?: string };
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  /** The project URL, e.g. https://<ref>.supabase.co. */
  url: string;
  /** The anon or publishable key: the `apikey` of requests to the function. */
  anonKey?: string;
  /** The service_role or secret key: reads the registry (registry and writer checks). */
  serviceKey?: string;
  /** The function's name (default "rest"). */
  functionName?: string;
  /** The audience writers put in `aud` (default: the URL). */
  audience?: string;
  /** A registered writer: its issuer name and private key (PEM or JWK text). */
  writer?: { issuer: string; privateKey: string; kid?: string; roles?: string[] };
  /** The table the writer's probe request reads (default: one that does not exist; PostgREST's 404 proves the token was accepted). */
  table?: string;
  /** Largest accepted difference between this clock and the server's Date, in seconds (default 10). */
  maxSkewSeconds?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

const PROBE_ISSUER = "fedjwt-doctor-probe";
const PROBE_TABLE = "fedjwt_doctor_probe";
const REGISTRY_TABLES = ["jwt_issuers", "jwt_public_keys", "jwt_registry", "jwt_registry_audit"] as const;
interface Answer {
  status: number;
  body: { code?: unknown; message?: unknown; msg?: unknown } | undefined;
  date: string | null;
}

/** The gateway's reason code in an answer, when the function itself (not the platform or PostgREST) answered. */
function gatewayReason(a: Answer): string | undefined {
  const code = a.body?.code;
  return typeof code === "string" && Object.hasOwn(REASONS, code) ? code : undefined;
}

function summarize(a: Answer): string {
  const code = typeof a.body?.code === "string" || typeof a.body?.code === "number" ? ` ${a.body.code}` : "";
  const message = typeof a.body?.message === "string" ? a.body.message : typeof a.body?.msg === "string" ? a.body.msg : "";
  return `HTTP ${a.status}${code}${message ? ` (${message})` : ""}`;
}

function http(a: Answer): { status: number; code?: string } {
  return typeof a.body?.code === "string" ? { status: a.status, code: a.body.code } : { status: a.status };
}

/** Runs every check against a deployment; never throws for what the deployment answers, only for bad options. */
export async function doctor(options: DoctorOptions): Promise<DoctorReport> {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const url = options.url.replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+$/.test(url))
    throw new CliError("bad_arguments", `--url ${JSON.stringify(options.url)} is not an http(s) project URL`);
  const fn = options.functionName ?? "rest";
  const fnUrl = `${url}/functions/v1/${fn}`;
  const audience = options.audience ?? url;
  const maxSkew = options.maxSkewSeconds ?? 10;
  const checks = new Map<DoctorCheckId, DoctorCheck>();
  const set = (c: DoctorCheck) => checks.set(c.id, c);

  const call = async (path: string, token: string): Promise<Answer> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "application/json" };
    if (options.anonKey) headers.apikey = options.anonKey;
    const res = await doFetch(`${fnUrl}/${path}`, { headers, signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    let body: Answer["body"];
    try {
      body = text ? (JSON.parse(text) as Answer["body"]) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, body, date: res.headers.get("date") };
  };

  // 1. The function: reachable, verify_jwt off, configured. A token signed by a throwaway key must reach the
  //    function itself, which refuses it with one of its own reason codes.
  const probeKey = await generateKeyPair({ alg: "ES256" });
  const probe = await createSigner({ privateKey: probeKey.privateKeyPem, issuer: PROBE_ISSUER, audience, now });
  let probeAnswer: Answer | undefined;
  let sentAt = 0;
  let answeredAt = 0;
  try {
    const token = await probe.sign();
    sentAt = now();
    probeAnswer = await call(PROBE_TABLE, token);
    answeredAt = now();
  } catch (e) {
    const c = (e as { cause?: { code?: string; message?: string } }).cause;
    set({
      id: "function",
      status: "fail",
      message: `cannot reach ${fnUrl} (${c?.code ?? c?.message ?? (e as Error).name})`,
      fix: "check --url (the project URL, e.g. https://<ref>.supabase.co)",
    });
  }
  let functionWorks = false;
  if (probeAnswer) {
    const reason = gatewayReason(probeAnswer);
    if (reason === "proxy_misconfigured") {
      set({
        id: "function",
        status: "fail",
        http: http(probeAnswer),
        message: `${fnUrl} runs but is not configured (503 proxy_misconfigured)`,
        fix: "set FEDJWT_AUDIENCE and one of FEDJWT_LEGACY_JWT_SECRET / FEDJWT_SIGNING_JWK (supabase secrets set …); the function's log names what is missing",
      });
    } else if (reason !== undefined) {
      functionWorks = true;
      set({
        id: "function",
        status: "ok",
        http: http(probeAnswer),
        message: `${fnUrl} answers and verify_jwt is off (a probe token got ${probeAnswer.status} ${reason} from the function itself)`,
      });
    } else if ((probeAnswer.status === 401 || probeAnswer.status === 403) && /api ?key/i.test(summarize(probeAnswer))) {
      set({
        id: "function",
        status: "fail",
        http: http(probeAnswer),
        message: `the platform refused the apikey (${summarize(probeAnswer)})`,
        fix: "pass the project's anon or publishable key with --anon-key (or SUPABASE_ANON_KEY)",
      });
    } else if (probeAnswer.status === 401 || probeAnswer.status === 403) {
      set({
        id: "function",
        status: "fail",
        http: http(probeAnswer),
        message: `the platform refused a writer token before the function ran (${summarize(probeAnswer)}): verify_jwt is on`,
        fix: `set [functions.${fn}] verify_jwt = false in supabase/config.toml and deploy with: supabase functions deploy ${fn} --no-verify-jwt`,
      });
    } else if (probeAnswer.status === 404) {
      set({
        id: "function",
        status: "fail",
        http: http(probeAnswer),
        message: `no function "${fn}" at ${fnUrl} (${summarize(probeAnswer)})`,
        fix: `deploy it: supabase functions deploy ${fn} --no-verify-jwt`,
      });
    } else {
      set({
        id: "function",
        status: "fail",
        http: http(probeAnswer),
        message: `${fnUrl} answered ${summarize(probeAnswer)}, not the gateway's own refusal`,
        fix: "check the function's logs (supabase functions logs) and that it is this repository's rest function",
      });
    }
  }

  // 2. The registry: the migrations' tables, read with the service key.
  if (!options.serviceKey) {
    set({
      id: "registry",
      status: "skip",
      message: "not checked: give --service-role-key (or SUPABASE_SERVICE_ROLE_KEY / SUPABASE_SECRET_KEY)",
    });
  } else {
    const client = new RegistryClient(url, options.serviceKey, doFetch);
    const missing: string[] = [];
    let failure: CliError | undefined;
    for (const table of REGISTRY_TABLES) {
      try {
        await client.request("GET", `${table}?select=*&limit=0`);
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        if (e.code === "registry_missing") missing.push(table);
        else {
          failure = e;
          break;
        }
      }
    }
    const httpOf = (e: CliError) => ({ status: e.status ?? 0, ...(e.upstreamCode !== undefined ? { code: e.upstreamCode } : {}) });
    if (failure) {
      set({
        id: "registry",
        status: "fail",
        http: httpOf(failure),
        message: failure.message,
        fix:
          failure.code === "key_refused"
            ? "pass the project's service_role or secret key with --service-role-key"
            : "check --url and that the project's Data API is on",
      });
    } else if (missing.length > 0) {
      set({
        id: "registry",
        status: "fail",
        http: { status: 404 },
        message: `the key registry's migrations are not applied (missing: ${missing.join(", ")})`,
        fix: "run fedjwt adopt <project> (it adds the migrations, stamped after yours; skip it when deploying this template itself), then from the project: supabase db push --remote (plain db push targets the local stack)",
      });
    } else {
      set({ id: "registry", status: "ok", message: `registry tables present (${REGISTRY_TABLES.join(", ")})` });
    }
  }

  // 2b. The keys: active keys the gateway never saw, and keys that expire soon.
  if (checks.get("registry")?.status === "ok") set(await keysCheck(new RegistryClient(url, options.serviceKey!, doFetch), now()));
  else set({ id: "keys", status: "skip", message: "not checked: the registry check did not pass" });

  // 2c. The URL issuers of trust policies: discovery and JWKS answer, and say what the registry says.
  if (checks.get("registry")?.status === "ok") set(await issuersCheck(new RegistryClient(url, options.serviceKey!, doFetch), doFetch));
  else set({ id: "issuers", status: "skip", message: "not checked: the registry check did not pass" });

  // 3. The clock, against the server's Date header (tokens carry iat/exp; the gateway allows ±30 s by default).
  const date = probeAnswer?.date ? Date.parse(probeAnswer.date) : Number.NaN;
  if (Number.isNaN(date)) {
    set({ id: "clock", status: "skip", message: "not checked: the server sent no Date header" });
  } else {
    // Date has whole seconds: compare with the middle of the round trip, half a second into the server's second.
    const skew = Math.round(((sentAt + answeredAt) / 2 - (date + 500)) / 1000);
    const what = skew === 0 ? "in step with" : `${Math.abs(skew)} s ${skew > 0 ? "ahead of" : "behind"}`;
    if (Math.abs(skew) > maxSkew) {
      set({
        id: "clock",
        status: "fail",
        message: `this machine's clock is ${what} the server's (more than ${maxSkew} s)`,
        fix: "sync this machine's clock (NTP): writers' tokens carry iat/exp, and the gateway allows ±30 s (FEDJWT_CLOCK_TOLERANCE_SECONDS)",
      });
    } else {
      set({ id: "clock", status: "ok", message: `this machine's clock is ${what} the server's` });
    }
  }

  // 4–6. A registered writer: its registry rows, then one minted request through the function to PostgREST.
  const w = options.writer;
  if (!w) {
    const why = "not checked: give --issuer and --key (a registered writer's private key)";
    for (const id of ["writer", "audience", "postgrest"] as const) set({ id, status: "skip", message: why });
  } else {
    let signer: Signer;
    try {
      signer = await createSigner({ privateKey: w.privateKey, issuer: w.issuer, audience, now, ...(w.kid ? { kid: w.kid } : {}) });
    } catch (e) {
      throw new CliError("bad_key", `--key: ${(e as Error).message}`, { cause: e });
    }
    if (options.serviceKey && checks.get("registry")?.status === "ok")
      set(await registeredWriter(new RegistryClient(url, options.serviceKey, doFetch), w.issuer, signer.kid));
    if (!functionWorks) {
      for (const id of ["audience", "postgrest"] as const) set({ id, status: "skip", message: "not checked: the function check failed" });
      if (!checks.has("writer")) set({ id: "writer", status: "skip", message: "not checked: the function check failed" });
    } else {
      const table = options.table ?? PROBE_TABLE;
      let a: Answer;
      try {
        a = await call(`${table}?select=*&limit=0`, await signer.sign(w.roles?.length ? { roles: w.roles } : {}));
      } catch (e) {
        throw new CliError("unreachable", `cannot reach ${fnUrl}: ${(e as Error).message}`, { exitCode: 1, cause: e });
      }
      applyWriterAnswer(a, { set, checks, issuer: w.issuer, kid: signer.kid, audience, table, fn });
    }
  }
  const list = DOCTOR_CHECKS.map((id) => checks.get(id)!).filter(Boolean);
  return { ok: list.every((c) => c.status !== "fail"), checks: list };
}

/** The writer's rows: issuer registered and active, this key's kid registered and active (or a JWKS). */
async function registeredWriter(client: RegistryClient, issuer: string, kid: string): Promise<DoctorCheck> {
  const [row] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(issuer)}&select=*`);
  const register = `fedjwt register --issuer ${issuer} --public-key <its .pub file>`;
  if (!row) return { id: "writer", status: "fail", message: `issuer "${issuer}" is not registered`, fix: register };
  if (!row.is_active)
    return {
      id: "writer",
      status: "fail",
      message: `issuer "${issuer}" is deactivated`,
      fix: `register a new issuer name, or reactivate it deliberately in jwt_issuers`,
    };
  const keys = await client.request<KeyRow[]>("GET", `jwt_public_keys?issuer=eq.${enc(issuer)}&select=kid,is_active,jwks_uri`);
  const mine = keys.find((k) => k.kid === kid);
  const jwks = keys.find((k) => k.jwks_uri !== null && k.is_active);
  if (mine && !mine.is_active)
    return {
      id: "writer",
      status: "fail",
      message: `key ${kid} of issuer "${issuer}" is deactivated`,
      fix: `generate a new key (fedjwt keygen) and register it: fedjwt rotate --issuer ${issuer} --public-key <new .pub>`,
    };
  if (!mine && !jwks) {
    const others = keys.filter((k) => k.is_active).map((k) => k.kid ?? "jwks");
    return {
      id: "writer",
      status: "fail",
      message: `key ${kid} is not registered for issuer "${issuer}" (active keys: ${others.join(", ") || "none"})`,
      fix: `fedjwt rotate --issuer ${issuer} --public-key <this key's .pub>`,
    };
  }
  return {
    id: "writer",
    status: "ok",
    message: mine
      ? `issuer "${issuer}" and key ${kid} are registered and active`
      : `issuer "${issuer}" is registered with a JWKS URL (${jwks!.jwks_uri})`,
  };
}

function applyWriterAnswer(
  a: Answer,
  ctx: {
    set: (c: DoctorCheck) => void;
    checks: Map<DoctorCheckId, DoctorCheck>;
    issuer: string;
    kid: string;
    audience: string;
    table: string;
    fn: string;
  },
): void {
  const { set, checks } = ctx;
  const reason = gatewayReason(a);
  const postgrestSkip = { id: "postgrest", status: "skip", message: "not checked: the function refused the writer's token" } as const;
  if (reason === "audience_mismatch") {
    if (!checks.has("writer")) set({ id: "writer", status: "ok", message: `the function knows issuer "${ctx.issuer}" and key ${ctx.kid}` });
    set({
      id: "audience",
      status: "fail",
      http: http(a),
      message: `the function refused aud "${ctx.audience}" (401 audience_mismatch): its FEDJWT_AUDIENCE is something else`,
      fix: `supabase secrets set FEDJWT_AUDIENCE=${ctx.audience} (or, if writers use the configured value, pass it with --audience)`,
    });
    set(postgrestSkip);
    return;
  }
  if (reason !== undefined) {
    const r = REASONS[reason as keyof typeof REASONS];
    const refused = {
      status: "fail",
      http: http(a),
      message: `the function refused the writer's token: ${a.status} ${reason} (${r.message})`,
      fix: r.hint,
    } as const;
    if (reason === "token_expired" || reason === "token_not_yet_valid") {
      if (!checks.has("writer")) set({ id: "writer", status: "skip", message: "not checked: see the clock" });
      set({ id: "audience", ...refused, fix: "sync this machine's clock (NTP)" });
    } else {
      if (checks.get("writer")?.status !== "fail") set({ id: "writer", ...refused });
      set({ id: "audience", status: "skip", message: "not checked: the writer's token was refused first" });
    }
    set(postgrestSkip);
    return;
  }
  // The function accepted the token and forwarded the request: what follows is PostgREST's answer.
  if (!checks.has("writer"))
    set({ id: "writer", status: "ok", message: `the function accepted a token from issuer "${ctx.issuer}" (key ${ctx.kid})` });
  set({ id: "audience", status: "ok", message: `the function accepts aud "${ctx.audience}"` });
  const code = typeof a.body?.code === "string" ? a.body.code : undefined;
  const message = typeof a.body?.message === "string" ? a.body.message : "";
  const accepted = `PostgREST accepted the function's re-signed token`;
  if (a.status === 401 || /^PGRST3/.test(code ?? "")) {
    set({
      id: "postgrest",
      status: "fail",
      http: http(a),
      message: `PostgREST refused the function's re-signed token (${summarize(a)})`,
      fix: "FEDJWT_LEGACY_JWT_SECRET must be the project's JWT secret (Dashboard → Settings → JWT Keys), or FEDJWT_SIGNING_JWK the private JWK of a signing key imported into the project",
    });
  } else if (code === "42501" && /set role|permission denied to set/i.test(message)) {
    set({
      id: "postgrest",
      status: "fail",
      http: http(a),
      message: `PostgREST could not switch to the issuer's db_role (${summarize(a)})`,
      fix: "the db_role must be granted to authenticator: grant <db_role> to authenticator",
    });
  } else if (a.status < 300) {
    set({ id: "postgrest", status: "ok", http: http(a), message: `${accepted} (${a.status} for ${ctx.table})` });
  } else if ((code === "PGRST205" || code === "42P01") && ctx.table === PROBE_TABLE) {
    set({ id: "postgrest", status: "ok", http: http(a), message: `${accepted} (it looked up the probe table: ${a.status} ${code})` });
  } else if (code === "42501") {
    set({
      id: "postgrest",
      status: "ok",
      http: http(a),
      message: `${accepted}; the writer may not read ${ctx.table} (${a.status} 42501), as its grants and policies say`,
    });
  } else {
    set({
      id: "postgrest",
      status: "fail",
      http: http(a),
      message: `the request through the function failed: ${summarize(a)}`,
      fix: "see the function's and PostgREST's logs",
    });
  }
}

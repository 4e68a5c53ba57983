// Trust policies on the CLI side: conditions from --claim, every check the registry makes (from the gateway's
// own templates), the words `fedjwt trust` prints about what a policy admits, and the discovery/JWKS probe
// `fedjwt doctor` runs for each URL issuer.
import {
  audienceProblems,
  isAllowedJwksUri,
  isProviderName,
  PROVIDER_NAMES,
  PROVIDERS,
  policyProblems,
  type PolicyProblem,
  type ProviderName,
  type ProviderTemplate,
  type TokenKind,
  urlIssuerProblems,
} from "@fedjwt/proxy";
import { CliError } from "./errors.ts";
import type { IssuerRow, TrustPolicyRow, UrlIssuerRow } from "./registry-client.ts";

/** Parses repeated `--claim name=value` into exact conditions; a claim given twice is refused. */
export function parseConditions(claims: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of claims) {
    const eq = c.indexOf("=");
    if (eq <= 0) throw new CliError("bad_claim", `--claim ${JSON.stringify(c)} must be name=value (an exact value)`);
    const name = c.slice(0, eq);
    if (Object.hasOwn(out, name))
      throw new CliError("bad_claim", `--claim ${name} is given twice: a policy pins one exact value per claim`);
    out[name] = c.slice(eq + 1);
  }
  return out;
}

/**
 * The template whose tenants share `issuerUrl` (GitHub, GitLab.com, Google, Entra's hosts), as the registry
 * decides it: only that template's pins tell one tenant from another, so no other template may use it.
 */
export function platformOf(issuerUrl: string): ProviderName | undefined {
  if (/^https:\/\/token\.actions\.githubusercontent\.com(\/|$)/.test(issuerUrl)) return "github-actions";
  if (/^https:\/\/token\.actions\.[a-z0-9-]+\.ghe\.com(\/|$)/.test(issuerUrl)) return "github-actions";
  if (/^https:\/\/gitlab\.com\/?$/.test(issuerUrl)) return "gitlab";
  if (/^https:\/\/accounts\.google\.com\/?$/.test(issuerUrl)) return "google";
  if (/^https:\/\/(login\.microsoftonline\.com|sts\.windows\.net|login\.microsoft\.com)\//.test(issuerUrl)) return "entra";
  return undefined;
}

/** What a new policy and its URL issuer would be: the input of every check. */
export interface TrustInput {
  provider: string;
  issuerUrl: string;
  conditions: Record<string, string>;
  allowSelfHosted: boolean;
  allowEvents: string[];
  tokenKind: TokenKind;
  algs: string[];
  maxLifetimeSeconds: number;
  audience?: string;
}

/** Every reason the registry would refuse this policy (the templates' checks and the shared-issuer rule). */
export function trustProblems(input: TrustInput): PolicyProblem[] {
  const out = policyProblems({
    provider: input.provider,
    issuerUrl: input.issuerUrl,
    conditions: input.conditions,
    allowSelfHosted: input.allowSelfHosted,
    allowEvents: input.allowEvents,
    tokenKind: input.tokenKind,
  });
  out.push(...urlIssuerProblems({ algs: input.algs, maxLifetimeSeconds: input.maxLifetimeSeconds }));
  const platform = platformOf(input.issuerUrl);
  if (platform && platform !== input.provider) {
    out.push({
      code: "issuer_not_allowed",
      message: `${input.issuerUrl} is ${platform}'s issuer, shared by all its tenants: use --provider ${platform}`,
    });
  }
  if (input.audience !== undefined) out.push(...audienceProblems(input.audience));
  return out;
}

/** The template of a --provider value, or a bad_arguments error listing the templates. */
export function templateOf(provider: string): ProviderTemplate {
  if (!isProviderName(provider))
    throw new CliError("bad_arguments", `--provider ${JSON.stringify(provider)} is not a template: one of ${PROVIDER_NAMES.join(", ")}`);
  return PROVIDERS[provider];
}

const quote = (v: string) => JSON.stringify(v);

/**
 * In words, exactly which tokens a policy admits and what they may do: every check the gateway makes, in the
 * order it makes them, then what is left open (a repository's every branch, when nothing narrows it).
 */
export function describePolicy(policy: TrustPolicyRow, issuer: UrlIssuerRow, writer: IssuerRow, audience?: string): string[] {
  const t = templateOf(policy.provider);
  const keys = issuer.jwks_uri ? `keys from ${issuer.jwks_uri}` : "keys from its OIDC discovery document";
  const kind = issuer.token_kind === "access_token" ? "an access token (typ at+jwt, or JWT)" : "an ID token (typ absent or JWT)";
  const lines = [
    `It admits ${t.title.replace(/ \(.*\)$/, "")} only when all of this holds:`,
    `  - iss is exactly ${issuer.issuer_url} (${keys}); it is ${kind} signed with ${issuer.algs.join(" or ")}, at most ${issuer.max_lifetime_seconds} s long`,
    `  - aud is exactly ${audience ?? "this project's audience (the gateway's FEDJWT_AUDIENCE)"}, and nothing else`,
  ];
  for (const [name, value] of Object.entries(policy.conditions)) {
    const spec = t.claims[name];
    const note = spec?.kind === "id" ? "  (an immutable ID: a renamed or recreated namesake does not match)" : "";
    const path = spec && spec.path.join(".") !== name ? ` (claim ${spec.path.join(" → ")})` : "";
    lines.push(`  - ${name}${path} = ${quote(value)}${note}`);
  }
  if (t.events) {
    const refused = t.events.refused.filter((e) => !policy.allow_events.includes(e));
    if (refused.length) lines.push(`  - ${t.events.claim} is not ${refused.join(" or ")} (refused by the template)`);
    for (const e of policy.allow_events)
      lines.push(`  - ${t.events.claim} ${e} is admitted although the template refuses it (--allow-event)`);
  }
  if (t.runner) {
    lines.push(
      policy.allow_self_hosted
        ? `  - any runner: self-hosted runners are admitted too (--allow-self-hosted)`
        : `  - ${t.runner.claim} = ${t.runner.value} (self-hosted runners are refused)`,
    );
  }
  const rate = writer.rate_limit_per_second == null ? "none" : `${writer.rate_limit_per_second}/s per gateway instance`;
  lines.push(
    `It writes as writer "${writer.issuer}": db_role=${writer.db_role}, allowed_roles=[${writer.allowed_roles.join(", ")}], rate limit ${rate}.`,
  );
  const narrowers: Partial<Record<ProviderName, string[]>> = {
    "github-actions": ["ref", "environment", "job_workflow_ref", "workflow_ref"],
    gitlab: ["ref", "environment", "ci_config_ref_uri", "ref_protected"],
  };
  const narrow = narrowers[t.name as ProviderName];
  if (narrow && !narrow.some((n) => Object.hasOwn(policy.conditions, n))) {
    lines.push(
      `Every branch, tag, environment and workflow of that project is admitted: add --claim ${narrow[0]}=… or --claim ${narrow[1]}=… to narrow it.`,
    );
  }
  lines.push("Any other token from this issuer is refused (403 no_matching_policy).");
  return lines;
}

/** The OIDC discovery URL of an issuer (its trailing slash dropped before the well-known path). */
export function discoveryUrl(issuerUrl: string): string {
  return `${issuerUrl.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

/** What the probe of one URL issuer found: ok, or a problem and its fix. */
export interface IssuerProbe {
  issuer: string;
  ok: boolean;
  message: string;
}

const MAX_DOCUMENT_BYTES = 512 * 1024;

/** The body as text, or undefined once it passes `max` bytes (the rest is never read). */
async function readAtMost(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

async function getJson(doFetch: typeof fetch, url: string): Promise<{ ok: true; body: unknown } | { ok: false; why: string }> {
  let res: Response;
  try {
    res = await doFetch(url, { headers: { accept: "application/json" }, redirect: "error", signal: AbortSignal.timeout(5000) });
  } catch (e) {
    const c = (e as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, why: `${url} is unreachable (${c?.code ?? c?.message ?? (e as Error).name})` };
  }
  if (!res.ok) {
    await res.body?.cancel();
    return { ok: false, why: `${url} answered HTTP ${res.status}` };
  }
  // Read at most 512 KiB: whoever serves the document decides how long it is.
  const text = await readAtMost(res, MAX_DOCUMENT_BYTES);
  if (text === undefined) return { ok: false, why: `${url} is larger than 512 KiB` };
  try {
    return { ok: true, body: JSON.parse(text) };
  } catch {
    return { ok: false, why: `${url} is not JSON` };
  }
}

const KTY_OF: Record<string, string> = { ES256: "EC", ES384: "EC", RS256: "RSA", PS256: "RSA", EdDSA: "OKP" };

/**
 * Fetches an issuer's discovery document (when it has no jwks_uri of its own), checks its `issuer` is the
 * registered URL exactly, then fetches the JWKS and checks it holds a public key for one of the issuer's algs.
 */
export async function probeUrlIssuer(issuer: UrlIssuerRow, doFetch: typeof fetch = fetch): Promise<IssuerProbe> {
  const url = issuer.issuer_url;
  let jwksUri = issuer.jwks_uri;
  if (!jwksUri) {
    const d = await getJson(doFetch, discoveryUrl(url));
    if (!d.ok) return { issuer: url, ok: false, message: `discovery: ${d.why}` };
    const doc = d.body as { issuer?: unknown; jwks_uri?: unknown };
    if (doc?.issuer !== url)
      return { issuer: url, ok: false, message: `discovery names issuer ${JSON.stringify(doc?.issuer)}, not ${url} exactly` };
    if (typeof doc.jwks_uri !== "string") return { issuer: url, ok: false, message: "discovery has no jwks_uri" };
    // As the gateway takes it (https, http only on loopback); and printed as the URL parser writes it, so a
    // document's control characters never reach the terminal.
    if (!isAllowedJwksUri(doc.jwks_uri))
      return {
        issuer: url,
        ok: false,
        message: "discovery names a jwks_uri that is not https (http only on loopback): the gateway refuses it",
      };
    jwksUri = new URL(doc.jwks_uri).href;
  }
  const j = await getJson(doFetch, jwksUri);
  if (!j.ok) return { issuer: url, ok: false, message: `JWKS: ${j.why}` };
  const keys = (j.body as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return { issuer: url, ok: false, message: `${jwksUri} holds no keys` };
  const usable = keys.filter((k: { kty?: unknown; d?: unknown; alg?: unknown }) => {
    if (k?.d !== undefined) return false;
    return issuer.algs.some((alg) => (typeof k.alg === "string" ? k.alg === alg : KTY_OF[alg] === k.kty));
  });
  if (usable.length === 0) return { issuer: url, ok: false, message: `${jwksUri} holds no public key for ${issuer.algs.join(" or ")}` };
  return { issuer: url, ok: true, message: `${usable.length} usable key(s) at ${jwksUri}` };
}

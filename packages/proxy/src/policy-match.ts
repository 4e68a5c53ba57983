// Trust-policy matching, in memory: a URL issuer's enabled policies are compiled once per registry read (an
// index on each policy's most specific pinned ID, the outbound subject precomputed), then every verified token
// is matched against them. Exactly one policy must admit a token; the caller is told only the reason code,
// the log line gets which policies were involved.
import type { IssuerPolicy } from "./registry.ts";
import {
  claimSpec,
  claimValue,
  identityClaims,
  type PolicyProblemCode,
  policyProblems,
  PROVIDERS,
  type ProviderName,
  type ProviderTemplate,
  subjectName,
  templateRefusal,
  writerClaimNames,
} from "./providers.ts";
import type { TrustPolicyRow, UrlIssuer } from "./trust-registry.ts";
import { uuidV5 } from "./uuid.ts";

/** One policy ready for matching. */
export interface CompiledPolicy {
  id: string;
  writer: string;
  provider: ProviderName;
  template: ProviderTemplate;
  conditions: ReadonlyArray<{ name: string; path: readonly string[]; value: string }>;
  allowSelfHosted: boolean;
  allowEvents: readonly string[];
  writerPolicy: IssuerPolicy;
  /** The text whose UUIDv5 is the outbound `sub`: the issuer URL and the pinned identity claims. */
  subjectName: string;
  /** That UUIDv5, computed the first time the policy admits a token (see policySubject). */
  subject: Promise<string> | undefined;
  /** writer_claims entries: output name and where the value sits in the token. */
  writerClaims: ReadonlyArray<readonly [string, readonly string[]]>;
  /** Set when the policy fails the gateway's own checks (the registry should have refused it): it never admits. */
  invalid: PolicyProblemCode | null;
}

/** A URL issuer's policies, compiled. */
export interface CompiledPolicies {
  all: readonly CompiledPolicy[];
  /** Per indexed claim path: pinned value → the policies pinning it. */
  index: ReadonlyArray<{ path: readonly string[]; byValue: Map<string, CompiledPolicy[]> }>;
  /** Policies with nothing to index on (only invalid ones): checked one by one. */
  scan: readonly CompiledPolicy[];
  /** The distinct templates of the policies, for refusals that no matching policy lifted. */
  templates: readonly ProviderTemplate[];
}

/** The outcome of matching one verified token. */
export type MatchResult =
  | { ok: true; policy: CompiledPolicy }
  | {
      ok: false;
      reason: "no_matching_policy" | "ambiguous_policy" | "event_not_allowed" | "runner_not_allowed" | "token_kind_mismatch";
      /** For the log line only, never for the caller. */
      log: Record<string, unknown>;
    };

/** Compiles a URL issuer's policies: conditions resolved to claim paths, an index built (no I/O, no hashing). */
export function compilePolicies(issuer: UrlIssuer, rows: readonly TrustPolicyRow[]): CompiledPolicies {
  const all: CompiledPolicy[] = [];
  const index = new Map<string, { path: readonly string[]; byValue: Map<string, CompiledPolicy[]> }>();
  const scan: CompiledPolicy[] = [];
  const templates = new Set<ProviderTemplate>();
  for (const row of rows) {
    const template = PROVIDERS[row.provider as ProviderName];
    const problems = policyProblems({
      provider: row.provider,
      issuerUrl: issuer.issuer_url,
      conditions: row.conditions,
      allowSelfHosted: row.allow_self_hosted,
      allowEvents: row.allow_events,
      tokenKind: issuer.token_kind,
    });
    const conditions = Object.entries(row.conditions).flatMap(([name, value]) => {
      const spec = template ? claimSpec(template, name) : undefined;
      return spec ? [{ name, path: spec.path, value }] : [];
    });
    const invalid = !template || problems.length > 0 || conditions.length === 0 ? (problems[0]?.code ?? "conditions_invalid") : null;
    const ids = template && !invalid ? identityClaims(template, row.conditions) : undefined;
    const policy: CompiledPolicy = {
      id: row.id,
      writer: row.writer,
      provider: row.provider as ProviderName,
      template,
      conditions,
      allowSelfHosted: row.allow_self_hosted,
      allowEvents: row.allow_events,
      writerPolicy: row.writer_policy,
      subjectName: ids ? subjectName(issuer.issuer_url, template, row.conditions) : "",
      subject: undefined,
      writerClaims: template
        ? writerClaimNames(template, row.conditions).flatMap((n) => {
            const spec = claimSpec(template, n);
            return spec ? [[n, spec.path] as const] : [];
          })
        : [],
      invalid,
    };
    all.push(policy);
    if (template) templates.add(template);
    // Index on the identity's last claim (the most specific: repository_id, project_id, oid, the client…).
    const key = ids ? conditions.find((c) => c.name === ids[ids.length - 1]) : undefined;
    if (!key) {
      scan.push(policy);
      continue;
    }
    const pathKey = key.path.join("\u0000");
    let slot = index.get(pathKey);
    if (!slot) index.set(pathKey, (slot = { path: key.path, byValue: new Map() }));
    const list = slot.byValue.get(key.value);
    if (list) list.push(policy);
    else slot.byValue.set(key.value, [policy]);
  }
  return { all, index: [...index.values()], scan, templates: [...templates] };
}

/** The outbound `sub` of a policy's tokens: UUIDv5 of its subject name, computed once per compiled policy. */
export function policySubject(p: CompiledPolicy): Promise<string> {
  return (p.subject ??= uuidV5(p.subjectName));
}

function conditionsHold(p: CompiledPolicy, claims: Record<string, unknown>): boolean {
  for (const c of p.conditions) if (claimValue(claims, c.path) !== c.value) return false;
  return true;
}

/**
 * Matches a verified token's claims against an issuer's compiled policies: the policies whose every condition
 * holds, less those whose template refuses the token (an event or runner the policy did not lift) and invalid
 * ones. Exactly one must remain; several → ambiguous_policy; none → the template's refusal if it refuses the
 * token, else no_matching_policy.
 */
export function matchPolicies(compiled: CompiledPolicies, claims: Record<string, unknown>): MatchResult {
  let matched: CompiledPolicy[] | undefined;
  for (const slot of compiled.index) {
    const value = claimValue(claims, slot.path);
    if (value === undefined) continue;
    const list = slot.byValue.get(value);
    if (!list) continue;
    for (const p of list) if (conditionsHold(p, claims)) (matched ??= []).push(p);
  }
  for (const p of compiled.scan) if (conditionsHold(p, claims)) (matched ??= []).push(p);

  if (matched === undefined) return refusedOrNone(compiled, claims, [], []);
  const admitted: CompiledPolicy[] = [];
  const refused: Array<{ id: string; reason: string }> = [];
  for (const p of matched) {
    if (p.invalid) {
      // A CI or cloud template on an access-token issuer: the token is not the kind the template takes.
      refused.push({ id: p.id, reason: p.invalid === "token_kind_not_allowed" ? "token_kind_mismatch" : p.invalid });
      continue;
    }
    const r = templateRefusal(p.template, claims, { allowSelfHosted: p.allowSelfHosted, allowEvents: p.allowEvents });
    if (r) refused.push({ id: p.id, reason: r.reason });
    else admitted.push(p);
  }
  if (admitted.length === 1) return { ok: true, policy: admitted[0]! };
  if (admitted.length > 1) {
    return { ok: false, reason: "ambiguous_policy", log: { policies: admitted.slice(0, 5).map((p) => p.id), matched: admitted.length } };
  }
  return refusedOrNone(compiled, claims, matched, refused);
}

function refusedOrNone(
  compiled: CompiledPolicies,
  claims: Record<string, unknown>,
  matched: readonly CompiledPolicy[],
  refused: Array<{ id: string; reason: string }>,
): MatchResult {
  // A refusal is reported whether or not any policy's conditions held, so the code tells little about them:
  // the matching policies' own refusal first (a lifted event may still come from a self-hosted runner), then
  // the templates' unlifted refusals.
  const own = refused.find(
    (r) => r.reason === "event_not_allowed" || r.reason === "runner_not_allowed" || r.reason === "token_kind_mismatch",
  );
  if (own) {
    const reason = own.reason as "event_not_allowed" | "runner_not_allowed" | "token_kind_mismatch";
    return { ok: false, reason, log: { refused_policies: refused.slice(0, 5) } };
  }
  const none = { allowSelfHosted: false, allowEvents: [] };
  for (const t of compiled.templates) {
    const r = templateRefusal(t, claims, none);
    if (r) return { ok: false, reason: r.reason, log: { refusal: r.details, refused_policies: refused.slice(0, 5) } };
  }
  return {
    ok: false,
    reason: "no_matching_policy",
    log: matched.length > 0 ? { refused_policies: refused.slice(0, 5) } : { policies: compiled.all.length },
  };
}

/** The writer_claims a policy copies from a verified token (strings, numbers, booleans only), plus its id. */
export function policyWriterClaims(p: CompiledPolicy, claims: Record<string, unknown>, issuerUrl: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, path] of p.writerClaims) {
    let v: unknown = claims;
    for (const key of path) {
      v =
        v !== null && typeof v === "object" && !Array.isArray(v) && Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
    }
    if (typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))) out[name] = v;
  }
  out.trust_policy = p.id;
  out.issuer_url = issuerUrl;
  return out;
}

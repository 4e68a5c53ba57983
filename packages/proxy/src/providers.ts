/**
 * Provider templates for trust policies (workload identity): per provider, the claims a policy may pin, the
 * immutable IDs it must pin, the refusals no policy lifts without an explicit flag, the token shapes it
 * accepts, the claims that make the outbound `sub`, and the claims copied into `writer_claims`. Data and pure
 * functions only: the gateway, the CLI and the registry's tests read the same definitions.
 */

/** Every provider template, by the name stored in `jwt_trust_policies.provider`. */
export const PROVIDER_NAMES = ["github-actions", "gitlab", "kubernetes", "google", "aws", "entra", "oauth-client", "custom"] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Which kind of token a URL issuer issues: ID tokens (`typ` absent or JWT) or RFC 9068 access tokens. */
export type TokenKind = "id_token" | "access_token";

/** Algorithms a URL issuer may be registered with (writers with keys of ours keep ES256, RS256, EdDSA). */
export const URL_ISSUER_ALGS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"] as const;
export type UrlIssuerAlg = (typeof URL_ISSUER_ALGS)[number];

/** No URL issuer may allow a longer token lifetime (Entra access tokens live 60–90 minutes). */
export const MAX_URL_ISSUER_LIFETIME_SECONDS = 5400;

/** Longest condition value, and most conditions, a policy may have. */
export const MAX_CONDITION_VALUE_LENGTH = 512;
export const MAX_CONDITIONS = 16;

/**
 * A claim a template knows. `path` is where it sits in the token (most are top-level; Kubernetes and AWS nest
 * theirs). `kind`: `id` = an immutable identifier (never globbed, shape-checked), `name` = a renamable or
 * reusable name, `context` = what the run is (event, ref, runner).
 */
export interface ClaimSpec {
  path: readonly string[];
  kind: "id" | "name" | "context";
  /** The shape an `id` value must have, with words for the error. */
  shape?: { pattern: RegExp; words: string };
}

/** One provider template. */
export interface ProviderTemplate {
  name: ProviderName;
  /** For people: what the provider is. */
  title: string;
  /** The issuer URL when the provider has one for everybody (overridable: enterprise hosts, GHES, tests). */
  defaultIssuer: string | null;
  /** What to give as the issuer URL when there is no default (or to override it). */
  issuerHint: string;
  /** Token kinds the template accepts (CI and cloud identities are ID tokens only). */
  tokenKinds: readonly TokenKind[];
  /** The algorithms the provider signs with (the URL issuer's default `algs`). */
  defaultAlgs: readonly UrlIssuerAlg[];
  /** A sensible max lifetime for the URL issuer, in seconds. */
  defaultMaxLifetimeSeconds: number;
  /** Claims a policy of this template may pin, by condition name. */
  claims: Readonly<Record<string, ClaimSpec>>;
  /**
   * Required pins: alternatives, each a set of claims that must all be pinned; the first complete alternative
   * is the workload's identity (its values make the outbound `sub`). Empty for `custom` (any one pin).
   */
  requiredPins: readonly (readonly string[])[];
  /** Names a policy may not pin, with the immutable claim to pin instead (or why). */
  notPinnable: Readonly<Record<string, string>>;
  /** The claim naming the triggering event, and the events refused unless a policy lists them in allow_events. */
  events: { claim: string; refused: readonly string[] } | null;
  /** Runner rule: tokens whose `claim` is not `value` are refused unless the policy has allow_self_hosted. */
  runner: { claim: string; value: string } | null;
  /** Claims copied into the outbound `writer_claims` (condition names; for `custom`, its pins and `sub`). */
  writerClaims: readonly string[];
}

const NUMERIC = { pattern: /^[0-9]{1,20}$/, words: "a numeric ID (digits only)" };
const GUID = { pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, words: "a lower-case GUID" };
const NON_EMPTY = { pattern: /^\S(.*\S)?$/s, words: "a non-empty value without leading or trailing space" };

const top =
  (kind: ClaimSpec["kind"], shape?: ClaimSpec["shape"]) =>
  (name: string): ClaimSpec =>
    shape ? { path: [name], kind, shape } : { path: [name], kind };
const claimsOf = (entries: Record<string, (name: string) => ClaimSpec>): Record<string, ClaimSpec> =>
  Object.fromEntries(Object.entries(entries).map(([name, make]) => [name, make(name)]));

const AWS_NS = "https://sts.amazonaws.com/";

/** The templates, by name. */
export const PROVIDERS: Readonly<Record<ProviderName, ProviderTemplate>> = {
  "github-actions": {
    name: "github-actions",
    title: "GitHub Actions OIDC tokens (github.com, GitHub Enterprise Cloud, GHE.com, GHES)",
    defaultIssuer: "https://token.actions.githubusercontent.com",
    issuerHint:
      "https://token.actions.githubusercontent.com, or …/<enterprise> (enterprise issuer), https://token.actions.<subdomain>.ghe.com, https://<host>/_services/token (GHES)",
    tokenKinds: ["id_token"],
    defaultAlgs: ["RS256"],
    defaultMaxLifetimeSeconds: 900,
    claims: claimsOf({
      repository_owner_id: top("id", NUMERIC),
      repository_id: top("id", NUMERIC),
      enterprise_id: top("id", NUMERIC),
      actor_id: top("id", NUMERIC),
      environment: top("context"),
      ref: top("context"),
      ref_type: top("context"),
      ref_protected: top("context"),
      job_workflow_ref: top("context"),
      workflow_ref: top("context"),
      event_name: top("context"),
      repository_visibility: top("context"),
      runner_environment: top("context"),
      repository: top("name"),
      sha: top("context"),
      workflow: top("context"),
      run_id: top("context"),
      run_attempt: top("context"),
    }),
    requiredPins: [["repository_owner_id", "repository_id"]],
    notPinnable: {
      repository: "a repository name can be renamed, or deleted and recreated by someone else: pin repository_id",
      repository_owner: "an owner name can be renamed or re-registered: pin repository_owner_id",
      actor: "a user name can change: pin actor_id",
      sub: "GitHub's sub embeds renamable names and changes format: pin repository_owner_id and repository_id",
      sha: "a commit sha is one run, not a workload",
      workflow: "a workflow name is free text: pin job_workflow_ref or workflow_ref",
      run_id: "a run id is one run, not a workload",
      run_attempt: "a run attempt is one run, not a workload",
    },
    events: { claim: "event_name", refused: ["pull_request_target", "workflow_run"] },
    runner: { claim: "runner_environment", value: "github-hosted" },
    writerClaims: [
      "repository",
      "repository_id",
      "ref",
      "sha",
      "environment",
      "event_name",
      "workflow",
      "run_id",
      "run_attempt",
      "runner_environment",
    ],
  },
  gitlab: {
    name: "gitlab",
    title: "GitLab CI/CD ID tokens (gitlab.com or a self-managed instance)",
    defaultIssuer: "https://gitlab.com",
    issuerHint: "the instance URL: https://gitlab.com or https://gitlab.example.com",
    tokenKinds: ["id_token"],
    defaultAlgs: ["RS256"],
    defaultMaxLifetimeSeconds: 3600,
    claims: claimsOf({
      namespace_id: top("id", NUMERIC),
      project_id: top("id", NUMERIC),
      ref: top("context"),
      ref_type: top("context"),
      ref_protected: top("context"),
      environment: top("context"),
      environment_protected: top("context"),
      deployment_tier: top("context"),
      pipeline_source: top("context"),
      ci_config_ref_uri: top("context"),
      runner_environment: top("context"),
      project_path: top("name"),
      namespace_path: top("name"),
      sha: top("context"),
      pipeline_id: top("context"),
      job_id: top("context"),
    }),
    requiredPins: [["namespace_id", "project_id"]],
    notPinnable: {
      project_path: "a project path can be renamed or recreated by someone else: pin project_id",
      namespace_path: "a group or user path can be renamed or re-registered: pin namespace_id",
      sub: "GitLab's sub embeds renamable paths: pin namespace_id and project_id",
      user_email: "an e-mail address is personal data and can change hands",
      user_login: "a user name can change",
      sha: "a commit sha is one run, not a workload",
      pipeline_id: "a pipeline id is one run, not a workload",
      job_id: "a job id is one run, not a workload",
    },
    events: null,
    runner: null,
    writerClaims: [
      "project_id",
      "project_path",
      "namespace_id",
      "namespace_path",
      "ref",
      "ref_type",
      "sha",
      "environment",
      "pipeline_id",
      "pipeline_source",
      "job_id",
      "runner_environment",
    ],
  },
  kubernetes: {
    name: "kubernetes",
    title: "Kubernetes projected service-account tokens (any cluster, EKS, AKS, GKE)",
    defaultIssuer: null,
    issuerHint: "the cluster's --service-account-issuer, e.g. https://oidc.eks.<region>.amazonaws.com/id/<id>",
    tokenKinds: ["id_token"],
    defaultAlgs: ["RS256"],
    defaultMaxLifetimeSeconds: 3600,
    claims: {
      namespace: { path: ["kubernetes.io", "namespace"], kind: "context", shape: NON_EMPTY },
      service_account_name: { path: ["kubernetes.io", "serviceaccount", "name"], kind: "context", shape: NON_EMPTY },
      service_account_uid: { path: ["kubernetes.io", "serviceaccount", "uid"], kind: "id", shape: GUID },
      pod_name: { path: ["kubernetes.io", "pod", "name"], kind: "name" },
    },
    requiredPins: [["service_account_uid"], ["namespace", "service_account_name"]],
    notPinnable: {
      sub: "pin namespace and service_account_name (or service_account_uid) instead of the sub string",
      pod_name: "a pod is replaced at every rollout: pin the service account",
    },
    events: null,
    runner: null,
    writerClaims: ["namespace", "service_account_name", "service_account_uid", "pod_name"],
  },
  google: {
    name: "google",
    title: "Google Cloud service-account ID tokens",
    defaultIssuer: "https://accounts.google.com",
    issuerHint: "https://accounts.google.com",
    tokenKinds: ["id_token"],
    defaultAlgs: ["RS256"],
    defaultMaxLifetimeSeconds: 3600,
    claims: claimsOf({
      sub: top("id", { pattern: /^[0-9]{10,30}$/, words: "the service account's numeric unique ID" }),
      email: top("name"),
      azp: top("id", NON_EMPTY),
    }),
    requiredPins: [["sub"]],
    notPinnable: {
      email_verified: "pin the numeric sub of the service account",
    },
    events: null,
    runner: null,
    writerClaims: ["sub", "email"],
  },
  aws: {
    name: "aws",
    title: "AWS IAM outbound identity federation tokens (sts:GetWebIdentityToken)",
    defaultIssuer: null,
    issuerHint: "the account's issuer URL from `aws iam enable-outbound-web-identity-federation`",
    tokenKinds: ["id_token"],
    defaultAlgs: ["RS256", "ES384"],
    defaultMaxLifetimeSeconds: 3600,
    claims: {
      aws_account: { path: [AWS_NS, "aws_account"], kind: "id", shape: { pattern: /^[0-9]{12}$/, words: "a 12-digit AWS account ID" } },
      sub: { path: ["sub"], kind: "id", shape: { pattern: /^arn:aws[a-z-]*:\S+$/, words: "the principal's ARN" } },
      principal_id: { path: [AWS_NS, "principal_id"], kind: "id", shape: NON_EMPTY },
      org_id: { path: [AWS_NS, "org_id"], kind: "id", shape: NON_EMPTY },
      source_region: { path: [AWS_NS, "source_region"], kind: "context" },
    },
    requiredPins: [["aws_account", "sub"]],
    notPinnable: {
      request_tags: "request tags are written by the caller who mints the token",
      principal_tags: "tags can be changed by anyone allowed to tag the principal",
    },
    events: null,
    runner: null,
    writerClaims: ["aws_account", "sub", "principal_id", "org_id", "source_region"],
  },
  entra: {
    name: "entra",
    title: "Microsoft Entra ID tokens (managed identities, app-only client credentials)",
    defaultIssuer: null,
    issuerHint: "a tenant-specific issuer: https://login.microsoftonline.com/<tenant id>/v2.0 or https://sts.windows.net/<tenant id>/",
    tokenKinds: ["access_token", "id_token"],
    defaultAlgs: ["RS256"],
    defaultMaxLifetimeSeconds: 5400,
    claims: claimsOf({
      tid: top("id", GUID),
      oid: top("id", GUID),
      azp: top("id", GUID),
      appid: top("id", GUID),
      idtyp: top("context"),
    }),
    requiredPins: [["tid", "oid"]],
    notPinnable: {
      sub: "Entra's sub is pairwise per application: pin tid and oid",
      upn: "a user principal name can change",
      preferred_username: "a user name can change",
    },
    events: null,
    runner: null,
    writerClaims: ["tid", "oid", "azp", "appid", "idtyp"],
  },
  "oauth-client": {
    name: "oauth-client",
    title: "OAuth 2.0 client-credentials access tokens (Auth0, Okta, Keycloak, any RFC 9068 server)",
    defaultIssuer: null,
    issuerHint: "the authorization server's issuer, e.g. https://<tenant>.auth0.com/ or https://<host>/realms/<realm>",
    tokenKinds: ["access_token", "id_token"],
    defaultAlgs: ["RS256", "ES256"],
    defaultMaxLifetimeSeconds: 3600,
    claims: claimsOf({
      sub: top("id", NON_EMPTY),
      client_id: top("id", NON_EMPTY),
      azp: top("id", NON_EMPTY),
      cid: top("id", NON_EMPTY),
      scope: top("context"),
    }),
    // The client's own `sub` is required: client_id, azp and cid name the client in every token issued to it,
    // user-delegated ones too (whose sub is the user), so on their own they admit every user of the client.
    requiredPins: [["sub"]],
    notPinnable: {
      preferred_username: "a user name can change: pin the client (client_id, azp, cid or sub)",
    },
    events: null,
    runner: null,
    writerClaims: ["sub", "client_id", "azp", "cid", "scope"],
  },
  custom: {
    name: "custom",
    title: "Any OIDC issuer, pinned by exact claims you choose",
    defaultIssuer: null,
    issuerHint: "the issuer's exact `iss`",
    tokenKinds: ["id_token", "access_token"],
    defaultAlgs: ["RS256", "ES256"],
    defaultMaxLifetimeSeconds: 3600,
    claims: {},
    requiredPins: [],
    notPinnable: {},
    events: null,
    runner: null,
    writerClaims: ["sub"],
  },
};

/**
 * Audiences providers put in tokens by default, which other relying parties accept too. A token carrying one
 * was minted for someone else, so none may be this gateway's audience.
 */
export const SHARED_DEFAULT_AUDIENCES: readonly string[] = [
  "sts.amazonaws.com",
  "https://sts.amazonaws.com",
  "api://AzureADTokenExchange",
  "https://kubernetes.default.svc",
  "https://kubernetes.default.svc.cluster.local",
  "kubernetes.default.svc",
  "https://github.com/<owner>",
  "https://vercel.com/<team>",
];

/** True when `audience` is a shared default audience (see SHARED_DEFAULT_AUDIENCES). */
export function isSharedDefaultAudience(audience: string): boolean {
  const a = audience.trim();
  if (SHARED_DEFAULT_AUDIENCES.some((s) => !s.includes("<") && s.toLowerCase() === a.toLowerCase().replace(/\/+$/, ""))) return true;
  // GitHub's default is the owner's URL, Vercel's the team's: any https://github.com/<x> or https://vercel.com/<x>.
  return /^https?:\/\/(www\.)?(github\.com|vercel\.com)(\/[^/?#]*)?\/?$/i.test(a);
}

/** True for a known template name. */
export function isProviderName(value: unknown): value is ProviderName {
  return typeof value === "string" && (PROVIDER_NAMES as readonly string[]).includes(value);
}

/** Stable codes of policy problems: the CLI prints them, the database's checks mirror the pins. */
export const POLICY_PROBLEM_CODES = [
  "unknown_provider",
  "conditions_invalid",
  "condition_value_invalid",
  "unknown_claim",
  "claim_not_pinnable",
  "missing_pin",
  "glob_not_allowed",
  "pin_value_invalid",
  "issuer_url_invalid",
  "issuer_not_allowed",
  "issuer_mismatch",
  "allow_events_invalid",
  "allow_self_hosted_invalid",
  "token_kind_not_allowed",
  "alg_not_allowed",
  "lifetime_invalid",
  "shared_audience",
] as const;
export type PolicyProblemCode = (typeof POLICY_PROBLEM_CODES)[number];

/** One reason a policy (or its URL issuer, or an audience) cannot be registered. */
export interface PolicyProblem {
  code: PolicyProblemCode;
  message: string;
  /** The condition or field concerned, when there is one. */
  claim?: string;
}

/** Thrown by assertValidPolicy: every problem found, the first one's code as `code`. */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
  readonly code: PolicyProblemCode;
  readonly problems: PolicyProblem[];
  constructor(problems: PolicyProblem[]) {
    super(problems.map((p) => `${p.code}: ${p.message}`).join("; "));
    this.code = problems[0]!.code;
    this.problems = problems;
  }
}

/** A trust policy as registered (the shape of a `jwt_trust_policies` row's matching fields). */
export interface PolicyInput {
  provider: string;
  issuerUrl: string;
  conditions: unknown;
  allowSelfHosted?: boolean;
  allowEvents?: readonly string[];
  /** The URL issuer's token kind, when known (default id_token). */
  tokenKind?: TokenKind;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** Claims no policy pins: they are checked by the gateway itself (iss, aud, lifetime) or name one token. */
const UNPINNABLE_REGISTERED = new Set(["iss", "aud", "exp", "iat", "nbf", "jti", "typ"]);
const CUSTOM_CLAIM_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,99}$/;
const GLOB = /[*?]|\[.*\]/;
const ENTRA_SHARED = /^(common|organizations|consumers|\{tenantid\}|%7btenantid%7d)$/i;

/** Problems with a URL issuer's `issuer_url` for a template (empty when it is fine). */
export function issuerUrlProblems(provider: ProviderName, issuerUrl: string): PolicyProblem[] {
  let u: URL;
  try {
    u = new URL(issuerUrl);
  } catch {
    return [{ code: "issuer_url_invalid", message: "the issuer URL does not parse" }];
  }
  const out: PolicyProblem[] = [];
  if (!(u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname)))) {
    out.push({ code: "issuer_url_invalid", message: "the issuer URL must be https (http only on a loopback host)" });
  }
  if (u.search !== "" || u.hash !== "" || issuerUrl.includes("?") || issuerUrl.includes("#")) {
    out.push({ code: "issuer_url_invalid", message: "the issuer URL may have no query or fragment" });
  }
  if (u.username !== "" || u.password !== "") out.push({ code: "issuer_url_invalid", message: "the issuer URL may hold no credentials" });
  if (provider === "entra") {
    const segments = u.pathname.split("/").filter(Boolean);
    if (segments.some((s) => ENTRA_SHARED.test(s)) || /\{tenantid\}/i.test(issuerUrl)) {
      out.push({
        code: "issuer_not_allowed",
        message: "Entra's common, organizations and consumers issuers are shared by every tenant: use the tenant-specific issuer",
      });
    } else if (entraTenant(issuerUrl) === undefined) {
      out.push({ code: "issuer_not_allowed", message: "an Entra issuer names its tenant ID (a GUID) in its path" });
    }
  }
  return out;
}

/** The tenant GUID in an Entra issuer URL's path, if there is one. */
export function entraTenant(issuerUrl: string): string | undefined {
  try {
    return new URL(issuerUrl).pathname
      .split("/")
      .map((s) => s.toLowerCase())
      .find((s) => GUID.pattern.test(s));
  } catch {
    return undefined;
  }
}

/** The claim spec a condition name stands for under a template (custom: the top-level claim of that name). */
export function claimSpec(template: ProviderTemplate, name: string): ClaimSpec | undefined {
  if (template.name === "custom") return CUSTOM_CLAIM_NAME.test(name) ? { path: [name], kind: "id" } : undefined;
  return Object.hasOwn(template.claims, name) ? template.claims[name] : undefined;
}

/** The required-pin alternative a set of conditions satisfies (the identity's claims), if any. */
export function identityClaims(template: ProviderTemplate, conditions: Readonly<Record<string, string>>): readonly string[] | undefined {
  if (template.name === "custom") {
    const names = Object.keys(conditions).sort();
    return names.length > 0 ? names : undefined;
  }
  return template.requiredPins.find((alt) => alt.every((c) => Object.hasOwn(conditions, c)));
}

/**
 * Every problem with a policy: unknown provider, conditions that are not an object of exact string values,
 * claims the template does not know or that are names rather than IDs, globs, missing required pins, ID
 * values of the wrong shape, an issuer URL the template refuses, flags the template has no use for, and a
 * token kind it does not accept. Empty when the policy can be registered.
 */
export function policyProblems(input: PolicyInput): PolicyProblem[] {
  if (!isProviderName(input.provider)) {
    return [
      { code: "unknown_provider", message: `unknown provider ${JSON.stringify(input.provider)}: one of ${PROVIDER_NAMES.join(", ")}` },
    ];
  }
  const template = PROVIDERS[input.provider];
  const out = issuerUrlProblems(template.name, input.issuerUrl);
  const c = input.conditions;
  if (c === null || typeof c !== "object" || Array.isArray(c)) {
    out.push({ code: "conditions_invalid", message: "conditions must be an object of claim name → exact string value" });
    return out;
  }
  const entries = Object.entries(c as Record<string, unknown>);
  if (entries.length > MAX_CONDITIONS) out.push({ code: "conditions_invalid", message: `at most ${MAX_CONDITIONS} conditions` });
  const strings: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (UNPINNABLE_REGISTERED.has(name)) {
      out.push({ code: "claim_not_pinnable", claim: name, message: `${name} is checked by the gateway itself, not by a policy` });
      continue;
    }
    if (Object.hasOwn(template.notPinnable, name)) {
      out.push({ code: "claim_not_pinnable", claim: name, message: `${name}: ${template.notPinnable[name]}` });
      continue;
    }
    const spec = claimSpec(template, name);
    if (!spec) {
      const known = Object.keys(template.claims).join(", ");
      out.push({
        code: "unknown_claim",
        claim: name,
        message:
          template.name === "custom"
            ? `${JSON.stringify(name)} is not a claim name (letters, digits, _ . : / -)`
            : `${template.name} policies pin only ${known}`,
      });
      continue;
    }
    if (typeof value !== "string" || value === "" || value.length > MAX_CONDITION_VALUE_LENGTH) {
      out.push({
        code: "condition_value_invalid",
        claim: name,
        message: `${name} must be a non-empty string of at most ${MAX_CONDITION_VALUE_LENGTH} characters (matching is exact)`,
      });
      continue;
    }
    if (GLOB.test(value)) {
      out.push({
        code: "glob_not_allowed",
        claim: name,
        message: `${name}: matching is exact; ${spec.kind === "id" ? "an ID is never a pattern" : "write the exact value, not a pattern"}`,
      });
      continue;
    }
    if (spec.shape && !spec.shape.pattern.test(value)) {
      out.push({ code: "pin_value_invalid", claim: name, message: `${name} must be ${spec.shape.words}` });
      continue;
    }
    strings[name] = value;
  }
  if (template.name === "custom") {
    if (entries.length === 0) out.push({ code: "missing_pin", message: "a custom policy pins at least one claim exactly" });
  } else if (!template.requiredPins.some((alt) => alt.every((n) => Object.hasOwn(c, n)))) {
    const alts = template.requiredPins.map((alt) => alt.join(" + ")).join(", or ");
    out.push({ code: "missing_pin", message: `${template.name} policies must pin ${alts}` });
  }
  if (template.name === "entra" && typeof strings.tid === "string") {
    const tenant = entraTenant(input.issuerUrl);
    if (tenant !== undefined && tenant !== strings.tid) {
      out.push({ code: "issuer_mismatch", claim: "tid", message: "tid must be the tenant ID in the issuer URL" });
    }
  }
  for (const event of input.allowEvents ?? []) {
    if (!template.events?.refused.includes(event)) {
      out.push({
        code: "allow_events_invalid",
        message: template.events
          ? `${JSON.stringify(event)} is not refused by ${template.name}; allow_events lifts only ${template.events.refused.join(", ")}`
          : `${template.name} refuses no event: allow_events must be empty`,
      });
    }
  }
  if (input.allowSelfHosted && !template.runner) {
    out.push({ code: "allow_self_hosted_invalid", message: `${template.name} has no runner rule: allow_self_hosted must be false` });
  }
  const kind = input.tokenKind ?? "id_token";
  if (!template.tokenKinds.includes(kind)) {
    out.push({
      code: "token_kind_not_allowed",
      message: `${template.name} accepts ${template.tokenKinds.join(" or ")} issuers only, not ${kind}`,
    });
  }
  return out;
}

/** Throws PolicyError with every problem when the policy cannot be registered. */
export function assertValidPolicy(input: PolicyInput): void {
  const problems = policyProblems(input);
  if (problems.length > 0) throw new PolicyError(problems);
}

/** Problems with a URL issuer's token settings (algs, lifetime). */
export function urlIssuerProblems(issuer: { algs: readonly string[]; maxLifetimeSeconds: number }): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  if (issuer.algs.length === 0) out.push({ code: "alg_not_allowed", message: "a URL issuer allows at least one algorithm" });
  for (const alg of issuer.algs) {
    if (!(URL_ISSUER_ALGS as readonly string[]).includes(alg)) {
      out.push({ code: "alg_not_allowed", message: `${alg} is not allowed: one of ${URL_ISSUER_ALGS.join(", ")}` });
    }
  }
  if (
    !Number.isInteger(issuer.maxLifetimeSeconds) ||
    issuer.maxLifetimeSeconds < 1 ||
    issuer.maxLifetimeSeconds > MAX_URL_ISSUER_LIFETIME_SECONDS
  ) {
    out.push({ code: "lifetime_invalid", message: `the max lifetime is 1 to ${MAX_URL_ISSUER_LIFETIME_SECONDS} seconds` });
  }
  return out;
}

/** Problems with using `audience` as this project's audience (a shared default audience is refused). */
export function audienceProblems(audience: string): PolicyProblem[] {
  return isSharedDefaultAudience(audience)
    ? [
        {
          code: "shared_audience",
          message: `${audience} is a provider's default audience, accepted by other relying parties: use this project's own audience (its URL)`,
        },
      ]
    : [];
}

/**
 * A claim's value as a policy compares it: strings as they are, safe integers and booleans as their JSON text
 * (some issuers send IDs as numbers); anything else (objects, arrays, null, absent) is undefined and so never
 * matches.
 */
export function claimValue(claims: Record<string, unknown>, path: readonly string[]): string | undefined {
  let v: unknown = claims;
  for (const key of path) {
    if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
  if (typeof v === "boolean") return String(v);
  return undefined;
}

/** The refusal a template makes of a verified token, given a policy's lifting flags; null when none. */
export function templateRefusal(
  template: ProviderTemplate,
  claims: Record<string, unknown>,
  flags: { allowSelfHosted: boolean; allowEvents: readonly string[] },
): { reason: "event_not_allowed" | "runner_not_allowed"; details: string } | null {
  if (template.events) {
    const event = claimValue(claims, [template.events.claim]);
    if (event !== undefined && template.events.refused.includes(event) && !flags.allowEvents.includes(event)) {
      return { reason: "event_not_allowed", details: `${template.events.claim} ${event} is refused` };
    }
  }
  if (template.runner && !flags.allowSelfHosted) {
    const runner = claimValue(claims, [template.runner.claim]);
    if (runner !== template.runner.value) {
      return { reason: "runner_not_allowed", details: `${template.runner.claim} is not ${template.runner.value}` };
    }
  }
  return null;
}

/** The text the outbound `sub` is the UUIDv5 of: the issuer URL and the pinned identity claims, in order. */
export function subjectName(issuerUrl: string, template: ProviderTemplate, conditions: Readonly<Record<string, string>>): string {
  const ids = identityClaims(template, conditions) ?? [];
  return [issuerUrl, ...ids.map((n) => `${n}=${conditions[n]}`)].join("\n");
}

/** The claims a policy of this template copies into writer_claims (custom: `sub` and its own pins). */
export function writerClaimNames(template: ProviderTemplate, conditions: Readonly<Record<string, string>>): string[] {
  if (template.name === "custom") return [...new Set(["sub", ...Object.keys(conditions)])];
  return [...template.writerClaims];
}

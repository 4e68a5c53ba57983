import { PROVIDER_NAMES, PROVIDERS, type TokenKind, URL_ISSUER_ALGS } from "@fedjwt/proxy";
import { CliError } from "../errors.ts";
import { checkIssuer } from "../issuer.ts";
import { printJson, type Io } from "../output.ts";
import {
  CONNECTION_FLAGS,
  connection,
  enc,
  type IssuerRow,
  type RegistryClient,
  type TrustPolicyRow,
  type UrlIssuerRow,
} from "../registry-client.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";
import { describePolicy, parseConditions, templateOf, trustProblems } from "../trust.ts";
import { applyPolicy, POLICY_FLAGS, policyFromFlags } from "./register.ts";

const WRITER = "Writer (when it is new; given again, they update it)";
/** register's policy flags, for the writer (the policy has its own --description). */
const WRITER_FLAGS = {
  "allowed-role": { ...POLICY_FLAGS["allowed-role"], group: WRITER },
  "db-role": { ...POLICY_FLAGS["db-role"], group: WRITER },
  "max-lifetime": { ...POLICY_FLAGS["max-lifetime"], group: WRITER },
  "require-jti": { ...POLICY_FLAGS["require-jti"], group: WRITER },
  "rate-limit": { ...POLICY_FLAGS["rate-limit"], group: WRITER },
  "rate-burst": { ...POLICY_FLAGS["rate-burst"], group: WRITER },
} as const satisfies FlagSpecs;
const POLICY = "Trust policy";
const ISSUER = "URL issuer (used when it is registered first; given again, they update it)";

const flags = {
  writer: {
    type: "string",
    value: "<name>",
    required: true,
    group: POLICY,
    description: "the writer the workload writes as (created when new)",
  },
  provider: {
    type: "string",
    value: "<template>",
    required: true,
    group: POLICY,
    description: `the provider template: ${PROVIDER_NAMES.join(", ")}`,
  },
  "issuer-url": {
    type: "string",
    value: "<url>",
    group: POLICY,
    description: "the tokens' exact iss (default: the template's, e.g. https://token.actions.githubusercontent.com)",
  },
  claim: {
    type: "string",
    value: "<name>=<value>",
    multiple: true,
    group: POLICY,
    description: "an exact condition on a claim; the template's required pins must be among them",
  },
  "allow-self-hosted": { type: "boolean", group: POLICY, description: "admit self-hosted runners too (refused by default)" },
  "allow-event": {
    type: "string",
    value: "<event>",
    multiple: true,
    group: POLICY,
    description: "admit an event the template refuses (github-actions: pull_request_target, workflow_run)",
  },
  description: { type: "string", value: "<text>", group: POLICY, description: "free text for the policy" },
  audience: {
    type: "string",
    value: "<aud>",
    group: POLICY,
    description: "the audience workloads will request (default: --url): shared default audiences are refused",
  },
  "jwks-uri": { type: "string", value: "<url>", group: ISSUER, description: "read keys here instead of OIDC discovery" },
  "token-kind": {
    type: "string",
    value: "<kind>",
    group: ISSUER,
    description: "id_token or access_token (default: the template's first: ID tokens, access tokens for entra and oauth-client)",
  },
  alg: {
    type: "string",
    value: "<alg>",
    multiple: true,
    group: ISSUER,
    description: `an algorithm the issuer signs with: ${URL_ISSUER_ALGS.join(", ")} (default: the template's)`,
  },
  "issuer-max-lifetime": {
    type: "string",
    value: "<seconds>",
    group: ISSUER,
    description: "longest exp - iat accepted, 1–5400 (default: the template's)",
  },
  "clock-tolerance": { type: "string", value: "<seconds>", group: ISSUER, description: "0–300 [30]" },
  ...WRITER_FLAGS,
  ...CONNECTION_FLAGS,
} as const satisfies FlagSpecs;

/** `fedjwt trust`: its flags, help and runner. */
export const trustCommand = defineCommand({
  name: "trust",
  summary: "let a workload write with its own platform token (a trust policy)",
  usage: ["--writer <name> --provider <template> [--issuer-url <url>] --claim <name>=<value>... [options]"],
  description: `Register a trust policy: tokens from a URL issuer (GitHub Actions, GitLab CI, a Kubernetes cluster, Google,
AWS, Entra, an OAuth server) whose claims equal every --claim are admitted as --writer, with that writer's
db_role, allowed roles and rate limit; the workload holds no key of ours. Registers the URL issuer and the
writer when they are new. Each template requires exact pins on immutable IDs and refuses names, patterns,
shared issuers and audiences; the registry checks the same again. Prints, in words, what the policy admits.
Registering the same policy again is a no-op.`,
  flags,
  notes: `Required pins per template:
${PROVIDER_NAMES.map((n) => {
  const t = PROVIDERS[n];
  const pins = t.requiredPins.length ? t.requiredPins.map((a) => a.join(" + ")).join(", or ") : "any one claim";
  return `  ${n.padEnd(14)} ${pins}`;
}).join("\n")}
See docs/workload-identity.md for each provider's job or pod snippet.`,
  examples: [
    "fedjwt trust --writer ci-deployer --provider github-actions --claim repository_owner_id=74 --claim repository_id=1296269 --claim environment=production --allowed-role widgets_writer",
    "fedjwt trust --writer batch --provider kubernetes --issuer-url https://oidc.eks.eu-west-1.amazonaws.com/id/ABC --claim namespace=jobs --claim service_account_name=batch",
  ],
  run: ({ values }, io) => trust(values, io),
});

function wholeNumber(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max)
    throw new CliError("bad_arguments", `${flag} must be a whole number from ${min} to ${max}`);
  return n;
}

/** Registry refusals of a URL issuer or policy (SQLSTATE 23514/23505) as policy_refused with the reason. */
function refused(e: unknown, what: string): never {
  if (e instanceof CliError && (e.upstreamCode === "23514" || e.upstreamCode === "23505")) {
    const why =
      e.upstreamCode === "23505"
        ? "another active policy on this issuer has exactly these conditions"
        : (e.upstreamMessage ?? e.message).replace(/^(trust policy|URL issuer) refused: /, "");
    throw new CliError("policy_refused", `the registry refused the ${what}: ${why}`, {
      status: e.status ?? 400,
      upstreamCode: e.upstreamCode,
      ...(e.upstreamMessage !== undefined ? { upstreamMessage: e.upstreamMessage } : {}),
      cause: e,
    });
  }
  throw e;
}

/** `fedjwt trust`. */
export async function trust(values: FlagValues<typeof flags>, io: Io): Promise<void> {
  const writer = checkIssuer(values.writer);
  const template = templateOf(values.provider);
  const issuerUrl = values["issuer-url"] ?? template.defaultIssuer;
  if (!issuerUrl)
    throw new CliError("bad_arguments", `--issuer-url is required for ${template.name}: ${template.issuerHint} (see: fedjwt trust --help)`);
  const conditions = parseConditions(values.claim ?? []);
  const tokenKind = (values["token-kind"] ?? template.tokenKinds[0]) as TokenKind;
  if (tokenKind !== "id_token" && tokenKind !== "access_token")
    throw new CliError("bad_arguments", "--token-kind must be id_token or access_token");
  const algs = values.alg ?? [...template.defaultAlgs];
  const maxLifetime = wholeNumber(values["issuer-max-lifetime"], "--issuer-max-lifetime", 1, 5400);
  const clockTolerance = wholeNumber(values["clock-tolerance"], "--clock-tolerance", 0, 300);
  const allowEvents = values["allow-event"] ?? [];
  const allowSelfHosted = values["allow-self-hosted"] ?? false;
  const client = connection(values, "trust");
  const audience = values.audience ?? client.url;
  const problems = trustProblems({
    provider: template.name,
    issuerUrl,
    conditions,
    allowSelfHosted,
    allowEvents,
    tokenKind,
    algs,
    maxLifetimeSeconds: maxLifetime ?? template.defaultMaxLifetimeSeconds,
    audience,
  });
  if (problems.length > 0) {
    throw new CliError("policy_refused", `refused: ${problems.map((p) => `${p.code}: ${p.message}`).join("; ")}`);
  }
  if (values["jwks-uri"] !== undefined) {
    let u: URL;
    try {
      u = new URL(values["jwks-uri"]);
    } catch {
      throw new CliError("bad_jwks_uri", `--jwks-uri ${JSON.stringify(values["jwks-uri"])} is not a URL`);
    }
    if (!(u.protocol === "https:" || (u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname))))
      throw new CliError("bad_jwks_uri", "--jwks-uri must be https (http is accepted only on localhost)");
  }

  // An active policy with exactly these conditions on this issuer, for another writer or with other flags,
  // could only ever be ambiguous: refused before anything is written.
  const same = (
    await client.request<TrustPolicyRow[]>("GET", `jwt_trust_policies?issuer_url=eq.${enc(issuerUrl)}&is_active=is.true&select=*`)
  ).find((p) => JSON.stringify(sorted(p.conditions)) === JSON.stringify(sorted(conditions)));
  if (
    same &&
    (same.writer !== writer ||
      same.provider !== template.name ||
      same.allow_self_hosted !== allowSelfHosted ||
      JSON.stringify([...same.allow_events].sort()) !== JSON.stringify([...allowEvents].sort()))
  ) {
    throw new CliError(
      "policy_refused",
      `policy ${same.id} of writer "${same.writer}" already admits exactly these conditions on ${issuerUrl}: untrust it first (fedjwt untrust --writer ${same.writer} --policy ${same.id})`,
    );
  }
  const { description: _policyDescription, ...writerValues } = values;
  const [existingWriter] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(writer)}&select=*`);
  const writerAction = await applyPolicy(client, writer, policyFromFlags(writerValues), existingWriter);
  const issuer = await ensureUrlIssuer(client, issuerUrl, {
    ...(values["jwks-uri"] !== undefined ? { jwks_uri: values["jwks-uri"] } : {}),
    token_kind: tokenKind,
    ...(values.alg !== undefined ? { algs } : {}),
    ...(maxLifetime !== undefined ? { max_lifetime_seconds: maxLifetime } : {}),
    ...(clockTolerance !== undefined ? { clock_tolerance_seconds: clockTolerance } : {}),
    defaults: { algs, max_lifetime_seconds: template.defaultMaxLifetimeSeconds },
    explicitKind: values["token-kind"] !== undefined,
  });

  // The same active policy (writer, issuer, conditions, flags) already there: nothing to do.
  const mine = await client.request<TrustPolicyRow[]>(
    "GET",
    `jwt_trust_policies?writer=eq.${enc(writer)}&issuer_url=eq.${enc(issuerUrl)}&is_active=is.true&select=*`,
  );
  let policy = mine.find(
    (p) =>
      p.provider === template.name &&
      JSON.stringify(sorted(p.conditions)) === JSON.stringify(sorted(conditions)) &&
      p.allow_self_hosted === allowSelfHosted &&
      JSON.stringify([...p.allow_events].sort()) === JSON.stringify([...allowEvents].sort()),
  );
  const created = policy === undefined;
  if (!policy) {
    try {
      [policy] = await client.request<TrustPolicyRow[]>("POST", "jwt_trust_policies?select=*", {
        writer,
        issuer_url: issuerUrl,
        provider: template.name,
        conditions,
        allow_self_hosted: allowSelfHosted,
        allow_events: allowEvents,
        ...(values.description !== undefined ? { description: values.description } : {}),
      });
    } catch (e) {
      refused(e, "policy");
    }
  }
  const [writerRow] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(writer)}&select=*`);
  if (values.json) {
    printJson(io, { created, writerAction, policy, issuer, writer: writerRow });
    return;
  }
  const writerWords = { created: "new writer", updated: "writer's policy updated", unchanged: "existing writer" }[writerAction];
  io.out(
    [
      created
        ? `Registered trust policy ${policy!.id} for writer "${writer}" (${writerWords}).`
        : `Trust policy ${policy!.id} of writer "${writer}" was already registered; nothing to do.`,
      ...describePolicy(policy!, issuer, writerRow!, values.audience ?? `${audience} (this project's audience; check FEDJWT_AUDIENCE)`),
      `Remove it with: fedjwt untrust --writer ${writer} --policy ${policy!.id}`,
    ].join("\n"),
  );
}

function sorted(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Creates the URL issuer when it is new (with the template's defaults for what was not given), or updates
 * only the settings given on the command line that differ. Returns the row as registered.
 */
async function ensureUrlIssuer(
  client: RegistryClient,
  issuerUrl: string,
  given: Partial<UrlIssuerRow> & { defaults: { algs: string[]; max_lifetime_seconds: number }; explicitKind: boolean },
): Promise<UrlIssuerRow> {
  const { defaults, explicitKind, ...settings } = given;
  const [existing] = await client.request<UrlIssuerRow[]>("GET", `jwt_url_issuers?issuer_url=eq.${enc(issuerUrl)}&select=*`);
  try {
    if (!existing) {
      const [row] = await client.request<UrlIssuerRow[]>("POST", "jwt_url_issuers?select=*", {
        issuer_url: issuerUrl,
        algs: defaults.algs,
        max_lifetime_seconds: defaults.max_lifetime_seconds,
        ...settings,
      });
      return row!;
    }
    if (!explicitKind) delete settings.token_kind;
    const changed = Object.fromEntries(
      Object.entries(settings).filter(([k, v]) => JSON.stringify(existing[k as keyof UrlIssuerRow]) !== JSON.stringify(v)),
    );
    if (Object.keys(changed).length === 0) return existing;
    const [row] = await client.request<UrlIssuerRow[]>("PATCH", `jwt_url_issuers?issuer_url=eq.${enc(issuerUrl)}&select=*`, changed);
    return row!;
  } catch (e) {
    refused(e, "URL issuer");
  }
}

const untrustFlags = {
  writer: { type: "string", value: "<name>", required: true, description: "the policy's writer" },
  policy: { type: "string", value: "<id>", required: true, description: "the policy's id (fedjwt list shows it)" },
  ...CONNECTION_FLAGS,
} as const satisfies FlagSpecs;

/** `fedjwt untrust`: its flags, help and runner. */
export const untrustCommand = defineCommand({
  name: "untrust",
  summary: "stop admitting a trust policy's workloads",
  usage: ["--writer <name> --policy <id>"],
  description: `Deactivate a trust policy: tokens it admitted are refused once the gateway's cache has expired (403
no_matching_policy, or 401 unknown_issuer when the issuer has no active policy left). The row stays, audited;
the writer, its keys and its other policies are untouched.`,
  flags: untrustFlags,
  examples: ["fedjwt untrust --writer ci-deployer --policy 5b0f8a0e-4a4b-4f39-9d57-2f0f6c1f3c11"],
  run: ({ values }, io) => untrust(values, io),
});

/** `fedjwt untrust`. */
export async function untrust(values: FlagValues<typeof untrustFlags>, io: Io): Promise<void> {
  const writer = checkIssuer(values.writer);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(values.policy))
    throw new CliError("bad_arguments", `--policy ${JSON.stringify(values.policy)} is not a policy id (a UUID; fedjwt list shows them)`);
  const client = connection(values, "untrust");
  const filter = `id=eq.${enc(values.policy)}&writer=eq.${enc(writer)}`;
  const [row] = await client.request<TrustPolicyRow[]>("GET", `jwt_trust_policies?${filter}&select=*`);
  if (!row) throw new CliError("no_such_policy", `writer "${writer}" has no trust policy ${values.policy}`);
  let action: "deactivated" | "unchanged" = "unchanged";
  if (row.is_active) {
    await client.request("PATCH", `jwt_trust_policies?${filter}`, { is_active: false }, "return=minimal");
    action = "deactivated";
  }
  if (values.json) {
    printJson(io, { writer, policy: values.policy, action });
    return;
  }
  io.out(
    action === "deactivated"
      ? `Deactivated trust policy ${values.policy} of writer "${writer}": its workloads are refused once the gateway's cache expires.`
      : `Trust policy ${values.policy} of writer "${writer}" was already inactive; nothing to do.`,
  );
}

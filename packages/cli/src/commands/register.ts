import { importPublicKey, isSupportedAlg, SUPPORTED_ALGS, thumbprint, type SupportedAlg } from "@fedjwt/signer";
import { CliError } from "../errors.ts";
import { readText } from "../files.ts";
import { checkIssuer } from "../issuer.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";
import { CONNECTION_FLAGS, connection, enc, type IssuerRow, type KeyRow, type RegistryClient } from "../registry-client.ts";

const POLICY = "Issuer policy (defaults for a new issuer in brackets)";

/** The issuer-policy flags (register sets them; a later register updates only those given). */
export const POLICY_FLAGS = {
  "allowed-role": {
    type: "string",
    value: "<role>",
    multiple: true,
    group: POLICY,
    description: "an application role the writer may request [none]",
  },
  "db-role": {
    type: "string",
    value: "<role>",
    group: POLICY,
    description:
      "writer role PostgREST switches to [federated_writer]: federated_writer or a role made by federation.create_writer_role(); authenticated, anon, service_role and privileged roles are refused",
  },
  "max-lifetime": { type: "string", value: "<seconds>", group: POLICY, description: "longest token lifetime accepted, 1–3600 [300]" },
  "require-jti": { type: "boolean", group: POLICY, description: "accept each jti once (replay protection)" },
  description: { type: "string", value: "<text>", group: POLICY, description: "free text" },
  "rate-limit": {
    type: "string",
    value: "<per-second>",
    group: POLICY,
    description: "requests per second for the project (all gateway instances together), over it 429 rate_limited; none removes it [none]",
  },
  "rate-burst": { type: "string", value: "<n>", group: POLICY, description: "requests allowed at once [the rate, rounded up]" },
} as const satisfies FlagSpecs;

/** The flags naming one key: a public key file or a JWKS URL, and its window (shared with rotate). */
const KEY_FLAGS = {
  issuer: { type: "string", value: "<name>", required: true, group: "Key", description: "issuer name, as the writer puts it in iss" },
  "public-key": { type: "string", value: "<file>", group: "Key", description: ".pub (SPKI PEM) or .jwk.json file" },
  "jwks-uri": { type: "string", value: "<url>", group: "Key", description: "https URL of the writer's JWKS (http only on localhost)" },
  alg: {
    type: "string",
    value: "<alg>",
    group: "Key",
    description: "ES256, RS256 or EdDSA (default: from the key; required with --jwks-uri)",
  },
  kid: { type: "string", value: "<kid>", group: "Key", description: "key id (default: the JWK's kid, else the RFC 7638 thumbprint)" },
  "not-before": { type: "string", value: "<time>", group: "Key", description: "ISO time before which the key is not accepted" },
  "expires-at": { type: "string", value: "<time>", group: "Key", description: "ISO time after which the key is not accepted" },
} as const satisfies FlagSpecs;

const flags = { ...KEY_FLAGS, ...POLICY_FLAGS, ...CONNECTION_FLAGS } as const satisfies FlagSpecs;

/** `fedjwt register`: its flags, help and runner. */
export const registerCommand = defineCommand({
  name: "register",
  summary: "register a public key or JWKS URL on a project",
  usage: ["--issuer <name> (--public-key <file> | --jwks-uri <url>) [options]", "--issuer <name> <policy flags>   (an existing issuer)"],
  description: `Register a writer's public key (or the URL where it publishes its JWKS) on a project. Creates the issuer
with the given policy when it is new; updates only the policy flags you pass when it exists. Registering
the same key again is a no-op, so it is safe in scripts. Without a key it changes an existing issuer's
policy alone (as fedjwt policy does).`,
  flags,
  examples: [
    "fedjwt register --issuer orders-service --public-key keys/orders-service-prod-abc123.pub --allowed-role orders_writer",
    "fedjwt register --issuer inventory-service --jwks-uri https://inventory.example.com/.well-known/jwks.json --alg EdDSA",
    "fedjwt register --local --issuer orders-service --public-key keys/orders-service-local.pub --allowed-role orders_writer",
  ],
  run: ({ values }, io) => register(values, io),
});

/** The key row to insert, from --public-key or --jwks-uri. */
export async function keyFromFlags(
  values: Record<string, unknown>,
  issuer: string,
): Promise<Omit<KeyRow, "is_active" | "created_at" | "public_jwk">> {
  const file = values["public-key"] as string | undefined;
  const uri = values["jwks-uri"] as string | undefined;
  const algFlag = values.alg as string | undefined;
  if (algFlag !== undefined && !isSupportedAlg(algFlag))
    throw new CliError("bad_alg", `--alg ${JSON.stringify(algFlag)} is not one of ${SUPPORTED_ALGS.join(", ")}`);
  if ((file === undefined) === (uri === undefined)) throw new CliError("bad_arguments", "give exactly one of --public-key and --jwks-uri");
  const window = {
    not_before: isoOrNull(values["not-before"], "--not-before"),
    expires_at: isoOrNull(values["expires-at"], "--expires-at"),
  };
  if (uri !== undefined) {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      throw new CliError("bad_jwks_uri", `--jwks-uri ${JSON.stringify(uri)} is not a URL`);
    }
    const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
    if (!(u.protocol === "https:" || (u.protocol === "http:" && loopback))) {
      throw new CliError("bad_jwks_uri", "--jwks-uri must be https (http is accepted only on localhost)");
    }
    if (!algFlag) throw new CliError("bad_arguments", "--alg is required with --jwks-uri");
    if (values.kid !== undefined) throw new CliError("bad_arguments", "--kid does not apply to --jwks-uri: the JWKS names its keys");
    return { issuer, kid: null, alg: algFlag, public_key_pem: null, jwks_uri: uri, ...window };
  }
  const text = (await readText(file!, "public key file")).trim();
  let jwk: Record<string, unknown> | undefined;
  if (text.startsWith("{")) {
    try {
      jwk = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new CliError("bad_key", `${file}: not valid JSON`);
    }
  }
  let imported;
  try {
    imported = await importPublicKey(jwk ?? text, algFlag as SupportedAlg | undefined);
  } catch (e) {
    throw new CliError((e as { code?: string }).code?.startsWith("alg_") ? "bad_alg" : "bad_key", `${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const { exportSPKI } = await import("jose");
  const kid = (values.kid as string | undefined) ?? (typeof jwk?.kid === "string" ? jwk.kid : await thumbprint(imported.publicJwk!));
  return { issuer, kid, alg: imported.alg, public_key_pem: await exportSPKI(imported.key), jwks_uri: null, ...window };
}

function isoOrNull(v: unknown, flag: string): string | null {
  if (v === undefined) return null;
  const t = Date.parse(String(v));
  if (Number.isNaN(t)) throw new CliError("bad_time", `${flag} ${JSON.stringify(v)} is not an ISO date-time`);
  return new Date(t).toISOString();
}

/** Roles no writer may run as: Supabase Auth users' and the API's roles, and the platform's own. */
const NOT_WRITER_ROLES = new Set(["anon", "authenticated", "service_role", "authenticator", "postgres", "dashboard_user", "pgbouncer"]);

/** Refuses a --db-role that can never be a writer role, before asking the registry (which checks the rest). */
function checkDbRole(role: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role) || NOT_WRITER_ROLES.has(role) || /^(supabase|pg_|pgsodium)/.test(role)) {
    throw new CliError(
      "db_role_refused",
      `--db-role ${JSON.stringify(role)} is refused: writers run as federated_writer or a role made by federation.create_writer_role(), never as an Auth user's, the API's or a privileged role`,
    );
  }
  return role;
}

/** --rate-limit / --rate-burst as registry columns (only those given); `--rate-limit none` clears both. */
function rateLimitFromFlags(values: Record<string, unknown>): Partial<IssuerRow> {
  const rate = values["rate-limit"] as string | undefined;
  const burst = values["rate-burst"] as string | undefined;
  if (rate === "none") {
    if (burst !== undefined) throw new CliError("bad_arguments", "--rate-burst does not go with --rate-limit none");
    return { rate_limit_per_second: null, rate_limit_burst: null };
  }
  const out: Partial<IssuerRow> = {};
  if (rate !== undefined) {
    const n = Number(rate);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(rate) || !(n > 0) || n > 100_000)
      throw new CliError("bad_arguments", "--rate-limit must be a number of requests per second above 0 and at most 100000, or none");
    out.rate_limit_per_second = n;
  }
  if (burst !== undefined) {
    const n = Number(burst);
    if (!/^[0-9]+$/.test(burst) || n < 1 || n > 100_000)
      throw new CliError("bad_arguments", "--rate-burst must be a whole number from 1 to 100000");
    out.rate_limit_burst = n;
  }
  return out;
}

/** The policy columns given on the command line (only those). */
export function policyFromFlags(values: Record<string, unknown>): Partial<IssuerRow> {
  const policy: Partial<IssuerRow> = {};
  if (values["allowed-role"] !== undefined) policy.allowed_roles = values["allowed-role"] as string[];
  if (values["db-role"] !== undefined) policy.db_role = checkDbRole(values["db-role"] as string);
  if (values["max-lifetime"] !== undefined) {
    const n = Number(values["max-lifetime"]);
    if (!Number.isInteger(n) || n < 1 || n > 3600)
      throw new CliError("bad_lifetime", "--max-lifetime must be a whole number of seconds from 1 to 3600");
    policy.max_token_lifetime_seconds = n;
  }
  if (values["require-jti"] !== undefined) policy.require_jti = values["require-jti"] as boolean;
  if (values.description !== undefined) policy.description = values.description as string;
  Object.assign(policy, rateLimitFromFlags(values));
  return policy;
}

/** Adds a key row; "created" false when the very same key was already registered and active. */
export async function addKey(client: RegistryClient, key: Awaited<ReturnType<typeof keyFromFlags>>): Promise<{ created: boolean }> {
  try {
    await client.request("POST", "jwt_public_keys", key, "return=minimal");
    return { created: true };
  } catch (e) {
    if (!(e instanceof CliError) || e.upstreamCode !== "23505") throw e;
  }
  const filter = key.kid === null ? "kid=is.null" : `kid=eq.${enc(key.kid)}`;
  const [existing] = await client.request<KeyRow[]>("GET", `jwt_public_keys?issuer=eq.${enc(key.issuer)}&${filter}&select=*`);
  const same =
    existing &&
    existing.alg === key.alg &&
    (key.jwks_uri !== null ? existing.jwks_uri === key.jwks_uri : existing.public_key_pem?.trim() === key.public_key_pem?.trim());
  const what = key.kid === null ? "a JWKS URL" : `kid ${key.kid}`;
  if (!same) throw new CliError("duplicate_kid", `${what} is already registered for issuer ${key.issuer} with a different key`);
  if (!existing.is_active)
    throw new CliError(
      "key_deactivated",
      `${what} of issuer ${key.issuer} was deactivated; register a new key instead of reviving a revoked one`,
    );
  return { created: false };
}

/** `fedjwt register`. */
export async function register(values: FlagValues<typeof flags>, io: Io): Promise<void> {
  const issuer = checkIssuer(values.issuer);
  const withKey = values["public-key"] !== undefined || values["jwks-uri"] !== undefined;
  if (!withKey) {
    for (const f of ["alg", "kid", "not-before", "expires-at"] as const)
      if (values[f] !== undefined) throw new CliError("bad_arguments", `--${f} describes a key: give --public-key or --jwks-uri with it`);
    return changePolicy(values, io, "register");
  }
  const key = await keyFromFlags(values, issuer);
  const policy = policyFromFlags(values);
  const client = connection(values, "register");

  const [existing] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(issuer)}&select=*`);
  const issuerAction = await applyPolicy(client, issuer, policy, existing);
  const { created } = await addKey(client, key);
  const [row] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(issuer)}&select=*`);
  const source = key.jwks_uri ?? "public key";
  if (values.json) {
    printJson(io, { issuer, kid: key.kid, alg: key.alg, source, keyCreated: created, issuerAction, policy: row });
    return;
  }
  io.out(registerSummary(issuer, key, created, issuerAction, row!));
}

/**
 * Creates the issuer with `policy` when it does not exist, else writes only the columns that differ (an unchanged
 * policy writes nothing and adds no audit row). The registry's CHECK refusals come back as db_role_refused /
 * policy_refused.
 */
export async function applyPolicy(
  client: RegistryClient,
  issuer: string,
  policy: Partial<IssuerRow>,
  existing: IssuerRow | undefined,
): Promise<"created" | "updated" | "unchanged"> {
  try {
    if (!existing) {
      await client.request("POST", "jwt_issuers", { issuer, ...policy }, "return=minimal");
      return "created";
    }
    const changed = Object.fromEntries(
      Object.entries(policy).filter(([k, v]) => JSON.stringify(existing[k as keyof IssuerRow]) !== JSON.stringify(v)),
    );
    if (Object.keys(changed).length === 0) return "unchanged";
    await client.request("PATCH", `jwt_issuers?issuer=eq.${enc(issuer)}`, changed, "return=minimal");
    return "updated";
  } catch (e) {
    // A CHECK violation (SQLSTATE 23514) names its constraint; the db_role one has its own fix.
    if (e instanceof CliError && e.upstreamCode === "23514") {
      const upstream = {
        status: e.status ?? 400,
        upstreamCode: "23514",
        ...(e.upstreamMessage !== undefined ? { upstreamMessage: e.upstreamMessage } : {}),
        cause: e,
      };
      if (e.upstreamMessage?.includes("db_role")) {
        throw new CliError(
          "db_role_refused",
          `--db-role ${JSON.stringify(policy.db_role)} is refused by the registry: it is not a writer role (create it with federation.create_writer_role()) or it can become a privileged role`,
          upstream,
        );
      }
      throw new CliError("policy_refused", `the registry refused the policy: ${e.upstreamMessage ?? e.message}`, upstream);
    }
    throw e;
  }
}

/** Changes an existing issuer's policy alone (fedjwt policy, or register without a key): only the flags given. */
export async function changePolicy(values: Record<string, unknown>, io: Io, command: string): Promise<void> {
  const issuer = checkIssuer(values.issuer as string);
  const policy = policyFromFlags(values);
  if (Object.keys(policy).length === 0)
    throw new CliError(
      "bad_arguments",
      `nothing to change: give a policy flag (--allowed-role, --db-role, --max-lifetime, --require-jti, --description, --rate-limit, --rate-burst)${command === "register" ? ", or a key (--public-key / --jwks-uri)" : ""} (see: fedjwt ${command} --help)`,
    );
  const client = connection(values, command);
  const [existing] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(issuer)}&select=*`);
  if (!existing)
    throw new CliError(
      "no_such_issuer",
      `no issuer named "${issuer}": a new writer is registered with its key (fedjwt register --issuer ${issuer} --public-key <file>)`,
    );
  const action = await applyPolicy(client, issuer, policy, existing);
  const [row] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(issuer)}&select=*`);
  if (values.json) {
    printJson(io, { issuer, issuerAction: action, policy: row });
    return;
  }
  io.out(policySummary(issuer, action, row!));
}

/** What a policy change did: one line, then the issuer's policy as register prints it. */
export function policySummary(issuer: string, action: "created" | "updated" | "unchanged", row: IssuerRow): string {
  const first =
    action === "unchanged"
      ? `The policy of issuer "${issuer}" already says that; nothing to do.`
      : `Updated the policy of issuer "${issuer}".`;
  return [first, ...policyLines(row)].join("\n");
}

/** The issuer's policy, two lines at most (the rate limit only when there is one). */
function policyLines(row: IssuerRow): string[] {
  const lines = [
    `  issuer: db_role=${row.db_role} allowed_roles=[${row.allowed_roles.join(", ")}] max_lifetime=${row.max_token_lifetime_seconds}s require_jti=${row.require_jti}${row.is_active ? "" : " (issuer is DEACTIVATED)"}`,
  ];
  const rate = row.rate_limit_per_second;
  if (rate != null)
    lines.push(
      `  rate limit: ${rate}/s for the project (shared by every gateway instance), burst ${row.rate_limit_burst ?? Math.ceil(rate)}`,
    );
  return lines;
}

/** What register did, in one truthful line (the key and the issuer's policy together), then the issuer's policy. */
export function registerSummary(
  issuer: string,
  key: { kid: string | null; jwks_uri: string | null; alg: string },
  keyCreated: boolean,
  issuerAction: "created" | "updated" | "unchanged",
  row: IssuerRow,
): string {
  const what = key.kid === null ? `JWKS ${key.jwks_uri}` : `key ${key.kid}`;
  const policy = { created: "new issuer", updated: "issuer's policy updated", unchanged: "issuer's policy unchanged" }[issuerAction];
  const first = keyCreated
    ? `Registered ${what} (${key.alg}) for issuer "${issuer}" (${policy}).`
    : issuerAction === "unchanged"
      ? `Key ${key.kid ?? key.jwks_uri} of issuer "${issuer}" was already registered; nothing to do.`
      : `Key ${key.kid ?? key.jwks_uri} of issuer "${issuer}" was already registered; updated the issuer's policy.`;
  return [first, ...policyLines(row)].join("\n");
}

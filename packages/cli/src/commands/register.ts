import { importPublicKey, isPlatformIssuerName, ISSUER_PATTERN, isSupportedAlg, SUPPORTED_ALGS, thumbprint, type SupportedAlg } from "@fedjwt/signer";
import { parseFlags, required } from "../args.ts";
import { CliError } from "../errors.ts";
import { readText } from "../files.ts";
import { printJson, type Io } from "../output.ts";
import { CONNECTION_FLAGS, CONNECTION_HELP, connection, enc, type IssuerRow, type KeyRow, type RegistryClient } from "../registry-client.ts";

export const registerHelp = `Usage: fedjwt register --issuer <name> (--public-key <file> | --jwks-uri <url>) [options]

Register a writer's public key (or the URL where it publishes its JWKS) on a project. Creates the issuer
with the given policy when it is new; updates only the policy flags you pass when it exists. Registering
the same key again is a no-op, so it is safe in scripts.

Key:
  --issuer <name>           issuer name, as the writer puts it in iss (required)
  --public-key <file>       .pub (SPKI PEM) or .jwk.json file
  --jwks-uri <url>          https URL of the writer's JWKS (http only on localhost)
  --alg <alg>               ES256, RS256 or EdDSA (default: from the key; required with --jwks-uri)
  --kid <kid>               key id (default: the JWK's kid, else the RFC 7638 thumbprint)
  --not-before <time>       ISO time before which the key is not accepted
  --expires-at <time>       ISO time after which the key is not accepted

Issuer policy (defaults for a new issuer in brackets):
  --allowed-role <role>     an application role the writer may request; repeat [none]
  --db-role <role>          writer role PostgREST switches to [federated_writer]: federated_writer or a role
                            made by federation.create_writer_role(); authenticated, anon, service_role and
                            privileged roles are refused
  --max-lifetime <seconds>  longest token lifetime accepted, 1–3600 [300]
  --require-jti             accept each jti once (replay protection)
  --description <text>      free text

Connection:
${CONNECTION_HELP}
  -h, --help                  show this help`;

export const POLICY_FLAGS = {
  "allowed-role": { type: "string", multiple: true },
  "db-role": { type: "string" },
  "max-lifetime": { type: "string" },
  "require-jti": { type: "boolean" },
  description: { type: "string" },
} as const;

/** The key row to insert, from --public-key or --jwks-uri. */
export async function keyFromFlags(values: Record<string, unknown>, issuer: string): Promise<Omit<KeyRow, "is_active" | "created_at" | "public_jwk">> {
  const file = values["public-key"] as string | undefined;
  const uri = values["jwks-uri"] as string | undefined;
  const algFlag = values.alg as string | undefined;
  if (algFlag !== undefined && !isSupportedAlg(algFlag)) throw new CliError("bad_alg", `--alg ${JSON.stringify(algFlag)} is not one of ${SUPPORTED_ALGS.join(", ")}`);
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
    throw new CliError((e as { code?: string }).code ?? "bad_key", `${file}: ${(e as Error).message}`);
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
    throw new CliError("db_role_refused", `--db-role ${JSON.stringify(role)} is refused: writers run as federated_writer or a role made by federation.create_writer_role(), never as an Auth user's, the API's or a privileged role`);
  }
  return role;
}

/** The policy columns given on the command line (only those). */
export function policyFromFlags(values: Record<string, unknown>): Partial<IssuerRow> {
  const policy: Partial<IssuerRow> = {};
  if (values["allowed-role"] !== undefined) policy.allowed_roles = values["allowed-role"] as string[];
  if (values["db-role"] !== undefined) policy.db_role = checkDbRole(values["db-role"] as string);
  if (values["max-lifetime"] !== undefined) {
    const n = Number(values["max-lifetime"]);
    if (!Number.isInteger(n) || n < 1 || n > 3600) throw new CliError("bad_lifetime", "--max-lifetime must be a whole number of seconds from 1 to 3600");
    policy.max_token_lifetime_seconds = n;
  }
  if (values["require-jti"] !== undefined) policy.require_jti = values["require-jti"] as boolean;
  if (values.description !== undefined) policy.description = values.description as string;
  return policy;
}

/** Adds a key row; "created" false when the very same key was already registered and active. */
export async function addKey(client: RegistryClient, key: Awaited<ReturnType<typeof keyFromFlags>>): Promise<{ created: boolean }> {
  try {
    await client.request("POST", "jwt_public_keys", key, "return=minimal");
    return { created: true };
  } catch (e) {
    if (!(e instanceof CliError) || e.code !== "23505") throw e;
  }
  const filter = key.kid === null ? "kid=is.null" : `kid=eq.${enc(key.kid)}`;
  const [existing] = await client.request<KeyRow[]>("GET", `jwt_public_keys?issuer=eq.${enc(key.issuer)}&${filter}&select=*`);
  const same = existing && existing.alg === key.alg &&
    (key.jwks_uri !== null ? existing.jwks_uri === key.jwks_uri : existing.public_key_pem?.trim() === key.public_key_pem?.trim());
  const what = key.kid === null ? "a JWKS URL" : `kid ${key.kid}`;
  if (!same) throw new CliError("duplicate_kid", `${what} is already registered for issuer ${key.issuer} with a different key`);
  if (!existing.is_active) throw new CliError("key_deactivated", `${what} of issuer ${key.issuer} was deactivated; register a new key instead of reviving a revoked one`);
  return { created: false };
}

/** `fedjwt register`. */
export async function register(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags("register", argv, {
    ...CONNECTION_FLAGS,
    ...POLICY_FLAGS,
    issuer: { type: "string" },
    "public-key": { type: "string" },
    "jwks-uri": { type: "string" },
    alg: { type: "string" },
    kid: { type: "string" },
    "not-before": { type: "string" },
    "expires-at": { type: "string" },
  });
  const issuer = required("register", values, "issuer");
  if (!ISSUER_PATTERN.test(issuer)) throw new CliError("bad_issuer", `--issuer ${JSON.stringify(issuer)} must match ^[a-z0-9][a-z0-9._-]{0,62}$`);
  if (isPlatformIssuerName(issuer)) throw new CliError("bad_issuer", `--issuer ${JSON.stringify(issuer)} is refused: names containing "supabase" could pass for the platform's own tokens`);
  const key = await keyFromFlags(values, issuer);
  const policy = policyFromFlags(values);
  const client = connection(values, "register");

  const [existing] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(issuer)}&select=*`);
  let issuerAction: "created" | "updated" | "unchanged" = "unchanged";
  try {
    if (!existing) {
      await client.request("POST", "jwt_issuers", { issuer, ...policy }, "return=minimal");
      issuerAction = "created";
    } else {
      // Only what differs: an unchanged policy writes nothing (and adds no audit row).
      const changed = Object.fromEntries(
        Object.entries(policy).filter(([k, v]) => JSON.stringify(existing[k as keyof IssuerRow]) !== JSON.stringify(v)),
      );
      if (Object.keys(changed).length > 0) {
        await client.request("PATCH", `jwt_issuers?issuer=eq.${enc(issuer)}`, changed, "return=minimal");
        issuerAction = "updated";
      }
    }
  } catch (e) {
    if (e instanceof CliError && e.code === "23514" && /db_role/.test(e.message)) {
      throw new CliError("db_role_refused", `--db-role ${JSON.stringify(policy.db_role)} is refused by the registry: it is not a writer role (create it with federation.create_writer_role()) or it can become a privileged role`);
    }
    if (e instanceof CliError && e.code === "23514") throw new CliError("policy_refused", `the registry refused the policy: ${e.message.replace(/^.*failed \(HTTP \d+\): /, "")}`);
    throw e;
  }
  const { created } = await addKey(client, key);
  const [row] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(issuer)}&select=*`);
  const source = key.jwks_uri ?? "public key";
  if (values.json) {
    printJson(io, { issuer, kid: key.kid, alg: key.alg, source, keyCreated: created, issuerAction, policy: row });
    return;
  }
  io.out(
    [
      created ? `Registered ${key.kid === null ? `JWKS ${key.jwks_uri}` : `key ${key.kid}`} (${key.alg}) for issuer "${issuer}".` : `Key ${key.kid ?? key.jwks_uri} of issuer "${issuer}" was already registered; nothing to do.`,
      `  issuer ${issuerAction}: db_role=${row!.db_role} allowed_roles=[${row!.allowed_roles.join(", ")}] max_lifetime=${row!.max_token_lifetime_seconds}s require_jti=${row!.require_jti}${row!.is_active ? "" : " (issuer is DEACTIVATED)"}`,
    ].join("\n"),
  );
}

import { doctor, type DoctorReport } from "../doctor.ts";
import { readText } from "../files.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";
import { CliError } from "../errors.ts";
import { checkLocalAlone, LOCAL_FLAG, localTarget } from "../local.ts";

const flags = {
  url: { type: "string", value: "<url>", description: "the Supabase project URL (default: $SUPABASE_URL)" },
  "anon-key": {
    type: "string",
    value: "<key>",
    description: "anon or publishable key (default: $SUPABASE_ANON_KEY, then $SUPABASE_PUBLISHABLE_KEY)",
  },
  "service-role-key": {
    type: "string",
    value: "<key>",
    description: "service_role or secret key (default: $SUPABASE_SERVICE_ROLE_KEY, then $SUPABASE_SECRET_KEY)",
  },
  local: { ...LOCAL_FLAG.local, group: "Options", description: `${LOCAL_FLAG.local.description}; its audience too` },
  function: { type: "string", value: "<name>", default: "rest", description: "the gateway function's name" },
  audience: { type: "string", value: "<aud>", description: "the audience writers put in aud (default: the --url)" },
  issuer: { type: "string", value: "<name>", group: "A registered writer (optional)", description: "its issuer name" },
  key: {
    type: "string",
    value: "<file>",
    group: "A registered writer (optional)",
    description: "its private key file (PKCS#8 PEM or private JWK)",
  },
  kid: {
    type: "string",
    value: "<kid>",
    group: "A registered writer (optional)",
    description: "key id for its token (default: the key's RFC 7638 thumbprint)",
  },
  role: {
    type: "string",
    value: "<role>",
    multiple: true,
    group: "A registered writer (optional)",
    description: "an application role its token requests",
  },
  table: {
    type: "string",
    value: "<table>",
    group: "A registered writer (optional)",
    description: "a table its probe reads (default: one that does not exist, so PostgREST answers 404)",
  },
  "max-skew": { type: "string", value: "<seconds>", default: "10", description: "largest clock difference with the server accepted" },
  json: { type: "boolean", default: false, description: "print {ok, checks: [{id, status, message, fix}]} as JSON" },
} as const satisfies FlagSpecs;

/** `fedjwt doctor`: its flags, help and runner. */
export const doctorCommand = defineCommand({
  name: "doctor",
  summary: "check a deployment end to end and say how to fix what is wrong",
  usage: [
    "--url <url> --anon-key <key> --service-role-key <key> [--issuer <name> --key <file>] [options]",
    "--local [--issuer <name> --key <file>] [options]",
  ],
  description: `Check a deployment of the rest function end to end, one line per check:
  function   the function answers and verify_jwt is off (the platform does not refuse writer tokens)
  registry   the key registry's migrations are applied (read with the service key)
  keys       warns of active keys the gateway never saw and keys expiring within 7 days
  clock      this machine's clock against the server's Date header
  writer     the writer's issuer and key are registered and active          (with --issuer/--key)
  audience   the function accepts the writer's aud (FEDJWT_AUDIENCE)          (with --issuer/--key)
  postgrest  PostgREST accepts the function's re-signed token (signing key)  (with --issuer/--key)
Each failed check says what to do. Exit code 1 when a check failed, 0 when none did (skipped checks and
warnings pass).`,
  flags,
  examples: [
    'fedjwt doctor --url https://prod-abc123.supabase.co --anon-key "$SUPABASE_PUBLISHABLE_KEY" --service-role-key "$SUPABASE_SECRET_KEY"',
    "fedjwt doctor --local --issuer orders-service --key keys/orders-service-local.key --role orders_writer",
  ],
  run: ({ values }, io) => doctorCli(values, io),
});

const MARK = { ok: "✓", warn: "!", fail: "✗", skip: "-" } as const;

/** Renders a report as one line per check, then a summary line. */
export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.id.length));
  const lines = report.checks.map(
    (c) => `${MARK[c.status]} ${c.id.padEnd(width)}  ${c.message}${c.status !== "ok" && c.fix ? ` — fix: ${c.fix}` : ""}`,
  );
  const failed = report.checks.filter((c) => c.status === "fail").length;
  const skipped = report.checks.filter((c) => c.status === "skip").length;
  const warned = report.checks.filter((c) => c.status === "warn").length;
  lines.push(
    failed === 0
      ? `No problem found (${report.checks.length - skipped - warned} checks passed, ${warned ? `${warned} warning(s), ` : ""}${skipped} skipped).`
      : `${failed} check(s) failed.`,
  );
  return lines.join("\n");
}

/** `fedjwt doctor`: runs the checks, prints them; resolves to exit code 1 when one failed. */
export async function doctorCli(values: FlagValues<typeof flags>, io: Io): Promise<number> {
  if (values.local) checkLocalAlone(values, ["url", "anon-key", "service-role-key"], "doctor");
  const local = values.local ? localTarget() : undefined;
  const url = local?.url ?? values.url ?? process.env.SUPABASE_URL;
  if (!url)
    throw new CliError("bad_arguments", "--url (or SUPABASE_URL), or --local for the local stack, is required (see: fedjwt doctor --help)");
  // An empty variable counts as unset, as for the registry commands.
  const anonKey = local?.publishableKey ?? values["anon-key"] ?? (process.env.SUPABASE_ANON_KEY || process.env.SUPABASE_PUBLISHABLE_KEY);
  const serviceKey =
    local?.secretKey ?? values["service-role-key"] ?? (process.env.SUPABASE_SERVICE_ROLE_KEY || process.env.SUPABASE_SECRET_KEY);
  const audience = values.audience ?? local?.audience;
  if ((values.issuer === undefined) !== (values.key === undefined))
    throw new CliError("bad_arguments", "give --issuer and --key together (see: fedjwt doctor --help)");
  const maxSkew = Number(values["max-skew"]);
  if (!Number.isInteger(maxSkew) || maxSkew < 0) throw new CliError("bad_arguments", "--max-skew must be a whole number of seconds");
  const writer =
    values.issuer !== undefined && values.key !== undefined
      ? {
          issuer: values.issuer,
          privateKey: await readText(values.key, "key file"),
          ...(values.kid !== undefined ? { kid: values.kid } : {}),
          ...(values.role !== undefined ? { roles: values.role } : {}),
        }
      : undefined;
  const report = await doctor({
    url,
    functionName: values.function,
    maxSkewSeconds: maxSkew,
    ...(anonKey ? { anonKey } : {}),
    ...(serviceKey ? { serviceKey } : {}),
    ...(audience !== undefined ? { audience } : {}),
    ...(values.table !== undefined ? { table: values.table } : {}),
    ...(writer ? { writer } : {}),
  });
  if (values.json) printJson(io, report);
  else io.out(formatReport(report));
  return report.ok ? 0 : 1;
}

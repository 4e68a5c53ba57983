import { isPlainText } from "@fedjwt/proxy";
import { CliError } from "../errors.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";
import { CONNECTION_FLAGS, connection } from "../registry-client.ts";
import { parseDuration } from "../usage.ts";
import { table } from "./list.ts";

const flags = {
  writer: {
    type: "string",
    value: "<name>",
    description: "only this writer (an issuer name, or authenticated, service_role, anon, postgres…)",
  },
  table: { type: "string", value: "<table>", description: "only this table (orders means public.orders)" },
  "request-id": { type: "string", value: "<id>", description: "only the rows of this request (its X-Request-Id)" },
  since: { type: "string", value: "<duration>", description: "only rows written within this window, e.g. 30m, 1h, 7d" },
  limit: { type: "string", value: "<n>", default: "100", description: "at most this many rows, newest first (1 to 1000)" },
  ...CONNECTION_FLAGS,
} as const satisfies FlagSpecs;

/** `fedjwt audit`: its flags, help and runner. */
export const auditCommand = defineCommand({
  name: "audit",
  summary: "list write audit rows (who wrote which row, in which request)",
  usage: ["[--writer <name>] [--table <t>] [--request-id <id>] [--since 1h] [--limit <n>] [--json]"],
  description: `List the rows of the write audit (federation.write_audit), newest first: one per row inserted,
updated or deleted in an audited table (federation.enable_write_audit), with the writer, its subject and
key id (or trust policy), the row's primary key, the columns that changed and the request id the gateway
answered in X-Request-Id. Reads public.write_audit_rows with the service key.`,
  flags,
  examples: ["fedjwt audit --writer orders-service --since 1h", "fedjwt audit --request-id 0193a5f0-7c1e-7abc-8def-0123456789ab --json"],
  run: ({ values }, io) => audit(values, io),
});

/** One audit row as public.write_audit_rows returns it. */
export interface AuditRow {
  id: number;
  at: string;
  table_name: string;
  op: "INSERT" | "UPDATE" | "DELETE";
  pk: Record<string, unknown>;
  /** An UPDATE that changed the primary key: the key the row had before. */
  old_pk: Record<string, unknown> | null;
  changed_columns: string[] | null;
  old_values: Record<string, unknown> | null;
  new_values: Record<string, unknown> | null;
  writer: string;
  writer_sub: string | null;
  writer_kid: string | null;
  request_id: string | null;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const TABLE = /^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

function bad(message: string): CliError {
  return new CliError("bad_arguments", `${message} (see: fedjwt audit --help)`);
}

/** The rpc arguments for the given flags; bad values are refused before any request. */
export function auditQuery(
  values: Pick<FlagValues<typeof flags>, "writer" | "table" | "request-id" | "since" | "limit">,
  now = Date.now(),
): Record<string, unknown> {
  const limit = Number(values.limit);
  if (!/^[1-9][0-9]{0,3}$/.test(values.limit) || limit > 1000)
    throw bad(`--limit ${JSON.stringify(values.limit)} must be a whole number from 1 to 1000`);
  const writer = values.writer;
  if (writer !== undefined && (writer === "" || writer.length > 200 || !isPlainText(writer)))
    throw bad("--writer must be a name of 1 to 200 printable characters");
  if (values.table !== undefined && !TABLE.test(values.table))
    throw bad(`--table ${JSON.stringify(values.table)} is not a table name such as orders or public.orders`);
  const rid = values["request-id"];
  if (rid !== undefined && !REQUEST_ID.test(rid))
    throw bad("--request-id must be 1 to 64 of A-Z a-z 0-9 . _ : - (the gateway records no other shape)");
  const since = values.since === undefined ? undefined : new Date(now - parseDuration(values.since, "--since")).toISOString();
  return {
    ...(writer !== undefined ? { p_writer: writer } : {}),
    ...(values.table !== undefined ? { p_table: values.table } : {}),
    ...(rid !== undefined ? { p_request_id: rid } : {}),
    ...(since !== undefined ? { p_since: since } : {}),
    // One more than asked: tells whether the answer was cut.
    p_limit: limit + 1,
  };
}

/** `fedjwt audit`. */
export async function audit(values: FlagValues<typeof flags>, io: Io): Promise<void> {
  const query = auditQuery(values);
  const limit = Number(values.limit);
  const client = connection(values, "audit");
  let rows: AuditRow[];
  try {
    rows = await client.request<AuditRow[]>("POST", "rpc/write_audit_rows", query);
  } catch (e) {
    if (e instanceof CliError && (e.upstreamCode === "PGRST202" || e.upstreamCode === "42883")) {
      throw new CliError(
        "registry_outdated",
        `${client.url} has no write audit yet (public.write_audit_rows is missing): apply the template's latest migrations (supabase db push)`,
        { exitCode: 1, cause: e },
      );
    }
    throw e;
  }
  const truncated = rows.length > limit;
  const shown = rows.slice(0, limit);
  if (values.json) {
    printJson(io, { rows: shown, limit, truncated });
    return;
  }
  if (shown.length === 0) {
    io.out("No audit rows match.");
    return;
  }
  io.out(
    table(
      ["AT", "WRITER", "KID", "SUB", "TABLE", "OP", "KEY", "CHANGED", "REQUEST_ID"],
      shown.map((r) => [
        r.at,
        r.writer,
        r.writer_kid ?? "-",
        r.writer_sub ?? "-",
        r.table_name,
        r.op,
        r.old_pk ? `${JSON.stringify(r.old_pk)}->${JSON.stringify(r.pk)}` : JSON.stringify(r.pk),
        r.changed_columns?.join(",") || "-",
        r.request_id ?? "-",
      ]),
    ),
  );
  if (truncated) io.err(`Showing the newest ${limit} rows; narrow with --since, --writer or --table, or raise --limit.`);
}

// The write audit at scale: a migrated embedded PostgreSQL 17 gets N generated audit rows (default 10
// million: 30 days, 20 writers, 8 tables, a request id per two rows, in time order as the trigger writes
// them), then each query `fedjwt audit` makes runs through public.write_audit_rows as service_role, and the
// plan Postgres chose for it (auto_explain, EXPLAIN ANALYZE of the statement the function builds) is printed
// with its time. Markdown on stdout, for docs/operations.md. A measurement, not a test: nothing is asserted.
//
//   node tooling/bench/src/audit-index.ts [rows]
import pg from "pg";
import { startSupabaseDb } from "@fedjwt/local-stack";

const rows = Number(process.argv[2] ?? 10_000_000);
const say = (s: string) => process.stderr.write(`${s}\n`);

/** The queries `fedjwt audit` sends, as write_audit_rows arguments. */
const QUERIES: Array<[string, string]> = [
  ["fedjwt audit --writer writer-7 --since 1h", "p_writer => 'writer-7', p_since => now() - interval '1 hour'"],
  ["fedjwt audit --writer writer-7 --since 7d", "p_writer => 'writer-7', p_since => now() - interval '7 days'"],
  ["fedjwt audit --writer writer-7", "p_writer => 'writer-7'"],
  [
    "fedjwt audit --writer retired-writer --since 1h (no row in the hour)",
    "p_writer => 'retired-writer', p_since => now() - interval '1 hour'",
  ],
  ["fedjwt audit --writer retired-writer (its newest rows are two weeks old)", "p_writer => 'retired-writer'"],
  ["fedjwt audit --table t3 --since 1h", "p_table => 't3', p_since => now() - interval '1 hour'"],
  [
    "fedjwt audit --writer writer-7 --table t3 --since 24h",
    "p_writer => 'writer-7', p_table => 't3', p_since => now() - interval '24 hours'",
  ],
  ["fedjwt audit --request-id req-4000000", "p_request_id => 'req-4000000'"],
  ["fedjwt audit --since 1h", "p_since => now() - interval '1 hour'"],
  ["fedjwt audit", ""],
];

const db = await startSupabaseDb();
const client = new pg.Client({ connectionString: db.url });
await client.connect();
try {
  say(`generating ${rows.toLocaleString("en")} audit rows…`);
  const t0 = performance.now();
  const batch = 1_000_000;
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    await client.query(
      `insert into federation.write_audit (at, table_name, op, pk, changed_columns, writer, writer_sub, writer_kid, request_id)
       select now() - interval '30 days' * (1 - g::float8 / $3),
              'public.t' || (g % 8),
              (array['INSERT', 'UPDATE', 'DELETE'])[1 + g % 3],
              jsonb_build_object('id', g),
              array['status', 'updated_at'],
              case when g < $3 / 2 and g % 1000 = 0 then 'retired-writer' else 'writer-' || (g % 20) end,
              'worker-' || (g % 5),
              'kid-' || (g % 20),
              'req-' || (g / 2)
       from generate_series($1::bigint, $2::bigint) as g`,
      [from, to, rows],
    );
    say(`  ${to.toLocaleString("en")} rows (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  await client.query("vacuum analyze federation.write_audit");
  const size = (
    await client.query<{ table: string; indexes: string }>(
      `select pg_size_pretty(pg_table_size('federation.write_audit')) as table,
              pg_size_pretty(pg_indexes_size('federation.write_audit')) as indexes`,
    )
  ).rows[0]!;

  // auto_explain hands the plan of every statement, nested ones included, to this client as a LOG notice.
  await client.query("load 'auto_explain'");
  await client.query(
    "set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on; set auto_explain.log_buffers = on; set auto_explain.log_timing = on; set auto_explain.log_nested_statements = on; set client_min_messages = log",
  );
  let notices: string[] = [];
  client.on("notice", (n) => notices.push(n.message ?? ""));
  const out: string[] = [];
  out.push(
    `${rows.toLocaleString("en")} rows generated in ${loadSeconds.toFixed(0)} s (indexes in place); table ${size.table}, indexes ${size.indexes}.`,
    "",
  );
  for (const [what, args] of QUERIES) {
    // Once to warm the cache as a running project would be, then measured.
    await client.query("begin; set local role service_role");
    await client.query(`select count(*) from public.write_audit_rows(${args}${args ? ", " : ""}p_limit => 101)`);
    notices = [];
    const t = performance.now();
    const r = await client.query<{ n: string }>(
      `select count(*) as n from public.write_audit_rows(${args}${args ? ", " : ""}p_limit => 101)`,
    );
    const ms = performance.now() - t;
    await client.query("commit");
    const plan = notices.find((m) => m.includes("federation.write_audit a where")) ?? notices[0] ?? "(no plan)";
    const body = plan.replace(/^duration: [0-9.]+ ms\s+plan:\s*\n/, "").replace(/^Query Text: .*\n/m, "");
    out.push(`**${what}** → ${r.rows[0]!.n} rows in ${ms.toFixed(1)} ms (round trip)`, "", "```", body.trimEnd(), "```", "");
    say(`  ${what}: ${ms.toFixed(1)} ms`);
  }
  console.log(out.join("\n"));
} finally {
  await client.end();
  await db.stop();
}

// The operations migration, applied as on hosted Supabase (non-superuser postgres): usage recorded only
// through record_key_usage by service_role, rate-limit columns checked, writer roles' statement timeout.
import pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { anon, authUser, run, serviceRole, useSupabaseDb, writer, type Outcome } from "../src/testing.ts";

const { client, db } = useSupabaseDb({ hostedLayout: true });

function errorCode(o: Outcome): string | undefined {
  return "error" in o ? o.error : undefined;
}
function rows(o: Outcome): Record<string, unknown>[] {
  if ("error" in o) throw new Error(`${o.error} ${o.message}`);
  return o.rows;
}

const batch = (requests: number, errors: number, lastSeen: string) =>
  JSON.stringify([{ issuer: "svc-u", kid: "k1", hour: "2026-12-04T10:00:00Z", requests, errors, last_seen_at: lastSeen }]);

describe("usage", () => {
  it("record_key_usage sums batches per (issuer, kid, hour) and keeps the latest last_seen_at", async () => {
    for (const [r, e, seen] of [
      [3, 1, "2026-12-04T10:20:00Z"],
      [2, 0, "2026-12-04T10:10:00Z"],
    ] as const) {
      expect(rows(await run(client(), serviceRole, "select public.record_key_usage($1::jsonb) as n", [batch(r, e, seen)], true))).toEqual([
        { n: 1 },
      ]);
    }
    const got = rows(await run(client(), serviceRole, "select kid, requests::int, errors::int, last_seen_at from public.jwt_key_usage"));
    expect(got).toEqual([{ kid: "k1", requests: 5, errors: 1, last_seen_at: new Date("2026-12-04T10:20:00Z") }]);
    const summary = (since: string) =>
      run(client(), serviceRole, "select kid, last_seen_at, requests::int, errors::int from public.key_usage_summary($1)", [since]);
    // The window counts whole hours: 10:59 still takes in the 10:00 hour; 11:00 does not, but last_seen_at stays.
    expect(rows(await summary("2026-12-04T10:59:00Z"))).toEqual([
      { kid: "k1", last_seen_at: new Date("2026-12-04T10:20:00Z"), requests: 5, errors: 1 },
    ]);
    expect(rows(await summary("2026-12-04T11:00:00Z"))).toEqual([
      { kid: "k1", last_seen_at: new Date("2026-12-04T10:20:00Z"), requests: 0, errors: 0 },
    ]);
  });

  it("only service_role may record or read usage; nobody writes the table directly", async () => {
    for (const who of [anon, authUser("8d0fd2b3-9ca1-4a58-8b0c-000000000009"), writer("orders-service", ["orders_writer"])]) {
      expect(errorCode(await run(client(), who, "select public.record_key_usage($1::jsonb)", [batch(1, 0, "2026-12-04T10:00:00Z")]))).toBe(
        "42501",
      );
      expect(errorCode(await run(client(), who, "select * from public.jwt_key_usage"))).toBe("42501");
      expect(errorCode(await run(client(), who, "select * from public.key_usage_summary(now())"))).toBe("42501");
    }
    expect(errorCode(await run(client(), serviceRole, "update public.jwt_key_usage set requests = 0"))).toBe("42501");
    expect(errorCode(await run(client(), serviceRole, "select public.record_key_usage('{}'::jsonb)"))).toBe("22023");
  });
});

describe("rate windows shared by gateway instances", () => {
  const A = "6f0c1a8e-0000-4000-8000-00000000000a";
  const B = "6f0c1a8e-0000-4000-8000-00000000000b";
  const report = (instance: string, rows: Array<[issuer: string, secondsAgo: number, seen: number, admitted: number]>) =>
    run(
      client(),
      serviceRole,
      `select public.record_rate_windows($1::uuid, (
         select coalesce(jsonb_agg(jsonb_build_object('issuer', r->>0, 'second', date_trunc('second', now()) - ((r->>1)::int * interval '1 second'),
           'seen', (r->>2)::int, 'admitted', (r->>3)::int)), '[]'::jsonb)
         from jsonb_array_elements($2::jsonb) r)) as w`,
      [instance, JSON.stringify(rows)],
      true,
    );

  it("sums each instance's counts per second and answers the project-wide and own requests of 10 whole seconds before the last two", async () => {
    expect(errorCode(await report(A, [["rw-a", 5, 6, 4]]))).toBeUndefined();
    const [row] = rows(
      await report(B, [
        ["rw-a", 5, 2, 2],
        ["rw-a", 4, 2, 2],
        ["rw-a", 0, 50, 1],
        ["rw-a", 30, 99, 99],
      ]),
    );
    // Seconds 4 and 5 ago count (6 + 2 + 2 seen); the current second and a second 30 s ago do not.
    expect(row!.w).toEqual({ "rw-a": { seen: 10, mine: 4, admitted: 8, instances: 2 } });
    const [again] = rows(await report(A, [["rw-a", 5, 1, 1]]));
    expect(again!.w).toEqual({ "rw-a": { seen: 11, mine: 7, admitted: 9, instances: 2 } });
  });

  it("only service_role may report; the table is closed to every role", async () => {
    for (const who of [anon, authUser("8d0fd2b3-9ca1-4a58-8b0c-00000000000a"), writer("orders-service", ["orders_writer"])]) {
      expect(errorCode(await run(client(), who, "select public.record_rate_windows($1::uuid, '[]'::jsonb)", [A]))).toBe("42501");
      expect(errorCode(await run(client(), who, "select * from federation.rate_windows"))).toBe("42501");
    }
    expect(errorCode(await run(client(), serviceRole, "select * from federation.rate_windows"))).toBe("42501");
    expect(errorCode(await run(client(), serviceRole, "select public.record_rate_windows($1::uuid, '{}'::jsonb)", [A]))).toBe("22023");
  });
});

describe("rate-limit columns", () => {
  it("take a positive rate with an optional burst; a burst without a rate, or a zero rate, is refused", async () => {
    const add = (issuer: string, rps: number | null, burst: number | null) =>
      run(client(), serviceRole, "insert into public.jwt_issuers (issuer, rate_limit_per_second, rate_limit_burst) values ($1, $2, $3)", [
        issuer,
        rps,
        burst,
      ]);
    expect(errorCode(await add("rl-ok", 2.5, 10))).toBeUndefined();
    expect(errorCode(await add("rl-none", null, null))).toBeUndefined();
    expect(errorCode(await add("rl-burst-only", null, 5))).toBe("23514");
    expect(errorCode(await add("rl-zero", 0, null))).toBe("23514");
    expect(errorCode(await add("rl-neg-burst", 1, 0))).toBe("23514");
  });
});

describe("writer statement timeout", () => {
  const timeoutOf = async (role: string) =>
    rows(
      await run(
        client(),
        serviceRole,
        `select c.cfg from pg_db_role_setting s join pg_roles r on r.oid = s.setrole, unnest(s.setconfig) c(cfg)
         where r.rolname = $1 and c.cfg like 'statement_timeout=%'`,
        [role],
      ),
    ).map((r) => r.cfg);

  it("federated_writer and writer roles that existed before the migration get 8s", async () => {
    expect(await timeoutOf("federated_writer")).toEqual(["statement_timeout=8s"]);
    expect(await timeoutOf("inventory_service")).toEqual(["statement_timeout=8s"]);
  });

  it("create_writer_role sets it on a new role and keeps an override on an existing one", async () => {
    await client().query("select federation.create_writer_role('ops_new_writer')");
    expect(await timeoutOf("ops_new_writer")).toEqual(["statement_timeout=8s"]);
    await client().query("alter role ops_new_writer set statement_timeout = '30s'");
    await client().query("select federation.create_writer_role('ops_new_writer')");
    expect(await timeoutOf("ops_new_writer")).toEqual(["statement_timeout=30s"]);
  });

  it("create_writer_role notifies PostgREST to reload its config (role settings)", async () => {
    // PostgREST applies role settings it loaded with its config: without this notification a new role's
    // timeout (or a changed one) is not applied until it restarts.
    const listener = new pg.Client({ connectionString: db().url });
    await listener.connect();
    const heard: Array<{ channel: string; payload: string | undefined }> = [];
    listener.on("notification", (n) => heard.push({ channel: n.channel, payload: n.payload }));
    try {
      await listener.query("listen pgrst");
      await client().query("select federation.create_writer_role('ops_notified_writer')");
      await vi.waitFor(() => expect(heard).toEqual([{ channel: "pgrst", payload: "reload config" }]), { timeout: 5_000 });
      expect(await timeoutOf("ops_notified_writer")).toEqual(["statement_timeout=8s"]);
      // An existing role (its timeout kept) still gets the grants create_writer_role makes: notified again.
      await client().query("select federation.create_writer_role('ops_notified_writer')");
      await vi.waitFor(() => expect(heard).toHaveLength(2), { timeout: 5_000 });
      expect(heard[1]).toEqual({ channel: "pgrst", payload: "reload config" });
    } finally {
      await listener.end();
    }
  });
});

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runAdvisorLints } from "../src/advisor-lints.ts";
import { repoRoot } from "../src/paths.ts";
import { anon, authUser, run, serviceRole, useSupabaseDb, writer } from "../src/testing.ts";

// As on hosted Supabase: migrations applied by a non-superuser postgres, writer roles without the auth schema.
const { client } = useSupabaseDb({ hostedLayout: true });

async function value(ctx: Parameters<typeof run>[1], expr: string): Promise<unknown> {
  const o = await run(client(), ctx, `select ${expr} as v`);
  if ("error" in o) throw new Error(`${o.error}: ${o.message}`);
  return o.rows[0]!.v;
}

const HELPERS = [
  "federation.issuer()",
  "federation.is_issuer('orders-service')",
  "federation.is_issuer('supabase')",
  "federation.is_issuer('supabase-demo')",
  "federation.has_role('orders_writer')",
  "federation.claim('tenant_id')",
  "federation.writer_sub()",
  "federation.writer_uid()",
  "federation.is_writer_request()",
];

/** Every helper's value for `ctx`, as one object. */
async function allHelpers(ctx: Parameters<typeof run>[1]): Promise<Record<string, unknown>> {
  const o = await run(client(), ctx, `select ${HELPERS.map((h, i) => `${h} as h${i}`).join(", ")}`);
  if ("error" in o) throw new Error(`${o.error}: ${o.message}`);
  return Object.fromEntries(HELPERS.map((h, i) => [h, o.rows[0]![`h${i}`]]));
}

/** What every helper answers for a request that is not a gateway-minted writer request. */
const NOBODY = Object.fromEntries(HELPERS.map((h) => [h, /is_issuer|has_role|is_writer_request/.test(h) ? false : null]));

describe("federation helpers", () => {
  const uid = randomUUID();
  const w = writer("orders-service", ["orders_writer"], uid, "federated_writer", { tenant_id: "t-1" });

  it("read a gateway-minted writer request", async () => {
    expect(await allHelpers(w)).toEqual({
      ...NOBODY,
      "federation.issuer()": "orders-service",
      "federation.is_issuer('orders-service')": true,
      "federation.has_role('orders_writer')": true,
      "federation.claim('tenant_id')": "t-1",
      "federation.writer_sub()": "svc-orders-service",
      "federation.writer_uid()": uid,
      "federation.is_writer_request()": true,
    });
  });

  it("claim() reads only the writer_claims object, never a top-level claim", async () => {
    expect(await value(w, "federation.claim('aud')")).toBeNull();
    expect(await value(w, "federation.claim('iss')")).toBeNull();
    const top = { ...w, claims: { ...w.claims, tenant_id: "top-level" } };
    expect(await value({ ...top, claims: { ...top.claims, writer_claims: {} } }, "federation.claim('tenant_id')")).toBeNull();
  });

  it("believe nothing from a Supabase Auth user's token, whatever claims it carries", async () => {
    const user = authUser(randomUUID(), {
      app_roles: ["orders_writer"],
      writer_sub: "x",
      writer_claims: { tenant_id: "t-1" },
      fedjwt_gateway: 1,
      iss: "orders-service",
    });
    expect(await allHelpers(user)).toEqual(NOBODY);
    expect(await allHelpers(authUser(randomUUID()))).toEqual(NOBODY);
  });

  it.each([
    ["the anon key (iss supabase-demo)", { role: "anon", claims: { iss: "supabase-demo", role: "anon", ref: "x" } }],
    [
      "the service key (iss supabase)",
      { role: "service_role", claims: { iss: "supabase", role: "service_role", app_roles: ["orders_writer"], fedjwt_gateway: 1 } },
    ],
    ["a writer role whose token names a platform issuer", writer("supabase", ["orders_writer"])],
    ["a writer role whose token names a platform-like issuer", writer("my-supabase-demo", ["orders_writer"])],
    [
      "a writer role without the gateway's claim",
      { role: "federated_writer", claims: { iss: "orders-service", sub: randomUUID(), app_roles: ["orders_writer"], writer_sub: "x" } },
    ],
    ["a writer role with a URL issuer", writer("https://abc.supabase.co/auth/v1", ["orders_writer"])],
    ["no claims at all", anon],
  ])("believe nothing from %s", async (_label, ctx) => {
    expect(await allHelpers(ctx)).toEqual(NOBODY);
  });

  it("a URL or platform issuer cannot insert as a writer", async () => {
    for (const iss of ["http://127.0.0.1:54321/auth/v1", "https://abc.supabase.co/auth/v1", "supabase", "supabase-demo"]) {
      const forged = authUser(randomUUID(), { iss, app_roles: ["widgets_writer"], fedjwt_gateway: 1 });
      const o = await run(client(), forged, `insert into public.widgets (name, owner_issuer) values ('x', $1)`, [iss]);
      expect("error" in o && o.error, iss).toBe("42501");
      const asWriter = await run(
        client(),
        writer(iss, ["widgets_writer"]),
        `insert into public.widgets (name, owner_issuer) values ('x', $1)`,
        [iss],
      );
      expect("error" in asWriter && asWriter.error, iss).toBe("42501");
    }
  });
});

describe("writer roles and the auth schema", () => {
  it("a writer's column default takes the gateway's UUID subject, not auth.uid()", async () => {
    const sub = randomUUID();
    const o = await run(
      client(),
      writer("widgets-service", ["widgets_writer"], sub),
      `insert into public.widgets (name) values ('uid') returning created_by`,
    );
    expect(o).toEqual({ rows: [{ created_by: sub }] });
  });

  it.each(["auth.uid()", "auth.jwt()", "auth.role()"])("%s is refused to writer roles (42501, as on hosted Supabase)", async (fn) => {
    const o = await run(client(), writer("orders-service", ["orders_writer"]), `select ${fn}`);
    expect("error" in o && o.error).toBe("42501");
    expect("error" in o && o.message).toMatch(/permission denied for schema auth/);
  });

  it("a per-writer role made by federation.create_writer_role is refused auth.uid() too", async () => {
    await client().query(`select federation.create_writer_role('probe_writer')`);
    const o = await run(client(), writer("orders-service", [], randomUUID(), "probe_writer"), `select auth.uid()`);
    expect("error" in o && o.error).toBe("42501");
  });

  // Measured here: a policy stores auth.uid() by OID, so evaluating it needs no USAGE on the auth schema — a
  // policy with no `to` clause runs for writer roles and compares the writer's `sub`, which the gateway
  // always derives (UUIDv5, version nibble 5; GoTrue issues v4), so it matches no Auth user. A name written
  // in SQL the writer runs (a security-invoker function body, a direct call) is refused with 42501.
  it("a policy with no `to` clause that calls auth.uid() sees the writer's derived sub and matches no user", async () => {
    await client().query(`
      create table if not exists public.uid_probe (id int primary key, owner uuid not null);
      alter table public.uid_probe enable row level security;
      grant select on public.uid_probe to authenticated, federated_writer;
      create policy own on public.uid_probe for select using (owner = (select auth.uid()));
      create or replace function public.uid_probe_owner_is_me(o uuid) returns boolean language plpgsql stable
        as $f$ begin return o = auth.uid(); end $f$;
    `);
    const sub = randomUUID();
    await client().query(`insert into public.uid_probe values (1, $1), (2, $2)`, [sub, randomUUID()]);
    expect(await run(client(), authUser(sub), "select id from public.uid_probe")).toEqual({ rows: [{ id: 1 }] });
    expect(await run(client(), writer("x-service", [], "0b7c3f4e-2d1a-5c6b-8a9f-1e2d3c4b5a69"), "select id from public.uid_probe")).toEqual(
      { rows: [] },
    );
    const named = await run(client(), writer("x-service", [], sub), "select public.uid_probe_owner_is_me(owner) from public.uid_probe");
    expect("error" in named && named.error).toBe("42501");
  });

  it("service_role may create writer roles; writers and Auth users may not", async () => {
    expect(await run(client(), serviceRole, `select federation.create_writer_role('svc_made_writer') as r`)).toEqual({
      rows: [{ r: "svc_made_writer" }],
    });
    for (const who of [writer("orders-service", []), authUser(randomUUID()), anon]) {
      const o = await run(client(), who, `select federation.create_writer_role('sneaky_writer')`);
      expect("error" in o && o.error).toBe("42501");
    }
  });

  it.each(["authenticated", "service_role", "pg_monitor", "supabase_x", "Upper", "postgres"])(
    "create_writer_role refuses %s",
    async (name) => {
      const o = await run(client(), serviceRole, `select federation.create_writer_role($1)`, [name]);
      expect("error" in o && o.error).toBe("22023");
    },
  );
});

describe("functions in public", () => {
  const asPostgres = (sql: string) => client().query(`set role postgres; ${sql}; reset role;`);

  it("no function in public is executable by a writer role unless granted to it (PUBLIC holds no EXECUTE)", async () => {
    const { rows } = await client().query<{ f: string }>(
      `select p.oid::regprocedure::text as f from pg_proc p
        where p.pronamespace = 'public'::regnamespace and has_function_privilege('federated_writer', p.oid, 'EXECUTE')
          and p.proname not like '%probe%' -- made by this file's own tests
        order by 1`,
    );
    expect(rows.map((r) => r.f)).toEqual(["federation_whoami()"]); // the example's explicit grant
  });

  it("a SECURITY DEFINER function created in public after every migration: 42501 for a writer, allowed for a user, then as granted", async () => {
    await asPostgres(
      `create function public.probe_definer() returns int language plpgsql security definer set search_path = ''
         as $$ begin if auth.uid() is null then raise exception 'login required'; end if; return 1; end $$`,
    );
    try {
      // …001000 revoked PUBLIC's EXECUTE on the functions that existed; the global default privileges of
      // …20261204000100 keep it off this one, created later, with no revoke of its own.
      const denied = await run(client(), writer("orders-service", []), "select public.probe_definer() as v");
      expect("error" in denied && denied.error).toBe("42501");
      // Supabase's per-schema default privileges still give it to the API roles.
      expect(await run(client(), authUser(randomUUID()), "select public.probe_definer() as v")).toEqual({ rows: [{ v: 1 }] });
      const anonymous = await run(client(), anon, "select public.probe_definer() as v");
      expect("error" in anonymous && anonymous.error).toBe("P0001"); // reached it: its own check refused
      await asPostgres("grant execute on function public.probe_definer() to federated_writer");
      expect(await run(client(), writer("orders-service", []), "select public.probe_definer() as v")).toEqual({ rows: [{ v: 1 }] });
    } finally {
      await asPostgres("drop function public.probe_definer()");
    }
  });

  it("an upgrade: a function postgres created in public between …001000 and …20261204000100 loses PUBLIC's EXECUTE too", async () => {
    // An adoption made before …20261204000100: a function added since then got PUBLIC's EXECUTE (Postgres's
    // built-in default); the upgrade applies the new migration once, after it.
    await asPostgres(
      `create function public.probe_between() returns int language sql set search_path = '' as 'select 1';
       grant execute on function public.probe_between() to public;
       create procedure public.probe_between_proc() language sql as 'select 1';
       grant execute on procedure public.probe_between_proc() to public`,
    );
    try {
      const sql = readFileSync(join(repoRoot(), "supabase/migrations/20261204000100_writer_function_default_privileges.sql"), "utf8");
      await asPostgres(sql);
      const denied = await run(client(), writer("orders-service", []), "select public.probe_between() as v");
      expect("error" in denied && denied.error).toBe("42501");
      expect(await run(client(), authUser(randomUUID()), "select public.probe_between() as v")).toEqual({ rows: [{ v: 1 }] });
      // Procedures too (GRANT's ALL FUNCTIONS leaves them out; ALL ROUTINES does not).
      const { rows } = await client().query(
        "select has_function_privilege('federated_writer', 'public.probe_between_proc()', 'EXECUTE') as v",
      );
      expect(rows[0]!.v).toBe(false);
    } finally {
      await asPostgres("drop function public.probe_between(); drop procedure public.probe_between_proc()");
    }
  });

  it("a function created later in another schema: callable by its owner only, until granted (the documented side effect)", async () => {
    await asPostgres("create schema probe_private; create function probe_private.f() returns int language sql as 'select 1'");
    try {
      const { rows } = await client().query<Record<string, boolean>>(
        `select has_function_privilege('federated_writer', 'probe_private.f()', 'EXECUTE') as writer,
                has_function_privilege('authenticated', 'probe_private.f()', 'EXECUTE') as authenticated,
                has_function_privilege('postgres', 'probe_private.f()', 'EXECUTE') as owner`,
      );
      expect(rows[0]).toEqual({ writer: false, authenticated: false, owner: true });
    } finally {
      await asPostgres("drop schema probe_private cascade");
    }
  });

  it("an extension postgres creates later runs its script as the bootstrap superuser: its functions keep PUBLIC's EXECUTE", async () => {
    await asPostgres("create schema probe_ext; create extension citext schema probe_ext");
    try {
      const { rows } = await client().query(
        `select string_agg(distinct pg_get_userbyid(p.proowner), ',') as owner, bool_and(has_function_privilege('federated_writer', p.oid, 'EXECUTE')) as writer
           from pg_proc p join pg_depend d on d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
          where d.refobjid = (select oid from pg_extension where extname = 'citext')`,
      );
      expect(rows[0]).toEqual({ owner: "supabase_admin", writer: true });
    } finally {
      await asPostgres("drop schema probe_ext cascade");
    }
  });

  it("on hosted Supabase postgres cannot change supabase_admin's default privileges: its new functions keep PUBLIC's EXECUTE", async () => {
    // client() is the cluster's superuser, supabase_admin, as the platform (extensions, dashboard internals) runs.
    await client().query("create function public.probe_admin_fn() returns int language sql set search_path = '' as 'select 1'");
    try {
      const { rows } = await client().query("select has_function_privilege('federated_writer', 'public.probe_admin_fn()', 'EXECUTE') as v");
      expect(rows[0]!.v).toBe(true);
      // … and the advisor lint says so.
      const lints = await runAdvisorLints(client());
      expect(lints.filter((l) => l.cache_key.includes("probe_admin_fn")).map((l) => `${l.level} ${l.name}`)).toEqual([
        "WARN function_executable_by_public",
      ]);
    } finally {
      await client().query("drop function public.probe_admin_fn()");
    }
  });
});

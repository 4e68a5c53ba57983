// What every Supabase database has and this project must live with: the auth tables user migrations
// reference (our own src/sql/auth-schema.sql, the shape Supabase documents), and the checks of the
// dashboard's Advisors (our own re-implementation, src/sql/advisor-lints.sql) finding nothing to warn
// about in this project's migrations — while still flagging what they should.
import { describe, expect, it } from "vitest";
import { applyAuthSchema } from "../src/auth-schema.ts";
import { ADVISOR_LINTS, runAdvisorLints } from "../src/advisor-lints.ts";
import { useSupabaseDb } from "../src/testing.ts";

const { db, client } = useSupabaseDb();

/** Runs `body` on the test database's client inside a transaction that is rolled back whatever happens. */
async function rolledBack(body: (c: ReturnType<typeof client>) => Promise<void>): Promise<void> {
  const c = client();
  await c.query("begin");
  try {
    await body(c);
  } finally {
    await c.query("rollback");
  }
}

const AUTH_TABLES = [
  "audit_log_entries",
  "identities",
  "instances",
  "mfa_amr_claims",
  "mfa_challenges",
  "mfa_factors",
  "one_time_tokens",
  "refresh_tokens",
  "schema_migrations",
  "sessions",
  "users",
];

/** Columns, constraints, indexes and types of the auth schema, to compare before and after a re-run. */
async function authFingerprint(): Promise<string[]> {
  const { rows } = await client().query<{ item: string }>(`
    select format('column %s.%s %s %s', table_name, column_name, udt_name, is_nullable) as item
      from information_schema.columns where table_schema = 'auth'
    union all select format('constraint %s %s', conrelid::regclass, pg_get_constraintdef(oid))
      from pg_constraint where connamespace = 'auth'::regnamespace
    union all select format('index %s', indexdef) from pg_indexes where schemaname = 'auth'
    union all select format('type %s', typname) from pg_type where typnamespace = 'auth'::regnamespace and typtype = 'e'
    order by 1`);
  return rows.map((r) => r.item);
}

describe("the auth schema (ours, in the shape Supabase documents)", () => {
  it("has Supabase's auth tables, owned by supabase_auth_admin, with row level security on", async () => {
    const { rows } = await client().query<{ tablename: string; tableowner: string; rowsecurity: boolean }>(
      "select tablename, tableowner, rowsecurity from pg_tables where schemaname = 'auth' order by tablename",
    );
    expect(rows.map((t) => t.tablename)).toEqual(AUTH_TABLES);
    for (const t of rows) {
      expect(t.tableowner, t.tablename).toBe("supabase_auth_admin");
      expect(t.rowsecurity, t.tablename).toBe(true);
    }
  });

  it("gives auth.users the column names and types migrations and triggers use", async () => {
    const { rows } = await client().query<{ column_name: string; udt_name: string }>(
      "select column_name, udt_name from information_schema.columns where table_schema = 'auth' and table_name = 'users'",
    );
    const columns = Object.fromEntries(rows.map((r) => [r.column_name, r.udt_name]));
    expect(columns).toMatchObject({
      id: "uuid",
      aud: "varchar",
      role: "varchar",
      email: "varchar",
      encrypted_password: "varchar",
      email_confirmed_at: "timestamptz",
      invited_at: "timestamptz",
      confirmation_token: "varchar",
      recovery_token: "varchar",
      email_change: "varchar",
      email_change_token_new: "varchar",
      email_change_token_current: "varchar",
      last_sign_in_at: "timestamptz",
      raw_app_meta_data: "jsonb",
      raw_user_meta_data: "jsonb",
      is_super_admin: "bool",
      created_at: "timestamptz",
      updated_at: "timestamptz",
      phone: "text",
      phone_confirmed_at: "timestamptz",
      confirmed_at: "timestamptz",
      banned_until: "timestamptz",
      deleted_at: "timestamptz",
      is_anonymous: "bool",
      is_sso_user: "bool",
    });
    const pk = await client().query<{ def: string }>(
      "select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'auth.users'::regclass and contype = 'p'",
    );
    expect(pk.rows.map((r) => r.def)).toEqual(["PRIMARY KEY (id)"]);
  });

  it("applying it again changes nothing", async () => {
    const before = await authFingerprint();
    expect(before.length).toBeGreaterThan(100);
    await applyAuthSchema(db().url);
    expect(await authFingerprint()).toEqual(before);
  });

  it("takes a user migration that references auth.users, as a hosted project does", async () => {
    await rolledBack(async (c) => {
      await c.query(`create table public.profiles (
        id uuid primary key references auth.users (id) on delete cascade,
        username text
      )`);
      await c.query(
        "insert into auth.users (id, email, aud, role) values ('6f1e6a52-8b7b-4c43-9a57-6f44a3c0c0de', 'a@example.com', 'authenticated', 'authenticated')",
      );
      await c.query("insert into public.profiles values ('6f1e6a52-8b7b-4c43-9a57-6f44a3c0c0de', 'a')");
      await c.query("delete from auth.users");
      expect((await c.query("select count(*)::int as n from public.profiles")).rows[0].n).toBe(0);
    });
  });

  it("runs a user's trigger on insert into auth.users (the usual new-user profile)", async () => {
    await rolledBack(async (c) => {
      await c.query(`create table public.profiles (
        id uuid primary key references auth.users (id) on delete cascade,
        full_name text
      )`);
      await c.query(`create function public.handle_new_user() returns trigger
        language plpgsql security definer set search_path = ''
        as $$ begin
          insert into public.profiles (id, full_name) values (new.id, new.raw_user_meta_data ->> 'full_name');
          return new;
        end $$`);
      await c.query(
        "create trigger on_auth_user_created after insert on auth.users for each row execute procedure public.handle_new_user()",
      );
      await c.query(`insert into auth.users (id, email, raw_user_meta_data, email_confirmed_at) values
        ('7a0c5b1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b', 'b@example.com', '{"full_name":"B"}', now())`);
      expect((await c.query("select id, full_name from public.profiles")).rows).toEqual([
        { id: "7a0c5b1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b", full_name: "B" },
      ]);
      expect((await c.query("select confirmed_at is not null as confirmed from auth.users")).rows).toEqual([{ confirmed: true }]);
      // One account per email address.
      await expect(c.query("insert into auth.users (id, email) values (gen_random_uuid(), 'b@example.com')")).rejects.toMatchObject({
        code: "23505",
      });
    });
  });

  it("is out of the API roles' reach", async () => {
    for (const role of ["anon", "authenticated"]) {
      await rolledBack(async (c) => {
        await c.query(`set local role ${role}`);
        await expect(c.query("select * from auth.users"), role).rejects.toMatchObject({ code: "42501" });
      });
    }
  });

  it("keeps auth.uid() and auth.jwt() reading the PostgREST claims", async () => {
    await rolledBack(async (c) => {
      await c.query(
        `select set_config('request.jwt.claims', '{"sub":"6f1e6a52-8b7b-4c43-9a57-6f44a3c0c0de","role":"authenticated"}', true)`,
      );
      const { rows } = await c.query("select auth.uid()::text as uid, auth.jwt() ->> 'role' as role");
      expect(rows[0]).toEqual({ uid: "6f1e6a52-8b7b-4c43-9a57-6f44a3c0c0de", role: "authenticated" });
    });
  });
});

/**
 * Every INFO our advisor lints may report on the migrated database, and why it stays. Anything else — and
 * any ERROR or WARN — fails. (Empty today: the registry tables carry service_role policies and every
 * foreign key has its index.)
 */
const EXPLAINED_INFO = new Map<string, string>();

describe("advisor lints (our re-implementation of Supabase's Advisor checks) on the migrated database", () => {
  it("finds no ERROR, no WARN, and only explained INFO", async () => {
    const lints = await runAdvisorLints(client());
    const unexplained = lints.filter((l) => l.level !== "INFO" || !EXPLAINED_INFO.has(l.name));
    expect(unexplained.map((l) => `${l.level} ${l.name}: ${l.detail}`)).toEqual([]);
  });

  it("flags each thing it checks for, and not its fixed counterpart (negative controls)", async () => {
    await rolledBack(async (c) => {
      await c.query(`
        create table public.lint_probe_open (id int primary key);
        create table public.lint_probe_closed (id int primary key);
        alter table public.lint_probe_closed enable row level security;
        create table public.lint_probe_unapplied (id int primary key);
        create policy lint_probe_unapplied_read on public.lint_probe_unapplied for select using (true);
        create table public.lint_probe_secrets (id int primary key, "API_Key" text);
        create view public.lint_probe_view as select id from public.lint_probe_closed;
        create view public.lint_probe_users as select id, email from auth.users;
        grant select on public.lint_probe_users to anon;
        create function public.lint_probe_fn() returns int language sql as 'select 1';
        -- postgres's new functions get no EXECUTE for PUBLIC since …20261204000100: give it back, as a
        -- function made by another role (supabase_admin on hosted Supabase) or an explicit grant would have it.
        grant execute on function public.lint_probe_fn() to public;
        create extension citext schema public;
        create table public.lint_probe_child (id int primary key, closed_id int references public.lint_probe_closed (id));
        alter table public.lint_probe_child enable row level security;
        create policy lint_probe_child_own on public.lint_probe_child for select to authenticated using (auth.uid() is not null);

        -- The same things done right: none of these may be flagged.
        create table public.lint_probe_ok (id int primary key, closed_id int references public.lint_probe_closed (id), password text);
        create index on public.lint_probe_ok (closed_id);
        alter table public.lint_probe_ok enable row level security;
        create policy lint_probe_ok_own on public.lint_probe_ok for select to authenticated using ((select auth.uid()) is not null);
        create view public.lint_probe_ok_users with (security_invoker = true) as select id, email from auth.users;
        grant select on public.lint_probe_ok_users to anon;
        create function public.lint_probe_ok_fn() returns int language sql set search_path = '' as 'select 1';
        revoke execute on function public.lint_probe_ok_fn() from public;
      `);
      const lints = await runAdvisorLints(c);
      const probes = lints.filter((l) => /lint_probe|citext/.test(l.cache_key)).map((l) => `${l.level} ${l.cache_key}`);
      expect(probes.sort()).toEqual(
        [
          "ERROR rls_disabled_in_public_public_lint_probe_open",
          "ERROR rls_disabled_in_public_public_lint_probe_unapplied",
          "ERROR rls_disabled_in_public_public_lint_probe_secrets",
          "ERROR policy_exists_rls_disabled_public_lint_probe_unapplied",
          "ERROR sensitive_columns_exposed_public_lint_probe_secrets",
          "ERROR security_definer_view_public_lint_probe_view",
          "ERROR security_definer_view_public_lint_probe_users",
          "ERROR auth_users_exposed_public_lint_probe_users",
          "WARN function_search_path_mutable_public_lint_probe_fn",
          "WARN function_executable_by_public_public_lint_probe_fn",
          "WARN extension_in_public_citext",
          "WARN auth_rls_initplan_public_lint_probe_child_lint_probe_child_own",
          "INFO rls_enabled_no_policy_public_lint_probe_closed",
          "INFO unindexed_foreign_keys_public_lint_probe_child_lint_probe_child_closed_id_fkey",
        ].sort(),
      );
      // Every lint this module implements has a probe above.
      expect(new Set(lints.filter((l) => /lint_probe|citext/.test(l.cache_key)).map((l) => l.name))).toEqual(new Set(ADVISOR_LINTS));
    });
  });

  it("reads only the schemas it is told the API exposes", async () => {
    await rolledBack(async (c) => {
      await c.query("create schema lint_probe_private; create table lint_probe_private.open (id int primary key)");
      const flagged = async (schemas: string[]) =>
        (await runAdvisorLints(c, schemas)).filter((l) => l.name === "rls_disabled_in_public" && l.cache_key.includes("lint_probe_private"))
          .length;
      expect(await flagged(["public"])).toBe(0);
      expect(await flagged(["public", "lint_probe_private"])).toBe(1);
    });
  });
});

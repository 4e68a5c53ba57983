// Impersonated role settings: the stand-in applies a role's ALTER ROLE … SET settings in the request's
// transaction as PostgREST does, so a writer role's statement timeout cancels its slow query (57014). As
// PostgREST, it loads them at start and on NOTIFY pgrst, 'reload config', not per request.
import { SignJWT } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LOCAL_JWT_SECRET } from "@fedjwt/local-db";
import { useSupabaseDb } from "@fedjwt/local-db/testing";
import { LISTENER_APPLICATION_NAME } from "../src/role-settings.ts";
import { startPostgrestStandIn, type RunningStandIn } from "../src/server.ts";

const { db } = useSupabaseDb();
let rest: RunningStandIn;
const secret = new TextEncoder().encode(LOCAL_JWT_SECRET);

beforeAll(async () => {
  const c = new pg.Client({ connectionString: db().url });
  await c.connect();
  await c.query(`
    select federation.create_writer_role('patient_writer'), federation.create_writer_role('hasty_writer');
    alter role hasty_writer set statement_timeout = '100ms';
    create function public.nap(seconds float8) returns text language sql volatile as $$
      select pg_sleep(seconds)::text || current_setting('statement_timeout')
    $$;
    create function public.timeout_setting() returns text language sql stable as $$ select current_setting('statement_timeout') $$;
    revoke execute on function public.nap(float8), public.timeout_setting() from public;
    grant execute on function public.nap(float8), public.timeout_setting() to federated_writer;
  `);
  await c.end();
  rest = await startPostgrestStandIn({
    dbUrl: db().url.replace("postgres:postgres@", "authenticator:postgres@"),
    jwtSecret: LOCAL_JWT_SECRET,
  });
});
afterAll(async () => {
  await rest?.close();
});

async function rpc(role: string, fn: string, args: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
  const bearer = await new SignJWT({ role, sub: "s", exp: Math.floor(Date.now() / 1000) + 60 })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(secret);
  const res = await fetch(`${rest.url}/rpc/${fn}`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: JSON.stringify(args),
  });
  return { status: res.status, body: await res.json() };
}

describe("impersonated role settings", () => {
  it("writer roles get the default statement timeout; a per-role override wins", async () => {
    expect(await rpc("federated_writer", "timeout_setting", {})).toEqual({ status: 200, body: "8s" });
    expect(await rpc("patient_writer", "timeout_setting", {})).toEqual({ status: 200, body: "8s" });
    expect(await rpc("hasty_writer", "timeout_setting", {})).toEqual({ status: 200, body: "100ms" });
  });

  it("a writer's slow query is cancelled with 57014; another writer's same query completes", async () => {
    const hasty = await rpc("hasty_writer", "nap", { seconds: 1 });
    expect(hasty.status).toBe(500);
    expect(hasty.body).toMatchObject({ code: "57014" });
    expect(await rpc("patient_writer", "nap", { seconds: 0.3 })).toEqual({ status: 200, body: "8s" });
  });

  it("settings only a superuser may change are not applied", async () => {
    await admin("alter role patient_writer set log_min_duration_statement = 0");
    try {
      await reloadConfig();
      expect(await rpc("patient_writer", "timeout_setting", {})).toEqual({ status: 200, body: "8s" });
    } finally {
      await admin("alter role patient_writer reset log_min_duration_statement");
      await reloadConfig();
    }
  });
});

describe("loaded with the configuration, as PostgREST", () => {
  it("a setting changed without NOTIFY pgrst is not applied; after 'reload config' it is", async () => {
    await admin("alter role patient_writer set statement_timeout = '5s'");
    try {
      // PostgREST would still apply the 8s it loaded: so does the stand-in (a per-request read would say 5s).
      expect(await rpc("patient_writer", "timeout_setting", {})).toEqual({ status: 200, body: "8s" });
      await reloadConfig();
      expect(await rpc("patient_writer", "timeout_setting", {})).toEqual({ status: 200, body: "5s" });
    } finally {
      await admin("alter role patient_writer set statement_timeout = '8s'");
      await reloadConfig();
    }
  });

  it("a bare NOTIFY pgrst reloads too (PostgREST: schema cache and config)", async () => {
    await admin("alter role hasty_writer set statement_timeout = '150ms'");
    try {
      expect(await rpc("hasty_writer", "timeout_setting", {})).toEqual({ status: 200, body: "100ms" });
      await reloadConfig("notify pgrst");
      expect(await rpc("hasty_writer", "timeout_setting", {})).toEqual({ status: 200, body: "150ms" });
    } finally {
      await admin("alter role hasty_writer set statement_timeout = '100ms'");
      await reloadConfig();
    }
  });

  it("a writer role made after start gets its timeout: create_writer_role sends the notification", async () => {
    const before = rest.roleSettingsLoads;
    await admin("select federation.create_writer_role('late_writer')");
    await vi.waitFor(() => expect(rest.roleSettingsLoads).toBeGreaterThan(before), { timeout: 5_000, interval: 20 });
    expect(await rpc("late_writer", "timeout_setting", {})).toEqual({ status: 200, body: "8s" });
  });

  it("reconnects its listener when the connection is cut, and reloads", async () => {
    const before = rest.roleSettingsLoads;
    await admin(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = '${LISTENER_APPLICATION_NAME}'`);
    await vi.waitFor(() => expect(rest.roleSettingsLoads).toBeGreaterThan(before), { timeout: 10_000, interval: 50 });
    await admin("alter role patient_writer set statement_timeout = '6s'");
    try {
      await reloadConfig();
      expect(await rpc("patient_writer", "timeout_setting", {})).toEqual({ status: 200, body: "6s" });
    } finally {
      await admin("alter role patient_writer set statement_timeout = '8s'");
      await reloadConfig();
    }
  });
});

/** Runs SQL as the database owner. */
async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: db().url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Sends PostgREST's reload notification and waits until the stand-in has loaded the settings again. */
async function reloadConfig(sql = "notify pgrst, 'reload config'"): Promise<void> {
  const before = rest.roleSettingsLoads;
  await admin(sql);
  await vi.waitFor(() => expect(rest.roleSettingsLoads).toBeGreaterThan(before), { timeout: 5_000, interval: 20 });
}

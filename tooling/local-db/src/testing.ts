// Test helpers for suites that need a migrated database (vitest hooks): import from "@fedjwt/local-db/testing".
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { asPostgrest, type RequestContext } from "./sql-as.ts";
import { startSupabaseDb, type SupabaseDb } from "./supabase-db.ts";

/**
 * Starts a fresh migrated database for the calling test file; stops it afterwards. `hostedLayout` makes it
 * as hosted Supabase is (superuser supabase_admin; migrations pushed as a non-superuser postgres);
 * `client()` is the superuser either way.
 */
export function useSupabaseDb(options: { hostedLayout?: boolean } = {}): { db: () => SupabaseDb; client: () => pg.Client } {
  let db: SupabaseDb | undefined;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    db = await startSupabaseDb(options.hostedLayout ? { superuser: "supabase_admin" } : {});
    console.log(
      `database ready in ${db.timings.total} ms (postgres ${db.timings.postgres}, bootstrap ${db.timings.bootstrap}, migrations ${db.timings.migrations})`,
    );
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });
  return { db: () => db!, client: () => client! };
}

/** The outcome of running SQL as a principal: rows, or the Postgres error code. */
export type Outcome = { rows: Record<string, unknown>[] } | { error: string; message: string };

/** Runs one statement as PostgREST would for `ctx`, rolled back (tx=rollback) unless `commit`. */
export async function run(
  client: pg.ClientBase,
  ctx: RequestContext,
  sql: string,
  params: unknown[] = [],
  commit = false,
): Promise<Outcome> {
  try {
    const rows = await asPostgrest(client, { ...ctx, tx: commit ? "commit" : "rollback" }, async (c) => (await c.query(sql, params)).rows);
    return { rows };
  } catch (e) {
    const err = e as { code?: string; message: string };
    if (!err.code) throw e;
    return { error: err.code, message: err.message };
  }
}

/**
 * A writer as the gateway presents it to PostgREST: its writer role (default `federated_writer`), the
 * gateway-only `fedjwt_gateway` claim, a UUID `sub` and the writer's own subject in `writer_sub`.
 */
export function writer(
  iss: string,
  appRoles: string[],
  sub: string = randomUUID(),
  dbRole = "federated_writer",
  writerClaims?: Record<string, unknown>,
): RequestContext {
  return {
    role: dbRole,
    claims: {
      iss,
      sub,
      writer_sub: `svc-${iss}`,
      role: dbRole,
      aud: "authenticated",
      app_roles: appRoles,
      fedjwt_gateway: 1,
      ...(writerClaims ? { writer_claims: writerClaims } : {}),
    },
  };
}

/** A Supabase Auth user as GoTrue's tokens present it (role authenticated, iss the Auth URL). */
export function authUser(sub: string, extra: Record<string, unknown> = {}): RequestContext {
  return {
    role: "authenticated",
    claims: {
      iss: "http://127.0.0.1:54321/auth/v1",
      sub,
      aud: "authenticated",
      role: "authenticated",
      aal: "aal1",
      session_id: randomUUID(),
      is_anonymous: false,
      ...extra,
    },
  };
}

export const anon: RequestContext = { role: "anon", claims: { role: "anon" } };
export const serviceRole: RequestContext = { role: "service_role", claims: { role: "service_role" } };

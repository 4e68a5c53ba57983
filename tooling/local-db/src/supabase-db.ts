import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { applyAuthSchema } from "./auth-schema.ts";
import { repoRoot, sqlDir } from "./paths.ts";
import { startPostgres, type RunningPostgres } from "./postgres.ts";
import { pushMigrations } from "./supabase-cli.ts";

/** A running, migrated Supabase-compatible database. */
export interface SupabaseDb extends RunningPostgres {
  /** Milliseconds spent in each phase of start-up. */
  timings: { postgres: number; bootstrap: number; migrations: number; total: number };
}

export interface StartSupabaseDbOptions {
  /** Cluster folder; a fresh temporary one (a /tmp/fedjwt-db-* folder, removed whole on stop) when omitted. */
  dataDir?: string;
  port?: number;
  persistent?: boolean;
  /** Repository whose supabase/ folder is applied (default: this repository). */
  workdir?: string;
  /** Apply seed.sql too (default true). */
  seed?: boolean;
  /**
   * The cluster's superuser (default `postgres`). With `supabase_admin`, the database is laid out as on
   * hosted Supabase: `postgres` is not a superuser, and the migrations are pushed as that `postgres`.
   * `url` stays the superuser's. Only for a new data folder.
   */
  superuser?: string;
  onLog?: (line: string) => void;
}

/**
 * Runs the Supabase bootstrap SQL (roles, schemas, auth helpers, default privileges), then this project's
 * auth schema (auth.users, identities, sessions, …; src/sql/auth-schema.sql). Idempotent.
 */
export async function bootstrapSupabase(url: string): Promise<void> {
  const sql = await readFile(join(sqlDir, "supabase-bootstrap.sql"), "utf8");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
  await applyAuthSchema(url);
}

/**
 * Starts embedded PostgreSQL 17, bootstraps it like a Supabase database, then applies
 * supabase/migrations and seed.sql with the real Supabase CLI. When the cluster already existed
 * (persistent data folder), only pending migrations are applied and the seed is not re-run.
 */
export async function startSupabaseDb(options: StartSupabaseDbOptions = {}): Promise<SupabaseDb> {
  const t0 = performance.now();
  const tempRoot = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), "fedjwt-db-"));
  const dataDir = options.dataDir ?? join(tempRoot!, "pg");
  const started = await startPostgres({
    dataDir,
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.persistent !== undefined ? { persistent: options.persistent } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
    ...(options.superuser ? { superuser: options.superuser } : {}),
  }).catch(async (e: unknown) => {
    if (tempRoot) await rm(tempRoot, { recursive: true, force: true });
    throw e;
  });
  // A temporary cluster goes with its folder: the fedjwt-db-* parent too, not only the cluster inside it.
  const db: RunningPostgres = tempRoot
    ? {
        ...started,
        async stop() {
          await started.stop();
          await rm(tempRoot, { recursive: true, force: true });
        },
      }
    : started;
  try {
    const t1 = performance.now();
    const fresh = !(await isBootstrapped(db.url));
    await bootstrapSupabase(db.url);
    const t2 = performance.now();
    const migrator = options.superuser && options.superuser !== "postgres" ? db.url.replace(`${options.superuser}:`, "postgres:") : db.url;
    await pushMigrations(migrator, options.workdir ?? repoRoot(), fresh && (options.seed ?? true));
    const t3 = performance.now();
    return {
      ...db,
      timings: {
        postgres: Math.round(t1 - t0),
        bootstrap: Math.round(t2 - t1),
        migrations: Math.round(t3 - t2),
        total: Math.round(t3 - t0),
      },
    };
  } catch (e) {
    await db.stop().catch(() => undefined);
    throw e;
  }
}

async function isBootstrapped(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query("select to_regclass('supabase_migrations.schema_migrations') is not null as done");
    return r.rows[0]?.done === true;
  } finally {
    await client.end();
  }
}

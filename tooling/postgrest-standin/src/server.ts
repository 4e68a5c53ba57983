// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY.
//
// PostgREST has no npm or Debian package, so the Docker-free stack runs this small, clearly labelled
// subset of its behaviour, written from PostgREST's documentation: HS256 JWT verification with the JWT
// secret; the `role` claim → SET LOCAL ROLE as the `authenticator` login (so Postgres itself refuses
// roles the authenticator may not become; no token → anon); request.jwt.claims / request.method /
// request.path / request.headers as transaction-local settings; one transaction per request; PostgREST's
// error bodies and status codes; and the requests supabase-js / postgrest-js make for select with
// filters, order, limit/offset/Range, resource embedding, insert, upsert (on_conflict), update, delete,
// the Prefer values it lists, and rpc. The stages live in request.ts, plan.ts, sql.ts, execute.ts and
// response.ts. With Docker, `supabase start` runs the real PostgREST and this is not used.
import { createServer, type Server } from "node:http";
import type { JSONWebKeySet } from "jose";
import pg from "pg";
import { standInHandler } from "./handler.ts";
import { RoleSettings } from "./role-settings.ts";

export interface StandInOptions {
  /** Connection URL of the `authenticator` login role. */
  dbUrl: string;
  /** The JWT secret tokens are verified with (HS256). */
  jwtSecret: string;
  /**
   * Public signing keys trusted besides the secret (ES256/RS256), as PostgREST trusts a JWKS: a project's
   * asymmetric JWT signing keys (`supabase gen signing-key`, `[auth] signing_keys_path`).
   */
  jwks?: JSONWebKeySet;
  /** Exposed schemas; the first is the default (default ["public", "graphql_public"]). */
  schemas?: string[];
  anonRole?: string;
  /** Schemas after the request's own on the search_path (default ["public", "extensions"], as Supabase). */
  extraSearchPath?: string[];
  port?: number;
  host?: string;
  /** Largest request body (default 10 MiB). */
  maxBodyBytes?: number;
  /** At most this many rows per read, as PostgREST's db-max-rows (default 1000, Supabase's max_rows); null: none. */
  maxRows?: number | null;
}

export interface RunningStandIn {
  url: string;
  port: number;
  /** How many times role settings were loaded: 1 after start, one more per reload notification heard. */
  readonly roleSettingsLoads: number;
  close(): Promise<void>;
}

export { standInHandler };

/** Starts the stand-in on 127.0.0.1. */
export async function startPostgrestStandIn(options: StandInOptions): Promise<RunningStandIn> {
  const pool = new pg.Pool({ connectionString: options.dbUrl, max: 10, idleTimeoutMillis: 10_000 });
  pool.on("error", () => undefined); // a dropped idle connection must not crash the stack; requests report 503
  // Role settings are loaded now and on NOTIFY pgrst, 'reload config', as PostgREST loads its configuration.
  const roleSettings = new RoleSettings(options.dbUrl);
  try {
    await roleSettings.start();
  } catch (e) {
    await roleSettings.close();
    await pool.end();
    throw new Error(`PostgREST stand-in: cannot load role settings from the database: ${(e as Error).message}`);
  }
  const server: Server = createServer(standInHandler({ ...options, pool, roleSettings }));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  }).catch(async (e) => {
    await roleSettings.close();
    await pool.end();
    throw e;
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get roleSettingsLoads() {
      return roleSettings.loads;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await roleSettings.close();
      await pool.end();
    },
  };
}

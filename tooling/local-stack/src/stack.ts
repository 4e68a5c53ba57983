import { statSync } from "node:fs";
import { access, constants, mkdir, rm } from "node:fs/promises";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join, sep } from "node:path";
import { readEnvFile, readFunctions, readFunctionsEnv } from "./config.ts";
import { serveBrokenFunctions, loadError, type BrokenFunction } from "./broken.ts";
import { serveFunction, type RunningFunction } from "./functions.ts";
import { startGateway } from "./gateway.ts";
import { LOCAL_ANON_KEY, LOCAL_JWT_SECRET, LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, LOCAL_SERVICE_ROLE_KEY } from "@fedjwt/local-db";
import { repoRoot } from "@fedjwt/local-db";
import { assertPortFree, freePort } from "@fedjwt/local-db";
import { startPostgrestStandIn } from "@fedjwt/postgrest-standin";
import { startSupabaseDb, type SupabaseDb } from "@fedjwt/local-db";

/** What `status` prints, named like `supabase status -o env`. */
export interface StackInfo {
  API_URL: string;
  REST_URL: string;
  FUNCTIONS_URL: string;
  DB_URL: string;
  ANON_KEY: string;
  SERVICE_ROLE_KEY: string;
  PUBLISHABLE_KEY: string;
  SECRET_KEY: string;
  JWT_SECRET: string;
  /** The audience writers must put in `aud`: the `rest` function's FEDJWT_AUDIENCE (API_URL unless an env file sets it). */
  FEDJWT_AUDIENCE: string;
}

export interface RunningStack {
  info: StackInfo;
  db: SupabaseDb;
  functions: RunningFunction[];
  /** The functions that failed to load: each answers 500 with its load error while the others are served. */
  broken: BrokenFunction[];
  /** Stops / restarts the PostgREST stand-in, on the same port (fault tests). */
  stopRest(): Promise<void>;
  startRest(): Promise<void>;
  /** Stops / restarts PostgreSQL on the same port; needs a persistent `dataDir` (fault tests). */
  stopDb(): Promise<void>;
  startDb(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartStackOptions {
  /** Gateway port (default 54321; 0 = a free one). */
  apiPort?: number;
  /** Database port (default 54322; 0 = a free one). */
  dbPort?: number;
  /** Cluster folder; a temporary one (removed on stop) when omitted. */
  dataDir?: string;
  /** Start from an empty database (deletes dataDir first). */
  reset?: boolean;
  /** The project whose supabase/ folder is served: migrations, seed, functions, config.toml (default: this repository). */
  workdir?: string;
  /** Extra environment for functions, over supabase/functions/.env. */
  functionEnv?: Record<string, string>;
  /**
   * Read supabase/functions/.env (default true). A throwaway stack on its own ports passes false: a developer's
   * .env (pnpm dev writes one for port 54321) must not change its audience or secret.
   */
  useEnvFile?: boolean;
  /** An env file read instead of supabase/functions/.env (what `supabase functions serve --env-file` takes); wins over useEnvFile. */
  envFile?: string;
  log?: (line: string) => void;
}

/** PostgreSQL runs as the `postgres` OS user when we are root: it must be able to reach the data folder. */
function reachableByPostgres(dir: string): boolean {
  if (process.getuid?.() !== 0) return true;
  let d = dirname(dir);
  for (;;) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      // not created yet: its parent decides
    }
    const up = dirname(d);
    if (up === d) return true;
    d = up;
  }
}

/** Where the cluster lives: the requested folder, or (as root, when postgres cannot reach it) a stable temp folder. */
export function clusterDir(requested: string): string {
  if (reachableByPostgres(requested)) return requested;
  const hash = createHash("sha256").update(requested).digest("hex").slice(0, 12);
  return join(tmpdir(), `fedjwt-local-${hash}`, "db");
}

/**
 * Starts the Docker-free local Supabase: PostgreSQL 17 (bootstrapped, migrated by the Supabase CLI) on
 * dbPort, the PostgREST stand-in, every function in supabase/functions under real Deno, and the
 * gateway on apiPort. Stops whatever it started if any step fails.
 */
export async function startStack(options: StartStackOptions = {}): Promise<RunningStack> {
  const log = options.log ?? (() => undefined);
  const workdir = options.workdir ?? repoRoot();
  const apiPort = options.apiPort === 0 ? await freePort() : (options.apiPort ?? 54321);
  const dbPort = options.dbPort === 0 ? await freePort() : (options.dbPort ?? 54322);
  await assertPortFree(apiPort, "API gateway");
  await assertPortFree(dbPort, "database");
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };

  try {
    let dataDir = options.dataDir;
    if (dataDir) {
      dataDir = clusterDir(dataDir);
      if (options.reset) await rm(dataDir, { recursive: true, force: true });
      await mkdir(dirname(dataDir), { recursive: true });
      await access(dirname(dataDir), constants.W_OK);
    }
    log(`database: starting PostgreSQL 17 on ${dbPort}${dataDir ? ` (data in ${dataDir.split(sep).slice(-3).join(sep)})` : ""}`);
    let db = await startSupabaseDb({ port: dbPort, workdir, ...(dataDir ? { dataDir, persistent: true } : {}) });
    cleanups.push(() => db.stop());
    log(`database: ready in ${db.timings.total} ms (migrations by the Supabase CLI: ${db.timings.migrations} ms)`);

    const authenticatorUrl = db.url.replace("postgres:postgres@", "authenticator:postgres@");
    let rest = await startPostgrestStandIn({ dbUrl: authenticatorUrl, jwtSecret: LOCAL_JWT_SECRET });
    const restPort = rest.port;
    cleanups.push(() => rest.close());
    log(`rest: PostgREST stand-in (local subset, not PostgREST) on ${rest.url}`);

    const functionEnv: Record<string, string> = {
      SUPABASE_URL: apiUrl,
      SUPABASE_DB_URL: db.url,
      SUPABASE_ANON_KEY: LOCAL_ANON_KEY,
      SUPABASE_SERVICE_ROLE_KEY: LOCAL_SERVICE_ROLE_KEY,
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: LOCAL_PUBLISHABLE_KEY }),
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: LOCAL_SECRET_KEY }),
      // Local defaults for the rest gateway: the project URL as audience, the well-known local JWT secret
      // (what the stand-in verifies). supabase/functions/.env and functionEnv override them.
      FEDJWT_AUDIENCE: apiUrl,
      FEDJWT_LEGACY_JWT_SECRET: LOCAL_JWT_SECRET,
      ...(options.envFile ? readEnvFile(options.envFile) : options.useEnvFile === false ? {} : readFunctionsEnv(workdir)),
      ...options.functionEnv,
    };
    const routes = { rest: rest.url, functions: new Map<string, { url: string; verifyJwt: boolean }>() };
    const functions: RunningFunction[] = [];
    const broken: BrokenFunction[] = [];
    // `rest` first, then the others side by side; one that fails to load is reported and answered for, never fatal.
    const enabled = readFunctions(workdir)
      .filter((f) => f.enabled)
      .sort((a, b) => Number(b.name === "rest") - Number(a.name === "rest"));
    const serveOne = async (fn: (typeof enabled)[number]) => {
      try {
        const running = await serveFunction(fn, functionEnv, (name, line) => log(`functions/${name}: ${line}`));
        functions.push(running);
        cleanups.push(() => running.stop());
        routes.functions.set(fn.name, { url: running.url, verifyJwt: fn.verifyJwt });
        log(`functions: ${fn.name} under Deno on ${running.url} (verify_jwt = ${fn.verifyJwt})`);
      } catch (e) {
        const error = loadError(e);
        broken.push({ name: fn.name, error });
        log(
          `functions: ${fn.name} FAILED TO LOAD, answers 500 until it is fixed and the stack restarted:\n${error.replace(/^/gm, "    ")}`,
        );
      }
    };
    const gatewayFn = enabled.filter((f) => f.name === "rest");
    for (const fn of gatewayFn) await serveOne(fn);
    await Promise.all(enabled.filter((f) => f.name !== "rest").map(serveOne));
    functions.sort((a, b) => enabled.indexOf(a.config) - enabled.indexOf(b.config));
    if (broken.length > 0) {
      const answering = await serveBrokenFunctions(broken);
      cleanups.push(() => answering.close());
      for (const b of broken)
        routes.functions.set(b.name, { url: answering.url, verifyJwt: enabled.find((f) => f.name === b.name)!.verifyJwt });
    }

    const gateway = await startGateway({ port: apiPort, jwtSecret: LOCAL_JWT_SECRET, routes });
    cleanups.push(() => gateway.close());
    log(`gateway: ${apiUrl}`);

    return {
      info: {
        API_URL: apiUrl,
        REST_URL: `${apiUrl}/rest/v1`,
        FUNCTIONS_URL: `${apiUrl}/functions/v1`,
        DB_URL: db.url,
        ANON_KEY: LOCAL_ANON_KEY,
        SERVICE_ROLE_KEY: LOCAL_SERVICE_ROLE_KEY,
        PUBLISHABLE_KEY: LOCAL_PUBLISHABLE_KEY,
        SECRET_KEY: LOCAL_SECRET_KEY,
        JWT_SECRET: LOCAL_JWT_SECRET,
        FEDJWT_AUDIENCE: functionEnv.FEDJWT_AUDIENCE ?? apiUrl,
      },
      get db() {
        return db;
      },
      functions,
      broken,
      async stopRest() {
        await rest.close();
      },
      async startRest() {
        rest = await startPostgrestStandIn({ dbUrl: authenticatorUrl, jwtSecret: LOCAL_JWT_SECRET, port: restPort });
      },
      async stopDb() {
        if (!dataDir) throw new Error("stopDb needs a stack started with a dataDir (the data must survive the restart)");
        await db.stop();
      },
      async startDb() {
        db = await startSupabaseDb({ port: dbPort, workdir, dataDir: dataDir!, persistent: true });
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Formats stack info like `supabase status -o env`. */
export function formatEnv(info: StackInfo): string {
  return Object.entries(info)
    .map(([k, v]) => `${k}="${v}"`)
    .join("\n");
}

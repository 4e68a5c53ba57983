#!/usr/bin/env node
// fedjwt-stack: the Docker-free local Supabase. start | stop | status, like `supabase start/stop/status`.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { repoRoot } from "@fedjwt/local-db";
import { createHash } from "node:crypto";
import { functionsEnvFile } from "./config.ts";
import { isAlive as alive } from "./functions.ts";
import { rotateLog } from "./log-file.ts";
import { formatFunctions, functionStates, type FunctionState } from "./function-status.ts";
import { formatEnv, startStack, type StackInfo } from "./stack.ts";

const HELP = `Usage: fedjwt-stack <command> [options]

The Docker-free local Supabase of this repository (PostgreSQL 17, a PostgREST stand-in, Edge Functions
under real Deno, and an API gateway), on the ports \`supabase start\` uses.

Commands:
  start     start the stack and print its status; Ctrl-C stops it
            --project <dir>  serve another project instead of this repository: a folder made by
                       \`supabase init\` (e.g. one \`fedjwt adopt\` copied the function into). Its
                       supabase/migrations and seed are applied by the Supabase CLI, every function in
                       its supabase/functions is served with its config.toml's verify_jwt and its
                       supabase/functions/.env; its data lives in .local/projects/ of this repository
            --detach   run in the background (stop it with: fedjwt-stack stop)
            --reset    start from an empty database (migrations and seed applied again)
            --functions-env <file>  the functions' variables from this file instead of supabase/functions/.env
                       (what \`supabase functions serve --env-file\` takes; SUPABASE_* names are skipped)
            --ephemeral  a throwaway stack (temporary data, no state file, free ports unless given;
                       not with --detach) that prints one line "READY {json}" with its URLs, keys and
                       process ids (benchmarks, scripts). It does NOT read supabase/functions/.env
                       (says so on stderr when one exists): its functions get the stack's own audience
                       and the local JWT secret; pass --functions-env to give them a file
  stop      stop a stack started with --detach
  status    print API_URL, DB_URL, ANON_KEY, SERVICE_ROLE_KEY, PUBLISHABLE_KEY, SECRET_KEY, JWT_SECRET, …
            like \`supabase status -o env\`, and FEDJWT_AUDIENCE: the audience writers must put in \`aud\`
            (the API URL, exact, no trailing slash, unless the functions' env file sets another); then one
            comment line per function: serving, or BROKEN with its load error

A function that fails to load (a missing import, a \`jsr:\`/\`npm:\` package Deno cannot fetch offline) does not
stop the stack: the others are served (\`rest\` first), the log says which failed and why, and calling it
answers 500 {"code":"BOOT_ERROR", …, "error": <Deno's load error>} until it is fixed and the stack restarted.

Options:
  --api-port <n>   gateway port, 1–65535 (default 54321; with --ephemeral a free port)
  --db-port <n>    database port, 1–65535 (default 54322; with --ephemeral a free port)
  -h, --help       show this help

Data lives in .local/ (gitignored); --detach logs to .local/stack.log (appended to across restarts, the
functions' access lines included; past 10 MB it moves to .local/stack.log.1). Exit codes: 0 ok, 1 failure, 2 bad usage.`;

interface State {
  pid: number;
  /** Each function the stack found, serving or broken (absent in a state file written before it was kept). */
  functions?: FunctionState[];
  /** The project served (--project), absent for this repository. */
  project?: string;
  info: StackInfo;
  startedAt: string;
}

const root = repoRoot();
const localDir = join(root, ".local");
const stateFile = join(localDir, "stack.json");
const logFile = join(localDir, "stack.log");
/** The running stack's state, or undefined (a stale state file is removed). */
export function readState(): State | undefined {
  if (!existsSync(stateFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as State;
    if (alive(state.pid)) return state;
  } catch {
    // unreadable: treat as stale
  }
  rmSync(stateFile, { force: true });
  return undefined;
}

/**
 * A path as the user typed it: relative to the folder they ran `pnpm stack` in (pnpm runs root scripts in the
 * repository root and passes the user's folder as INIT_CWD), else to this process's working directory.
 */
function userPath(p: string): string {
  const base = process.env.npm_lifecycle_event === "stack" && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
  return resolve(base, p);
}

/** The project folder and env file the options name (validated in main), and where a project's data lives. */
function target(values: Record<string, unknown>): { workdir: string | undefined; envFile: string | undefined; dataDir: string } {
  const workdir = typeof values.project === "string" ? userPath(values.project) : undefined;
  const envFile = typeof values["functions-env"] === "string" ? userPath(values["functions-env"]) : undefined;
  // One cluster per project, so that one project's migrations never meet another's.
  const dataDir = workdir
    ? join(localDir, "projects", `${workdir.split(/[\\/]/).pop()}-${createHash("sha256").update(workdir).digest("hex").slice(0, 8)}`, "db")
    : join(localDir, "db");
  return { workdir, envFile, dataDir };
}

/** A throwaway stack for scripts: temporary data, no state file, one READY line, stops on a signal. */
async function ephemeral(values: Record<string, unknown>): Promise<number> {
  const { workdir, envFile } = target(values);
  const ignored = functionsEnvFile(workdir ?? root);
  if (!envFile && existsSync(ignored))
    console.error(
      `fedjwt-stack: --ephemeral does not read ${ignored} (the functions get the stack's own audience and the local JWT secret; pass --functions-env to give them a file)`,
    );
  const stack = await startStack({
    apiPort: Number(values["api-port"] ?? 0),
    dbPort: Number(values["db-port"] ?? 0),
    useEnvFile: false,
    // Only a function that failed to load, and why (on stderr): not the stack's other notes nor the functions' output.
    log: (line) => {
      if (line.startsWith("functions: ") && line.includes(" FAILED TO LOAD")) console.error(line);
    },
    ...(workdir ? { workdir } : {}),
    ...(envFile ? { envFile } : {}),
  });
  const pids = { stack: process.pid, postgres: stack.db.pid, functions: stack.functions.map((f) => f.process.pid) };
  console.log(`READY ${JSON.stringify({ info: stack.info, pids, functions: functionStates(stack) })}`);
  const shutdown = async () => {
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown());
  process.on("SIGTERM", () => void shutdown());
  return new Promise(() => undefined);
}

async function start(values: Record<string, unknown>): Promise<number> {
  if (values.ephemeral) return ephemeral(values);
  const running = readState();
  if (running) {
    console.log(
      `The local stack is already running (pid ${running.pid}${running.project ? `, serving ${running.project}` : ""}; stop it first to serve another project).\n${formatEnv(running.info)}${formatFunctions(running.functions)}`,
    );
    return 0;
  }
  mkdirSync(localDir, { recursive: true });
  const apiPort = Number(values["api-port"] ?? 54321);
  const dbPort = Number(values["db-port"] ?? 54322);
  if (values.detach) {
    // The log is kept across restarts (appended to, rotated by size): the access lines of earlier runs stay readable.
    rotateLog(logFile);
    const out = openSync(logFile, "a");
    writeSync(out, `\n--- fedjwt-stack start ${new Date().toISOString()} ---\n`);
    const logFrom = statSync(logFile).size;
    const args = [fileURLToPath(import.meta.url), "start", "--api-port", String(apiPort), "--db-port", String(dbPort)];
    if (values.reset) args.push("--reset");
    if (typeof values.project === "string") args.push("--project", userPath(values.project));
    if (typeof values["functions-env"] === "string") args.push("--functions-env", userPath(values["functions-env"]));
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ["ignore", out, out],
      env: { ...process.env, FEDJWT_STACK_LOG: logFile },
    });
    child.unref();
    closeSync(out);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const state = readState();
      if (state && state.pid === child.pid) {
        console.log(
          `Started the local stack in the background (pid ${child.pid}${state.project ? `, serving ${state.project}` : ""}; log: ${logFile}).\n${formatEnv(state.info)}${formatFunctions(state.functions)}`,
        );
        return 0;
      }
      if (child.exitCode !== null || !alive(child.pid!)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    console.error(
      `fedjwt-stack: the stack did not start; see ${logFile}:\n${readFileSync(logFile).subarray(logFrom).toString("utf8").split("\n").slice(-15).join("\n")}`,
    );
    return 1;
  }

  const { workdir, envFile, dataDir } = target(values);
  if (workdir) console.log(`Serving the project in ${workdir}`);
  const stack = await startStack({
    apiPort,
    dbPort,
    dataDir,
    ...(workdir ? { workdir } : {}),
    ...(envFile ? { envFile } : {}),
    ...(values.reset ? { reset: true } : {}),
    log: (line) => console.log(`  ${line}`),
  });
  writeFileSync(
    stateFile,
    JSON.stringify(
      {
        pid: process.pid,
        ...(workdir ? { project: workdir } : {}),
        info: stack.info,
        functions: functionStates(stack),
        startedAt: new Date().toISOString(),
      } satisfies State,
      null,
      2,
    ),
  );
  console.log(
    `\nLocal stack running (Docker-free; PostgREST is a local stand-in).\n${formatEnv(stack.info)}${formatFunctions(functionStates(stack))}\n\nStop with Ctrl-C${process.stdout.isTTY ? "" : " or: fedjwt-stack stop"}.`,
  );
  // Started by --detach: the log this process writes to is rotated by size while it runs.
  const ownLog = process.env.FEDJWT_STACK_LOG;
  if (ownLog) setInterval(() => rotateLog(ownLog), 30_000).unref();
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping the local stack…");
    await stack.stop();
    rmSync(stateFile, { force: true });
    console.log("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown());
  process.on("SIGTERM", () => void shutdown());
  return new Promise(() => undefined); // runs until a signal
}

async function stop(): Promise<number> {
  const state = readState();
  if (!state) {
    console.log("The local stack is not running.");
    return 0;
  }
  process.kill(state.pid, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (alive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(state.pid)) {
    process.kill(state.pid, "SIGKILL");
    console.error(`fedjwt-stack: pid ${state.pid} did not stop in 30 s and was killed`);
  }
  rmSync(stateFile, { force: true });
  console.log("Stopped the local stack.");
  return 0;
}

function status(): number {
  const state = readState();
  if (!state) {
    console.error("fedjwt-stack: the local stack is not running (start it with: pnpm stack start --detach, or pnpm dev)");
    return 1;
  }
  console.log(`${formatEnv(state.info)}${formatFunctions(state.functions)}`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        detach: { type: "boolean" },
        reset: { type: "boolean" },
        ephemeral: { type: "boolean" },
        "api-port": { type: "string" },
        "db-port": { type: "string" },
        project: { type: "string" },
        // Not --env-file, as `supabase functions serve` names it: Node claims that argument even after the script name.
        "functions-env": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    console.error(`fedjwt-stack: ${(e as Error).message.split("\n")[0]} (see: fedjwt-stack --help)`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    console.log(HELP);
    return command || values.help ? 0 : 2;
  }
  for (const p of ["api-port", "db-port"] as const) {
    const v = values[p];
    if (v !== undefined && !(/^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535)) {
      console.error(`fedjwt-stack: --${p} must be a port number from 1 to 65535`);
      return 2;
    }
  }
  if (values.project !== undefined && !existsSync(join(userPath(values.project), "supabase", "config.toml"))) {
    console.error(
      `fedjwt-stack: --project ${values.project}: no supabase/config.toml there (give the folder \`supabase init\` made, the one holding supabase/)`,
    );
    return 2;
  }
  if (values["functions-env"] !== undefined && !existsSync(userPath(values["functions-env"]))) {
    console.error(`fedjwt-stack: --functions-env ${values["functions-env"]}: no such file`);
    return 2;
  }
  if (values.ephemeral && values.detach) {
    console.error("fedjwt-stack: --ephemeral runs in the foreground and cannot be combined with --detach");
    return 2;
  }
  try {
    if (command === "start") return await start(values);
    if (command === "stop") return await stop();
    if (command === "status") return status();
  } catch (e) {
    console.error(`fedjwt-stack: ${(e as Error).message}`);
    return 1;
  }
  console.error(`fedjwt-stack: unknown command "${command}" (start, stop, status)`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));

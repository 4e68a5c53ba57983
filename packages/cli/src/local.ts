// `--local`: the running local stack's URL and keys, the way the Supabase CLI's `--local` finds its own stack.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "./errors.ts";

/** The Supabase CLI's local defaults (`supabase start`): its API port and its well-known local keys. */
export const SUPABASE_LOCAL = {
  url: "http://127.0.0.1:54321",
  secretKey: "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz",
  publishableKey: "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH",
} as const;

/** What `--local` connects with, and where it came from (said in errors). */
export interface LocalTarget {
  url: string;
  secretKey: string;
  publishableKey: string;
  /** The audience the stack's `rest` function expects (its FEDJWT_AUDIENCE), when the state file names it. */
  audience: string | undefined;
  /** The state file read, or undefined for the Supabase CLI's defaults. */
  stateFile: string | undefined;
}

/** The `--local` flag, beside --url and the keys. */
export const LOCAL_FLAG = {
  local: {
    type: "boolean",
    default: false,
    group: "Connection",
    description:
      "the running local stack: its URL and keys from .local/stack.json (pnpm stack start / pnpm dev; $FEDJWT_STACK_STATE names another file), else supabase start's (http://127.0.0.1:54321, its local secret key)",
  },
} as const;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** `.local/stack.json` in `from` or the nearest folder above it that has one. */
function findUp(from: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const file = join(dir, ".local", "stack.json");
    if (existsSync(file)) return file;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Where this CLI file lives (the bundle or dist/), to find the checkout it belongs to when run from elsewhere. */
function ownDir(): string | undefined {
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return undefined;
  }
}

/**
 * The running local stack: the state file `pnpm stack` writes (FEDJWT_STACK_STATE, else `.local/stack.json` in the
 * working folder or above, else above this CLI's own file) when its process is alive; otherwise the Supabase CLI's
 * local defaults, which `supabase start` serves.
 */
export function localTarget(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LocalTarget {
  const own = ownDir();
  const candidates = env.FEDJWT_STACK_STATE ? [resolve(cwd, env.FEDJWT_STACK_STATE)] : [findUp(cwd), own ? findUp(own) : undefined];
  for (const file of candidates) {
    if (!file || !existsSync(file)) continue;
    let state: { pid?: number; info?: Record<string, string> };
    try {
      state = JSON.parse(readFileSync(file, "utf8")) as typeof state;
    } catch {
      continue;
    }
    const info = state.info;
    if (!info?.API_URL || !info.SECRET_KEY || typeof state.pid !== "number" || !alive(state.pid)) continue;
    return {
      url: info.API_URL,
      secretKey: info.SECRET_KEY,
      publishableKey: info.PUBLISHABLE_KEY ?? SUPABASE_LOCAL.publishableKey,
      audience: info.FEDJWT_AUDIENCE,
      stateFile: file,
    };
  }
  if (env.FEDJWT_STACK_STATE)
    throw new CliError(
      "no_local_stack",
      `--local: no running stack in ${env.FEDJWT_STACK_STATE} (FEDJWT_STACK_STATE): start one with pnpm stack start --detach`,
      { exitCode: 1 },
    );
  return { ...SUPABASE_LOCAL, audience: undefined, stateFile: undefined };
}

/** Refuses --local together with what it replaces: one source for the URL and the keys. */
export function checkLocalAlone(values: Record<string, unknown>, replaced: readonly string[], command: string): void {
  const clash = replaced.filter((f) => values[f] !== undefined);
  if (clash.length > 0)
    throw new CliError(
      "bad_arguments",
      `--local gives the URL and keys: leave out ${clash.map((f) => `--${f}`).join(" and ")} (see: fedjwt ${command} --help)`,
    );
}

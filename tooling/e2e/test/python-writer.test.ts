// docs/python-writer.md run top to bottom, as a reader follows it, against a project adopted without --examples: its
// SQL block becomes the project's migration, the project is served by the local stack (--ephemeral here, on free
// ports, where the doc starts it with --detach; --local finds it through FEDJWT_STACK_STATE), its shell blocks run in
// order in one bash script (fedjwt keygen and register, the exports, `python3 writer.py`; the pip line is what the
// venv below does), and its Python blocks, one after the other, are writer.py. Python runs with PyJWT, httpx and
// supabase-py from a fresh venv; where Python or the packages cannot be had, it says so loudly and skips what it
// cannot run (never passes silently). FEDJWT_PYTHON picks the interpreter (default python3).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot, runSupabaseCli, type StackInfo } from "@fedjwt/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockLines, blocks, fill, runScript } from "./doc-script.ts";

const root = repoRoot();
const DOC = readFileSync(join(root, "docs", "python-writer.md"), "utf8");
const WRITER = join(root, "apps", "python-writer", "writer.py");
const BUNDLE = fileURLToPath(new URL("../../../packages/cli/dist/fedjwt.mjs", import.meta.url));
const STACK = fileURLToPath(new URL("../../local-stack/dist/cli.js", import.meta.url));
/** Interpreters tried in turn: FEDJWT_PYTHON alone when set; else the one on PATH, then Debian's (python3-jwt etc.). */
const PYTHONS = process.env.FEDJWT_PYTHON ? [process.env.FEDJWT_PYTHON] : ["python3", "/usr/bin/python3"];

/** writer.py as the doc makes it: its Python blocks, one after the other. */
const script = () => blocks(DOC, "python").join("\n\n");

/** Runs a command without blocking the event loop (the stack serves from this process). */
function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => resolve({ code: -1, stdout, stderr: String(e) }));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What could be set up: a python with PyJWT + httpx (+ supabase-py), or why not. */
type Python = { bin: string; supabase: boolean; skipped: string[] } | { bin: undefined; skipped: string[] };

/**
 * A venv (seeing the system's packages, e.g. Debian's python3-jwt) with the recipe's requirements installed by
 * pip from whatever index pip is configured with; a failed install leaves what the system has.
 */
async function setUpPython(interpreter: string, venv: string): Promise<Python> {
  const skipped: string[] = [];
  if ((await run(interpreter, ["--version"])).code !== 0) return { bin: undefined, skipped: [`${interpreter} is not installed`] };
  const made = await run(interpreter, ["-m", "venv", "--system-site-packages", venv]);
  const bin = made.code === 0 ? join(venv, "bin", "python") : interpreter;
  if (made.code !== 0) skipped.push(`no venv (${made.stderr.trim().split("\n").at(-1)}): using ${interpreter} as it is`);
  else {
    const req = join(root, "apps", "python-writer", "requirements.txt");
    const pip = await run(bin, ["-m", "pip", "install", "--quiet", "--retries", "0", "--timeout", "15", "-r", req], {}, 300_000);
    if (pip.code !== 0) skipped.push(`pip could not install ${req} (${pip.stderr.trim().split("\n").at(-1)}); using what the system has`);
  }
  if ((await run(bin, ["-c", "import jwt, cryptography, httpx"])).code !== 0) {
    return {
      bin: undefined,
      skipped: [...skipped, "PyJWT, cryptography or httpx is missing (apt-get install python3-jwt python3-cryptography python3-httpx)"],
    };
  }
  const supabase = (await run(bin, ["-c", "import supabase"])).code === 0;
  if (!supabase) skipped.push("supabase-py is missing: its part of the recipe is skipped, PyJWT + httpx ran");
  return { bin, supabase, skipped };
}

let python: Python;
let venv: string;
let result: Record<string, unknown> | undefined;
let stack: ChildProcess | undefined;
const work = mkdtempSync(join(tmpdir(), "fedjwt-python-doc-"));

/** The project the doc writes into: `supabase init`, `fedjwt adopt` (no --examples), the doc's migration. */
async function adoptedProject(): Promise<string> {
  const project = join(work, "my-app");
  mkdirSync(project, { recursive: true });
  expect(spawnSync("git", ["init", "-q"], { cwd: project }).status).toBe(0);
  const init = await runSupabaseCli(["init", "--yes"], { cwd: project });
  expect(init.code, init.stderr).toBe(0);
  const adopt = spawnSync(process.execPath, [BUNDLE, "adopt", ".", "--template", root, "--json"], { cwd: project, encoding: "utf8" });
  expect(adopt.status, adopt.stderr).toBe(0);
  const file = /`(supabase\/migrations\/\d{14}_\w+\.sql)`/.exec(DOC)?.[1];
  const sql = blocks(DOC, "sql");
  expect({ file, blocks: sql.length }, "the doc names its migration file and gives one SQL block").toEqual({
    file: expect.any(String),
    blocks: 1,
  });
  writeFileSync(join(project, file!), sql[0]!);
  return project;
}

/** `fedjwt-stack start --project … --ephemeral`: its READY line. */
function serve(project: string): Promise<{ info: StackInfo; pids: { stack: number } }> {
  const child = spawn(process.execPath, [STACK, "start", "--project", project, "--ephemeral"], { stdio: ["ignore", "pipe", "pipe"] });
  stack = child;
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /^READY (.*)$/m.exec(out);
      if (m) resolve(JSON.parse(m[1]!));
    });
    child.once("exit", (code) => reject(new Error(`fedjwt-stack exited (${code}) before READY:\n${out}\n${err}`)));
  });
}

beforeAll(async () => {
  venv = mkdtempSync(join(tmpdir(), "fedjwt-python-"));
  // The first interpreter that runs the whole recipe wins; else the first that runs its PyJWT + httpx part.
  const tried: Python[] = [];
  for (const [i, bin] of PYTHONS.entries()) {
    const p = await setUpPython(bin, join(venv, `venv${i}`));
    tried.push({ ...p, skipped: p.skipped.map((why) => `${bin}: ${why}`) });
    if (p.bin && p.supabase) break;
  }
  const chosen = tried.find((p) => p.bin && p.supabase) ?? tried.find((p) => p.bin);
  // What was skipped on the way is said too, unless the whole recipe ran.
  const skipped = chosen?.bin && chosen.supabase ? [] : tried.flatMap((p) => p.skipped);
  python = chosen?.bin ? { ...chosen, skipped } : { bin: undefined, skipped };
  for (const why of python.skipped) console.warn(`PYTHON WRITER RECIPE — SKIPPED (all or part): ${why}`);
  if (!python.bin) return;

  const project = await adoptedProject();
  const ready = await serve(project);
  const state = join(work, "stack.json");
  writeFileSync(state, JSON.stringify({ pid: ready.pids.stack, info: ready.info }));
  writeFileSync(join(project, "writer.py"), script());
  // The doc's shell lines but the two the test does itself: serving the project (above) and pip (the venv).
  const lines = blockLines(DOC).filter((l) => !/^(pnpm stack |python3 -m pip |pip )/.test(l));
  const { script: filled, unknown } = fill(lines, [
    ["http://127.0.0.1:54321", ready.info.API_URL],
    ["<publishable key>", ready.info.PUBLISHABLE_KEY],
  ]);
  expect(unknown, "placeholders nobody can fill").toEqual([]);
  expect(filled.at(-1)).toBe("python3 writer.py");
  const r = await runScript(filled, project, { FEDJWT_STACK_STATE: state }, python.bin);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  result = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!) as Record<string, unknown>;
}, 360_000);

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((r) => stack!.once("exit", r));
    stack.kill("SIGTERM");
    await exited;
  }
  rmSync(venv, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe("docs/python-writer.md, top to bottom, on a project adopted without examples", () => {
  it("PyJWT + httpx: a token per request, no apikey; inserts a reading and reads it back as python-writer", (ctx) => {
    if (!python.bin) ctx.skip(`Python writer recipe skipped: ${python.skipped.join("; ")}`);
    expect(result!.httpx_insert).toMatchObject({ status: 201, body: [{ sensor: "t1", writer_issuer: "python-writer" }] });
    expect(result!.httpx_read).toMatchObject({ status: 200, body: [{ sensor: "t1", writer_issuer: "python-writer" }] });
  });

  it("supabase-py: inserts a reading, reads it back, and a role not allowed is refused with its reason code", (ctx) => {
    if (!python.bin || !python.supabase) ctx.skip(`supabase-py part skipped: ${python.skipped.join("; ")}`);
    const placed = result!.supabase_insert as Array<{ id: number; sensor: string }>;
    expect(placed).toHaveLength(1);
    expect(result!.supabase_select).toEqual([{ id: placed[0]!.id, sensor: "t2", writer_issuer: "python-writer" }]);
    expect(result!.supabase_refused).toMatchObject({ code: "role_not_allowed" });
  });

  it("without supabase-py the script says so and stops after the httpx part", (ctx) => {
    if (!python.bin || python.supabase) ctx.skip("supabase-py is installed: its part ran");
    expect(result!.supabase).toMatchObject({ skipped: expect.stringContaining("supabase-py is not installed") });
  });

  it("apps/python-writer/writer.py is the doc's script: its Python blocks, in order", () => {
    expect(readFileSync(WRITER, "utf8")).toBe(script());
  });
});

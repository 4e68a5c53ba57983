// The Python writer recipe (docs/python-writer.md) as the doc shows it: apps/python-writer/writer.py, run by
// Python with PyJWT, httpx and supabase-py from a fresh venv, against the stack. Where Python or the packages
// cannot be had, it says so loudly and skips what it cannot run (never passes silently). FEDJWT_PYTHON picks
// the interpreter (default python3).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@fedjwt/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyDir, keygen, register, serviceRead, useTarget } from "./target.ts";

const root = repoRoot();
const WRITER = join(root, "apps", "python-writer", "writer.py");
const target = useTarget();
/** Interpreters tried in turn: FEDJWT_PYTHON alone when set; else the one on PATH, then Debian's (python3-jwt etc.). */
const PYTHONS = process.env.FEDJWT_PYTHON ? [process.env.FEDJWT_PYTHON] : ["python3", "/usr/bin/python3"];

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
  const t = target();
  const keys = await keygen(t, keyDir(), "python-writer", "ES256");
  await register(t, [
    "--issuer",
    "python-writer",
    "--public-key",
    keys.publicKey,
    "--allowed-role",
    "orders_writer",
    "--allowed-role",
    "stock_reader",
  ]);
  const r = await run(python.bin, [WRITER], {
    FEDJWT_API_URL: t.apiUrl,
    FEDJWT_ANON_KEY: t.anonKey,
    FEDJWT_AUDIENCE: t.audience,
    PY_WRITER_KEY: keys.privateKey,
  });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  result = JSON.parse(r.stdout) as Record<string, unknown>;
}, 360_000);

afterAll(() => rmSync(venv, { recursive: true, force: true }));

describe("the Python writer recipe (apps/python-writer/writer.py)", () => {
  it("PyJWT + httpx: a token per request, no apikey, reads what stock_reader may", (ctx) => {
    if (!python.bin) ctx.skip(`Python writer recipe skipped: ${python.skipped.join("; ")}`);
    expect(result!.httpx_read).toMatchObject({ status: 200 });
    const rows = (result!.httpx_read as { body: Array<{ sku: string }> }).body.map((r) => r.sku);
    expect(rows).toContain("WIDGET-BLUE");
  });

  it("supabase-py: inserts an order as python-writer, reads it back, and a role not allowed is refused", async (ctx) => {
    if (!python.bin || !python.supabase) ctx.skip(`supabase-py part skipped: ${python.skipped.join("; ")}`);
    const placed = result!.supabase_insert as Array<{ id: string; sku: string }>;
    expect(placed).toHaveLength(1);
    expect(result!.supabase_select).toEqual([{ id: placed[0]!.id, sku: "WIDGET-BLUE", quantity: 1, writer_issuer: "python-writer" }]);
    expect(result!.supabase_refused).toMatchObject({ code: "role_not_allowed" });
    // In the database, recorded from the gateway's token (not from anything the writer sent).
    const rows = await serviceRead<Array<{ writer_issuer: string }>>(target(), `orders?id=eq.${placed[0]!.id}&select=writer_issuer`);
    expect(rows).toEqual([{ writer_issuer: "python-writer" }]);
  });

  it("the doc shows the recipe's own code: every python block of docs/python-writer.md is in writer.py", () => {
    const doc = readFileSync(join(root, "docs", "python-writer.md"), "utf8");
    const source = readFileSync(WRITER, "utf8");
    const blocks = [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.filter((b) => !source.includes(b))).toEqual([]);
  });
});

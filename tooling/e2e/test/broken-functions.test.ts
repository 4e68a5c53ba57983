// A project whose functions do not all load, served as `fedjwt-stack start --project` serves it: the `hello` function
// that the Supabase CLI's own `supabase functions new` writes (it imports `jsr:` and `npm:` packages, which Deno
// cannot fetch offline), one with a missing relative import and one importing a `jsr:` package that exists nowhere.
// The stack still comes up: `rest` (adopted) is served, every function that fails to load answers 500 with its load
// error, the stack's log names each one and why, and the status lines list each function as serving or BROKEN.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatFunctions, repoRoot, runSupabaseCli, type FunctionState, type StackInfo } from "@fedjwt/local-stack";

const ROOT = repoRoot();
const BUNDLE = fileURLToPath(new URL("../../../packages/cli/dist/fedjwt.mjs", import.meta.url));
const STACK = fileURLToPath(new URL("../../local-stack/dist/cli.js", import.meta.url));

describe("a project with functions that fail to load (fedjwt-stack start --project)", () => {
  const work = mkdtempSync(join(tmpdir(), "fedjwt-broken-fns-"));
  const project = join(work, "my-app");
  let stack: ChildProcess | undefined;
  let stackErr = "";
  let ready: { info: StackInfo; functions: FunctionState[] };

  beforeAll(async () => {
    mkdirSync(project, { recursive: true });
    expect(spawnSync("git", ["init", "-q"], { cwd: project }).status).toBe(0);
    const init = await runSupabaseCli(["init", "--yes"], { cwd: project });
    expect(init.code, init.stderr).toBe(0);
    const made = await runSupabaseCli(["functions", "new", "hello"], { cwd: project });
    expect(made.code, made.stderr).toBe(0);
    const fns = join(project, "supabase", "functions");
    mkdirSync(join(fns, "missing-import"));
    writeFileSync(
      join(fns, "missing-import", "index.ts"),
      'import { greeting } from "./not-there.ts";\nDeno.serve(() => new Response(greeting));\n',
    );
    mkdirSync(join(fns, "jsr-gone"));
    writeFileSync(
      join(fns, "jsr-gone", "index.ts"),
      'import { nothing } from "jsr:@fedjwt-e2e/never-published@1";\nDeno.serve(() => new Response(String(nothing)));\n',
    );
    appendFileSync(join(project, "supabase", "config.toml"), "\n[functions.missing-import]\nverify_jwt = false\n");
    const adopt = spawnSync(process.execPath, [BUNDLE, "adopt", ".", "--template", ROOT, "--json"], { cwd: project, encoding: "utf8" });
    expect(adopt.status, adopt.stderr).toBe(0);

    const child = spawn(process.execPath, [STACK, "start", "--project", project, "--ephemeral"], { stdio: ["ignore", "pipe", "pipe"] });
    stack = child;
    child.stderr!.on("data", (c: Buffer) => (stackErr += c.toString()));
    ready = await new Promise((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /^READY (.*)$/m.exec(out);
        if (m) resolve(JSON.parse(m[1]!) as typeof ready);
      });
      child.once("exit", (code) => reject(new Error(`fedjwt-stack exited (${code}) before READY:\n${out}\n${stackErr}`)));
    });
  }, 240_000);

  afterAll(async () => {
    if (stack && stack.exitCode === null) {
      const exited = new Promise((r) => stack!.once("exit", r));
      stack.kill("SIGTERM");
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
  });

  const state = (name: string) => ready.functions.find((f) => f.name === name);

  it("serves `rest` (first in the list) while the others fail to load", async () => {
    expect(ready.functions[0]).toEqual({ name: "rest", status: "serving" });
    // The adopted function answers: a publishable key alone reaches it with no token (the gateway leaves
    // Authorization as sent on /functions/v1, as the CLI's Kong does).
    const res = await fetch(`${ready.info.API_URL}/functions/v1/rest/anything`, { headers: { apikey: ready.info.PUBLISHABLE_KEY } });
    expect({ status: res.status, code: ((await res.json()) as { code?: string }).code }).toEqual({ status: 401, code: "token_missing" });
  });

  it("a function with a missing relative import answers 500 BOOT_ERROR with Deno's load error", async () => {
    expect(state("missing-import")).toMatchObject({ status: "broken", error: expect.stringMatching(/Module not found.*not-there\.ts/) });
    const res = await fetch(`${ready.info.API_URL}/functions/v1/missing-import/x`);
    const body = (await res.json()) as { code: string; message: string; error: string };
    expect(res.status).toBe(500);
    expect(body.code).toBe("BOOT_ERROR");
    expect(body.message).toContain("function missing-import failed to load");
    expect(body.error).toMatch(/Module not found.*not-there\.ts/);
  });

  it("a function whose jsr: package cannot be fetched answers 500 with that error; verify_jwt still applies first", async () => {
    expect(state("jsr-gone")).toMatchObject({ status: "broken", error: expect.stringContaining("@fedjwt-e2e/never-published") });
    expect((await fetch(`${ready.info.API_URL}/functions/v1/jsr-gone`)).status).toBe(401);
    const res = await fetch(`${ready.info.API_URL}/functions/v1/jsr-gone`, { headers: { authorization: `Bearer ${ready.info.ANON_KEY}` } });
    expect({ status: res.status, error: ((await res.json()) as { error: string }).error }).toEqual({
      status: 500,
      error: expect.stringContaining("@fedjwt-e2e/never-published"),
    });
  });

  it("`supabase functions new hello` is served when its packages can be fetched, else answers 500 naming them", async () => {
    const hello = state("hello");
    const res = await fetch(`${ready.info.API_URL}/functions/v1/hello`, {
      method: "POST",
      headers: { apikey: ready.info.PUBLISHABLE_KEY, "content-type": "application/json" },
      body: JSON.stringify({ name: "Functions" }),
    });
    if (hello?.status === "serving") expect(res.status).toBeLessThan(500);
    else {
      expect(hello).toMatchObject({ status: "broken", error: expect.stringMatching(/jsr|npm|functions-js|@supabase/) });
      expect(res.status).toBe(500);
    }
  });

  it("serving leaves no deno.lock in the project (none was there; Deno reads one only where a project keeps it)", () => {
    const fns = join(project, "supabase", "functions");
    const locks = readdirSync(fns).filter((name) => existsSync(join(fns, name, "deno.lock")));
    expect(locks).toEqual([]);
  });

  it("the stack's log names each function that failed and why; the status lines list each function", () => {
    expect(stackErr).toMatch(/functions: missing-import FAILED TO LOAD[^\n]*\n\s+error: Module not found/);
    expect(stackErr).toMatch(/functions: jsr-gone FAILED TO LOAD[^\n]*\n\s+error: [^\n]*@fedjwt-e2e\/never-published/);
    const lines = formatFunctions(ready.functions);
    expect(lines).toMatch(/^# function rest\s+serving$/m);
    expect(lines).toMatch(/^# function missing-import\s+BROKEN \(answers 500\): error: Module not found/m);
    expect(lines.split("\n").filter((l) => l.startsWith("# function ")).length).toBe(4);
  });
});

// `pnpm dev` as a new user runs it (Docker-free path): everything comes up, the writers behave as the
// policies say, and running it again works. Uses the fixed local ports, so outside CI it runs only when they are free
// (under CI it always runs: busy ports fail it rather than skip it),
// and stops the stack it started.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

function node(args: string[], env: Record<string, string> = { FEDJWT_NO_DOCKER: "1" }): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}

/** Runs one shell-free command line as a user types it (words split on spaces; no quoting in what dev prints). */
function typed(line: string): Promise<{ code: number | null; out: string }> {
  const [first, second, ...rest] = line.trim().split(/\s+/);
  // `pnpm fedjwt` runs the workspace's fedjwt bin, packages/cli/bin/fedjwt.js, in the folder it is typed in.
  if (first !== "pnpm" || second !== "fedjwt") throw new Error(`not a pnpm fedjwt command: ${line}`);
  const env = { ...process.env };
  for (const name of ["SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_SECRET_KEY", "FEDJWT_STACK_STATE"]) delete env[name];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["packages/cli/bin/fedjwt.js", ...rest], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}

const free = (await Promise.all([54321, 54322, 54340].map(portFree))).every(Boolean);
let started = false;
let firstRun = "";

afterAll(async () => {
  if (started) await node(["tooling/local-stack/dist/cli.js", "stop"]);
});

describe.skipIf(!free && !process.env.CI)("pnpm dev (Docker-free)", () => {
  it("brings the stack up, registers and runs both writers, and prints a summary", async () => {
    // The flag the Docker path's failures point to (pnpm dev --no-docker passes it on to scripts/dev.ts).
    const r = await node(["scripts/dev.ts", "--no-docker"], { FEDJWT_NO_DOCKER: "" });
    started = true;
    firstRun = r.out;
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("Docker skipped on request: using the Docker-free local stack");
    expect(r.out).toMatch(/✓ insert into orders\s+201 allowed/);
    expect(r.out).toMatch(/✓ delete from orders\s+403 denied 42501/);
    expect(r.out).toMatch(/✓ update stock_levels\s+200 allowed/);
    expect(r.out).toMatch(/✓ insert into orders\s+403 denied 42501/);
    expect(r.out).toContain("forged: orders-service asks for role service_role → 403 role_not_allowed");
    expect(r.out).toMatch(
      /impersonation: orders-service signs an Auth user's id as sub → user_notes 403 42501\n {4}\(the database sees role federated_writer and sub [0-9a-f]{8}…, a UUID the gateway derives/,
    );
    // The seed's rows are sample rows, not a writer's.
    expect(r.out).toMatch(
      /select orders\s+200 allowed — \d+ orders readable: \d+ written by orders-service, 2 sample rows from supabase\/seed\.sql/,
    );
    // The keyless writer: a CI job with its own OIDC token, admitted by a trust policy; another repository's refused.
    expect(r.out).toMatch(/ci-writer {9}\(a GitHub Actions job through @actions\/core, no key of ours: trust policy [0-9a-f]{8}…/);
    expect(r.out).toMatch(
      /✓ insert into widgets\s+201\s+allowed: widget \d+ "build of octo-org\/octo-repo@[0-9a-f]{12}", owner_issuer=ci-writer/,
    );
    expect(r.out).toContain("✓ a job of octo-org/other-repo (another repository_id) → 403 no_matching_policy");
    expect(r.out).toContain("Everything behaved as the policies say.");
    // The function's access lines for this run: one per request, refusals with their reason.
    // The log's real path (not a root-relative one), kept across restarts, and what its columns mean.
    expect(r.out).toContain(
      `one JSON line each in ${join(root, ".local", "stack.log")}\n    (kept across restarts, moved to stack.log.1 past 10 MB)`,
    );
    expect(r.out).toMatch(/upstream = PostgREST's status \("-": refused before it reached PostgREST\), cache = the writer's key/);
    expect(r.out).toMatch(/201 orders-service\s+POST\s+orders\s+upstream 201/);
    expect(r.out).toMatch(/403 orders-service\s+GET\s+jwt_public_keys\s+upstream -\s+cache miss\s+[0-9.]+ ms\s+role_not_allowed/);
    // One write followed from the response's X-Request-Id to the audit row that carries it.
    expect(r.out).toMatch(/write audit: orders-service POST orders → 201, X-Request-Id [0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f-]{21}\n/);
    expect(r.out).toMatch(
      /✓ fedjwt audit --request-id [0-9a-f-]{36}: INSERT public\.orders \{"id":"[0-9a-f-]{36}"\} by orders-service \(kid \S+, sub \S+\) at /,
    );
    expect(r.out).toMatch(/API\s+http:\/\/127\.0\.0\.1:54321/);
    expect(r.out).toMatch(/audience\s+http:\/\/127\.0\.0\.1:54321 {3}\(what writers put in aud/);
    // The keys the README's snippet and fedjwt take: the publishable and the secret key.
    expect(r.out).toMatch(/publishable key\s+sb_publishable_\S+ {3}\(the README's "<publishable key>"/);
    expect(r.out).toMatch(/secret key\s+sb_secret_\S+ {3}\(fedjwt's --service-role-key/);
    expect(r.out).not.toContain("✗");
  }, 240_000);

  it("runs again on the running stack, reusing keys and registrations", async () => {
    const r = await node(["scripts/dev.ts"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("The local stack is already running");
    expect(r.out).toContain('of issuer "orders-service" was already registered; nothing to do.');
    expect(r.out).toContain("Everything behaved as the policies say.");
  }, 240_000);

  it("status answers while it runs, like `supabase status -o env`", async () => {
    const r = await node(["tooling/local-stack/dist/cli.js", "status"]);
    expect(r.code).toBe(0);
    for (const name of ["API_URL", "DB_URL", "ANON_KEY", "SERVICE_ROLE_KEY", "JWT_SECRET"])
      expect(r.out).toMatch(new RegExp(`^${name}="`, "m"));
    expect(r.out).toMatch(/^# function rest\s+serving$/m);
  });

  it("every command its summary prints runs as printed (no variable to set, no flag to add)", async () => {
    const printed = [...firstRun.matchAll(/^\s+(?:Try: )?(pnpm fedjwt .*)$/gm)].map((m) => m[1]!);
    expect(printed.length).toBeGreaterThanOrEqual(3);
    for (const line of printed) {
      const r = await typed(line);
      expect({ line, code: r.code }, r.out).toEqual({ line, code: 0 });
    }
  });
});

// `pnpm dev` as a new user runs it (Docker-free path): everything comes up, the writers behave as the
// policies say, and running it again works. Uses the fixed local ports, so outside CI it runs only when they are free
// (under CI it always runs: busy ports fail it rather than skip it),
// and stops the stack it started.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
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

function node(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, FEDJWT_NO_DOCKER: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}

const free = (await Promise.all([54321, 54322, 54340].map(portFree))).every(Boolean);
let started = false;

afterAll(async () => {
  if (started) await node(["tooling/local-stack/dist/cli.js", "stop"]);
});

describe.skipIf(!free && !process.env.CI)("pnpm dev (Docker-free)", () => {
  it("brings the stack up, registers and runs both writers, and prints a summary", async () => {
    const r = await node(["scripts/dev.ts"]);
    started = true;
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("Docker skipped on request: using the Docker-free local stack");
    expect(r.out).toMatch(/✓ insert into orders\s+201 allowed/);
    expect(r.out).toMatch(/✓ delete from orders\s+403 denied 42501/);
    expect(r.out).toMatch(/✓ update stock_levels\s+200 allowed/);
    expect(r.out).toMatch(/✓ insert into orders\s+403 denied 42501/);
    expect(r.out).toContain("forged: orders-service asks for role service_role → 403 role_not_allowed");
    expect(r.out).toMatch(
      /impersonation: orders-service signs an Auth user's id as sub → user_notes 403 42501 \(the database sees role federated_writer, sub [0-9a-f]{8}… derived/,
    );
    expect(r.out).toContain("Everything behaved as the policies say.");
    // The function's access lines for this run: one per request, refusals with their reason.
    expect(r.out).toMatch(/access log \([1-9][0-9]* lines, one JSON line per request in \/\.local\/stack\.log\)/);
    expect(r.out).toMatch(/201 orders-service\s+POST\s+orders\s+upstream 201/);
    expect(r.out).toMatch(/403 orders-service\s+GET\s+jwt_public_keys\s+upstream -\s+cache miss\s+[0-9.]+ ms\s+role_not_allowed/);
    // One write followed from the response's X-Request-Id to the audit row that carries it.
    expect(r.out).toMatch(/write audit: orders-service POST orders → 201, X-Request-Id [0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f-]{21}\n/);
    expect(r.out).toMatch(
      /✓ fedjwt audit --request-id [0-9a-f-]{36}: INSERT public\.orders \{"id":"[0-9a-f-]{36}"\} by orders-service \(kid \S+, sub \S+\) at /,
    );
    expect(r.out).toMatch(/API\s+http:\/\/127\.0\.0\.1:54321/);
    expect(r.out).toMatch(/audience\s+http:\/\/127\.0\.0\.1:54321 {3}\(what writers put in aud/);
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
  });
});

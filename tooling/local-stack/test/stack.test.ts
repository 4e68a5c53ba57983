// The Docker-free stack as a whole: gateway routing and apikey rules like Supabase's, functions under
// Deno with verify_jwt from config.toml, `status` output, and failure modes.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_ANON_KEY, LOCAL_JWT_SECRET, LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, LOCAL_SERVICE_ROLE_KEY } from "@fedjwt/local-db";
import { repoRoot } from "@fedjwt/local-db";
import { formatEnv, startStack, type RunningStack } from "../src/stack.ts";

let stack: RunningStack;
let api: string;

beforeAll(async () => {
  // A copy of this repository's supabase/ folder plus a function that keeps verify_jwt = true.
  const workdir = await mkdtemp(join(tmpdir(), "fedjwt-stack-"));
  await cp(join(repoRoot(), "supabase"), join(workdir, "supabase"), { recursive: true });
  await rm(join(workdir, "supabase", "functions", ".env"), { force: true }); // a developer's (pnpm dev writes one): not this test's
  // The function's deno.json imports the packages' sources by relative path: copy them (not node_modules).
  await cp(join(repoRoot(), "packages"), join(workdir, "packages"), {
    recursive: true,
    filter: (src) => !src.split("/").includes("node_modules"),
  });
  await mkdir(join(workdir, "supabase", "functions", "hello"), { recursive: true });
  await writeFile(
    join(workdir, "supabase", "functions", "hello", "index.ts"),
    "export default { fetch: (req: Request) => new Response(`hello ${new URL(req.url).pathname}`) };\n",
  );
  const config = join(workdir, "supabase", "config.toml");
  await writeFile(config, `${await readFile(config, "utf8")}\n[functions.hello]\nverify_jwt = true\n`);
  stack = await startStack({ apiPort: 0, dbPort: 0, workdir });
  api = stack.info.API_URL;
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe("the gateway", () => {
  it("refuses /rest/v1 without an apikey, and with an unknown one", async () => {
    const none = await fetch(`${api}/rest/v1/stock_levels`);
    expect(none.status).toBe(401);
    expect((await none.json()).message).toBe("No API key found in request");
    const wrong = await fetch(`${api}/rest/v1/stock_levels`, { headers: { apikey: "sb_publishable_wrong" } });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).message).toBe("Invalid API key");
  });

  it("passes a legacy anon key with no Authorization on as it is, with no Bearer, as the CLI's Kong does: no anon JWT", async () => {
    const r = await fetch(`${api}/rest/v1/stock_levels`, { headers: { apikey: LOCAL_ANON_KEY } });
    expect(r.status).toBe(401);
    const withBearer = await fetch(`${api}/rest/v1/stock_levels`, {
      headers: { apikey: LOCAL_ANON_KEY, authorization: `Bearer ${LOCAL_ANON_KEY}` },
    });
    expect({ status: withBearer.status, code: (await withBearer.json()).code }).toEqual({ status: 403, code: "42501" });
  });

  it("turns a secret key without Authorization into the service_role JWT", async () => {
    const r = await fetch(`${api}/rest/v1/stock_levels?select=sku&order=sku`, { headers: { apikey: LOCAL_SECRET_KEY } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual([{ sku: "GADGET-1" }, { sku: "WIDGET-BLUE" }, { sku: "WIDGET-RED" }]);
    // The publishable key becomes the anon JWT, which carries a role: PostgREST then answers 42501 with 403.
    const pub = await fetch(`${api}/rest/v1/stock_levels`, { headers: { apikey: LOCAL_PUBLISHABLE_KEY } });
    expect(pub.status).toBe(403);
    expect((await pub.json()).code).toBe("42501");
  });

  it("accepts the apikey as a query parameter (the request then runs as anon: only the apikey header stands for a JWT), and legacy service_role with Authorization", async () => {
    const query = await fetch(`${api}/rest/v1/jwt_issuers?apikey=${LOCAL_SECRET_KEY}`);
    expect({ status: query.status, code: (await query.json()).code }).toEqual({ status: 401, code: "42501" });
    expect(
      (
        await fetch(`${api}/rest/v1/jwt_issuers`, {
          headers: { apikey: LOCAL_SERVICE_ROLE_KEY, authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}` },
        })
      ).status,
    ).toBe(200);
  });

  it("honours verify_jwt = true: no or bad JWT → 401, a valid one → the function", async () => {
    expect((await fetch(`${api}/functions/v1/hello`)).status).toBe(401);
    const bad = await new SignJWT({ role: "anon" }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode("z".repeat(40)));
    expect((await fetch(`${api}/functions/v1/hello`, { headers: { authorization: `Bearer ${bad}` } })).status).toBe(401);
    const ok = await fetch(`${api}/functions/v1/hello/x?y=1`, { headers: { authorization: `Bearer ${LOCAL_ANON_KEY}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("hello /hello/x");
  });

  it("honours verify_jwt = false for rest: the function itself answers (token_missing)", async () => {
    const r = await fetch(`${api}/functions/v1/rest/widgets`);
    expect(r.status).toBe(401);
    expect((await r.json()).code).toBe("token_missing");
  });

  it("unknown functions and routes → 404", async () => {
    expect((await fetch(`${api}/functions/v1/nope`)).status).toBe(404);
    expect((await fetch(`${api}/auth/v1/user`)).status).toBe(404);
  });

  it("PostgREST down → 502 from the gateway; back up → served again, the function untouched", async () => {
    await stack.stopRest();
    const down = await fetch(`${api}/rest/v1/jwt_issuers`, { headers: { apikey: LOCAL_SECRET_KEY } });
    expect(down.status).toBe(502);
    await stack.startRest();
    expect((await fetch(`${api}/rest/v1/jwt_issuers`, { headers: { apikey: LOCAL_SECRET_KEY } })).status).toBe(200);
  });
});

describe("status and start-up", () => {
  it("prints API_URL, DB_URL, ANON_KEY, SERVICE_ROLE_KEY and JWT_SECRET like `supabase status -o env`", () => {
    const env = formatEnv(stack.info);
    for (const name of ["API_URL", "DB_URL", "ANON_KEY", "SERVICE_ROLE_KEY", "JWT_SECRET", "FEDJWT_AUDIENCE"])
      expect(env).toMatch(new RegExp(`^${name}="[^"]+"$`, "m"));
    expect(stack.info.JWT_SECRET).toBe(LOCAL_JWT_SECRET);
    // The audience writers must sign for: the API URL exactly, no trailing slash.
    expect(stack.info.FEDJWT_AUDIENCE).toBe(api);
    expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("the anon and service_role keys are the local secret's HS256 signatures of Supabase's demo claims", async () => {
    const secret = new TextEncoder().encode(LOCAL_JWT_SECRET);
    const sign = (role: string) =>
      new SignJWT({ iss: "supabase-demo", role, exp: 1983812996 }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
    expect(await sign("anon")).toBe(LOCAL_ANON_KEY);
    expect(await sign("service_role")).toBe(LOCAL_SERVICE_ROLE_KEY);
  });

  it("a busy API port gives a clear error and leaves nothing running", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startStack({ apiPort: port, dbPort: 0 })).rejects.toThrow(
        new RegExp(`port ${port} \\(API gateway\\) is already in use`),
      );
    } finally {
      blocker.close();
    }
  });
});

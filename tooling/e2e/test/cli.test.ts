// The fedjwt registry commands against a running stack, as a user runs them (built bin, subprocess).
import { createServer } from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { fedjwt, keyDir, keygen, serviceRead, useTarget } from "./target.ts";

const target = useTarget();
let a: Awaited<ReturnType<typeof keygen>>;
let b: Awaited<ReturnType<typeof keygen>>;

beforeAll(async () => {
  const dir = keyDir();
  a = await keygen(target(), dir, "cli-service");
  b = await keygen(target(), keyDir(), "cli-service");
});

function oneLine(r: { code: number | null; stdout: string; stderr: string }, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe("");
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

describe("register, list, deactivate, rotate", () => {
  it("register creates the issuer and key; again is a no-op; list shows them", async () => {
    const t = target();
    const register = [
      "register",
      "--issuer",
      "cli-service",
      "--public-key",
      a.publicKey,
      "--allowed-role",
      "orders_writer",
      "--max-lifetime",
      "120",
      "--json",
    ];
    const first = await fedjwt(t, register);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ issuer: "cli-service", kid: a.kid, keyCreated: true, issuerAction: "created" });
    const again = await fedjwt(t, register);
    expect(JSON.parse(again.stdout)).toMatchObject({ keyCreated: false, issuerAction: "unchanged" });
    // The same key with another policy: one line that says the policy changed (never "nothing to do").
    const changed = await fedjwt(t, [...register.slice(0, -3), "--max-lifetime", "60"]);
    expect(changed.stdout.split("\n")[0]).toBe(`Key ${a.kid} of issuer "cli-service" was already registered; updated the issuer's policy.`);
    expect((await fedjwt(t, register)).code).toBe(0); // back to 120 for what follows
    const listed = JSON.parse((await fedjwt(t, ["list", "--issuer", "cli-service", "--json"])).stdout);
    expect(listed.issuers).toEqual([
      expect.objectContaining({
        issuer: "cli-service",
        max_token_lifetime_seconds: 120,
        allowed_roles: ["orders_writer"],
        keys: [expect.objectContaining({ kid: a.kid, is_active: true })],
      }),
    ]);
    const table = (await fedjwt(t, ["list"])).stdout;
    expect(table).toMatch(/^ISSUER\s+KID\s+ALG\s+SOURCE\s+ACTIVE/);
    expect(table).toMatch(new RegExp(`cli-service\\s+${a.kid}\\s+ES256\\s+public key\\s+yes`));
  });

  it("every change is in the audit table, made by service_role", async () => {
    const rows = await serviceRead<Array<{ actor_role: string; operation: string; table_name: string }>>(
      target(),
      "jwt_registry_audit?select=actor_role,operation,table_name&order=id",
    );
    expect(rows.filter((r) => r.table_name === "jwt_issuers" || r.table_name === "jwt_public_keys").length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.actor_role))).toContain("service_role");
  });

  it("rotate adds a key beside the old one and prints the steps; retiring the last active key needs --force", async () => {
    const t = target();
    const r = await fedjwt(t, ["rotate", "--issuer", "cli-service", "--public-key", b.publicKey]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`registered new key ${b.kid}`);
    expect(r.stdout).toContain(`--retire ${a.kid}`);
    expect((await fedjwt(t, ["rotate", "--issuer", "cli-service", "--retire", a.kid])).code).toBe(0);
    oneLine(await fedjwt(t, ["rotate", "--issuer", "cli-service", "--retire", b.kid]), 2, /last active key/);
  });

  it("deactivate one kid, then the issuer; list shows them inactive", async () => {
    const t = target();
    expect((await fedjwt(t, ["deactivate", "--issuer", "cli-service", "--kid", b.kid])).code).toBe(0);
    expect((await fedjwt(t, ["deactivate", "--issuer", "cli-service"])).stdout).toMatch(/Deactivated issuer "cli-service"/);
    const keys = JSON.parse((await fedjwt(t, ["list", "--issuer", "cli-service", "--json"])).stdout).issuers[0];
    expect(keys.is_active).toBe(false);
    expect(keys.keys.every((k: { is_active: boolean }) => !k.is_active)).toBe(true);
  });
});

describe("bad inputs: one line, the right exit code", () => {
  it("an unreachable URL → exit 1", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    oneLine(
      await fedjwt(target(), ["list", "--url", `http://127.0.0.1:${port}`]),
      1,
      /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });

  it("a wrong service key → exit 2", async () => {
    oneLine(await fedjwt(target(), ["list", "--service-role-key", "sb_secret_wrong"]), 2, /refused the service role key \(HTTP 401/);
  });

  it("the anon key instead of the service key → exit 2", async () => {
    oneLine(await fedjwt(target(), ["list", "--service-role-key", target().anonKey]), 2, /refused the service role key \(HTTP 40[13]/);
  });

  it("a duplicate kid with a different key → exit 2", async () => {
    const other = await keygen(target(), keyDir(), "dup-service");
    expect((await fedjwt(target(), ["register", "--issuer", "dup-service", "--public-key", other.publicKey])).code).toBe(0);
    const clash = await keygen(target(), keyDir(), "dup-service");
    oneLine(
      await fedjwt(target(), ["register", "--issuer", "dup-service", "--public-key", clash.publicKey, "--kid", other.kid]),
      2,
      /already registered for issuer dup-service with a different key/,
    );
  });

  it.each([
    [["--db-role", "service_role"], /--db-role "service_role" is refused/],
    [["--db-role", "postgres"], /--db-role "postgres" is refused/],
    [["--db-role", "authenticated"], /--db-role "authenticated" is refused/],
    [["--db-role", "anon"], /--db-role "anon" is refused/],
    [["--db-role", "not_a_writer_role"], /--db-role "not_a_writer_role" is refused by the registry: it is not a writer role/],
    [["--max-lifetime", "7200"], /--max-lifetime must be a whole number of seconds from 1 to 3600/],
  ])("register %j → exit 2", async (flags, pattern) => {
    const k = await keygen(target(), keyDir(), "policy-probe");
    oneLine(await fedjwt(target(), ["register", "--issuer", "policy-probe", "--public-key", k.publicKey, ...flags]), 2, pattern);
  });

  it.each([
    [["register", "--issuer", "x", "--jwks-uri", "http://writer.example/jwks.json", "--alg", "ES256"], /must be https/],
    [["register", "--issuer", "x", "--public-key", "/nonexistent.pub"], /cannot read public key file \/nonexistent\.pub: no such file/],
    [["register", "--issuer", "x"], /nothing to change: give a policy flag .* or a key \(--public-key \/ --jwks-uri\)/],
    [
      ["register", "--issuer", "x", "--public-key", "a.pub", "--jwks-uri", "https://w.example/jwks.json"],
      /give exactly one of --public-key and --jwks-uri/,
    ],
    [
      ["register", "--issuer", "ghost-service", "--rate-limit", "3"],
      /no issuer named "ghost-service": a new writer is registered with its key/,
    ],
    [["deactivate", "--issuer", "ghost-service"], /no issuer named "ghost-service"/],
    [["rotate", "--issuer", "ghost-service", "--retire", "k"], /no issuer named "ghost-service"/],
    [["list", "--url", "ftp://x"], /is not an http\(s\) URL/],
  ])("%j → exit 2", async (args, pattern) => {
    oneLine(await fedjwt(target(), args), 2, pattern);
  });

  it("no URL or key at all → exit 2 naming the flag and the variable", async () => {
    oneLine(
      await fedjwt(target(), ["list"], { SUPABASE_URL: "", SUPABASE_SERVICE_ROLE_KEY: "", SUPABASE_SECRET_KEY: "" }),
      2,
      /--url \(or SUPABASE_URL\), or --local for the local stack, is required/,
    );
  });
});

import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLocalJWKSet, decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { targetLabel } from "../src/target.ts";
import { fedjwt, tempDir, type Run } from "./helpers.ts";

const TARGET = "https://prod-abc123.supabase.co";

/** A bad-input run: exit 2, exactly one line on stderr, nothing on stdout, no stack trace. */
function expectOneLineRefusal(r: Run, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

function keygen(dir: string, issuer = "orders-service", extra: string[] = []): Run {
  return fedjwt(["keygen", "--issuer", issuer, "--target", TARGET, "--out", dir, ...extra]);
}

describe("keygen", () => {
  it.each(["ES256", "RS256", "EdDSA"])("writes %s files named after issuer and target, private key 0600", (alg) => {
    const dir = tempDir();
    const r = keygen(dir, "orders-service", ["--alg", alg, "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ issuer: "orders-service", alg });
    expect(out.files).toEqual({
      privateKey: join(dir, "orders-service-prod-abc123.key"),
      publicKey: join(dir, "orders-service-prod-abc123.pub"),
      jwk: join(dir, "orders-service-prod-abc123.jwk.json"),
    });
    expect(statSync(out.files.privateKey).mode & 0o777).toBe(0o600);
    expect(readFileSync(out.files.privateKey, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(out.files.publicKey, "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(JSON.parse(readFileSync(out.files.jwk, "utf8"))).toMatchObject({ kid: out.kid, alg, use: "sig" });
  });

  it("refuses to overwrite without --force, and overwrites with it", () => {
    const dir = tempDir();
    expect(keygen(dir).code).toBe(0);
    const before = readFileSync(join(dir, "orders-service-prod-abc123.key"), "utf8");
    expectOneLineRefusal(keygen(dir), /already exists; pass --force/);
    expect(readFileSync(join(dir, "orders-service-prod-abc123.key"), "utf8")).toBe(before);
    expect(keygen(dir, "orders-service", ["--force"]).code).toBe(0);
    const after = join(dir, "orders-service-prod-abc123.key");
    expect(readFileSync(after, "utf8")).not.toBe(before);
    expect(statSync(after).mode & 0o777).toBe(0o600);
  });

  it("prints a human summary by default", () => {
    const r = keygen(tempDir());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Generated an ES256 keypair for issuer "orders-service"/);
    expect(r.stdout).toMatch(/mode 0600/);
    expect(r.stdout).not.toMatch(/BEGIN PRIVATE KEY/);
  });

  it.each([
    [["keygen", "--target", TARGET], /--issuer is required/],
    [["keygen", "--issuer", "svc"], /--target is required/],
    [["keygen", "--issuer", "Bad Name", "--target", TARGET], /--issuer "Bad Name" must match/],
    [["keygen", "--issuer", "svc", "--target", TARGET, "--alg", "HS256"], /--alg "HS256" is not one of ES256, RS256, EdDSA/],
    [["keygen", "--issuer", "svc", "--target", "http://"], /neither a URL nor a plain name/],
    [["keygen", "--issuer", "svc", "--target", TARGET, "--bogus"], /Unknown option '--bogus'/],
  ])("bad input %j → exit 2, one line", (args, pattern) => {
    expectOneLineRefusal(fedjwt([...args, "--out", tempDir()]), pattern);
  });

  it("derives target names", () => {
    expect(targetLabel("https://prod-abc123.supabase.co")).toBe("prod-abc123");
    expect(targetLabel("http://127.0.0.1:54321")).toBe("local");
    expect(targetLabel("http://localhost:54321")).toBe("local");
    expect(targetLabel("staging")).toBe("staging");
    expect(targetLabel("Example.COM")).toBe("example");
  });
});

describe("mint", () => {
  it.each(["ES256", "RS256", "EdDSA"])("mints a %s token that verifies with the .pub", async (alg) => {
    const dir = tempDir();
    const gen = JSON.parse(keygen(dir, "inventory", ["--alg", alg, "--json"]).stdout);
    const r = fedjwt([
      "mint", "--issuer", "inventory", "--key", gen.files.privateKey, "--audience", "target-aud",
      "--role", "stock_writer", "--role", "reader", "--claim", "site=berlin", "--claim", "shift:=3", "--sub", "job-9",
    ]);
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg, kid: gen.kid });
    const { payload } = await jwtVerify(token, await importSPKI(readFileSync(gen.files.publicKey, "utf8"), alg), {
      issuer: "inventory",
      audience: "target-aud",
    });
    expect(payload).toMatchObject({ sub: "job-9", roles: ["stock_writer", "reader"], site: "berlin", shift: 3 });
    expect(payload.exp! - payload.iat!).toBe(60);
  });

  it("--json reports the kid and expiry; --expires-in is honoured", () => {
    const dir = tempDir();
    const gen = JSON.parse(keygen(dir, "svc", ["--json"]).stdout);
    const r = fedjwt(["mint", "--issuer", "svc", "--key", gen.files.privateKey, "--audience", "a", "--expires-in", "2m", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ issuer: "svc", kid: gen.kid, alg: "ES256" });
    const ttl = Date.parse(out.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
  });

  it.each([
    [(_k: string) => ["mint", "--issuer", "svc", "--audience", "a"], /--key is required/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k], /--audience is required/],
    [(k: string) => ["mint", "--key", k, "--audience", "a"], /--issuer is required/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", `${k}.missing`, "--audience", "a"], /cannot read key file .*: no such file/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k.replace(/\.key$/, ".pub"), "--audience", "a"], /expected a private key/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k, "--audience", "a", "--alg", "RS256"], /is a ES256 key, not RS256/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k, "--audience", "a", "--alg", "none"], /--alg "none" is not one of/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k, "--audience", "a", "--expires-in", "10m"], /over 300s.*\[lifetime_too_long\]/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k, "--audience", "a", "--expires-in", "soon"], /\[lifetime_invalid\]/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k, "--audience", "a", "--claim", "role=service_role"], /claim "role" is reserved.*\[claim_reserved\]/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k, "--audience", "a", "--claim", "novalue"], /is not key=value/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k, "--audience", "a", "--claim", "n:={"], /not JSON/],
    [(k: string) => ["mint", "--issuer", "svc", "--key", k, "--audience", "a", "--role", "bad role"], /\[roles_invalid\]/],
  ])("bad input %# → exit 2, one line", (args, pattern) => {
    const dir = tempDir();
    const gen = JSON.parse(keygen(dir, "svc", ["--json"]).stdout);
    expectOneLineRefusal(fedjwt(args(gen.files.privateKey)), pattern);
  });

  it("a file that is not a key → exit 2, one line, and the file's text is not echoed", () => {
    const dir = tempDir();
    const file = join(dir, "junk.key");
    writeFileSync(file, "supersecretgarbage");
    const r = fedjwt(["mint", "--issuer", "svc", "--key", file, "--audience", "a"]);
    expectOneLineRefusal(r, /junk\.key: expected a PRIVATE KEY PEM block/);
    expect(r.stderr).not.toContain("supersecretgarbage");
  });
});

describe("jwks", () => {
  it("builds a JWKS that verifies tokens from each key", async () => {
    const dir = tempDir();
    const a = JSON.parse(keygen(dir, "writer-a", ["--json"]).stdout);
    const b = JSON.parse(keygen(dir, "writer-b", ["--alg", "EdDSA", "--json"]).stdout);
    const r = fedjwt(["jwks", a.files.publicKey, b.files.jwk]);
    expect(r.code).toBe(0);
    const set = JSON.parse(r.stdout);
    expect(set.keys.map((k: { kid: string }) => k.kid)).toEqual([a.kid, b.kid]);
    for (const gen of [a, b]) {
      const token = fedjwt(["mint", "--issuer", gen.issuer, "--key", gen.files.privateKey, "--audience", "x"]).stdout.trim();
      await expect(jwtVerify(token, createLocalJWKSet(set))).resolves.toBeTruthy();
    }
  });

  it("writes --out and refuses to overwrite it", () => {
    const dir = tempDir();
    const a = JSON.parse(keygen(dir, "writer-a", ["--json"]).stdout);
    const out = join(dir, "jwks.json");
    const r = fedjwt(["jwks", a.files.publicKey, "--out", out, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ file: out, kids: [a.kid] });
    expect(JSON.parse(readFileSync(out, "utf8")).keys).toHaveLength(1);
    expectOneLineRefusal(fedjwt(["jwks", a.files.publicKey, "--out", out]), /already exists/);
  });

  it.each([
    [(_d: string, g: { files: { privateKey: string } }) => ["jwks", g.files.privateKey], /\.key: expected a public key/],
    [(_d: string) => ["jwks"], /at least one public key file/],
    [(d: string) => ["jwks", join(d, "missing.pub")], /no such file/],
    [(_d: string, g: { files: { publicKey: string; jwk: string } }) => ["jwks", g.files.publicKey, g.files.jwk], /appears twice/],
  ])("bad input %# → exit 2, one line", (args, pattern) => {
    const dir = tempDir();
    const gen = JSON.parse(keygen(dir, "svc", ["--json"]).stdout);
    expectOneLineRefusal(fedjwt(args(dir, gen)), pattern);
  });
});

describe("register refuses what can never be a writer, before reaching the project", () => {
  // No --url/--service-role-key and an unreachable SUPABASE_URL: a refusal here comes from the CLI itself.
  const offline = { SUPABASE_URL: "http://127.0.0.1:9", SUPABASE_SERVICE_ROLE_KEY: "unused" };
  it.each([
    [["--db-role", "authenticated"], /--db-role "authenticated" is refused: writers run as federated_writer/],
    [["--db-role", "anon"], /--db-role "anon" is refused/],
    [["--db-role", "service_role"], /--db-role "service_role" is refused/],
    [["--db-role", "supabase_auth_admin"], /--db-role "supabase_auth_admin" is refused/],
    [["--db-role", "pg_read_all_data"], /--db-role "pg_read_all_data" is refused/],
  ])("register %j → exit 2, one line", (flags, pattern) => {
    const dir = tempDir();
    const gen = JSON.parse(keygen(dir, "svc", ["--json"]).stdout);
    expectOneLineRefusal(fedjwt(["register", "--issuer", "svc", "--public-key", gen.files.publicKey, ...flags], { env: offline }), pattern);
  });

  it.each(["supabase", "supabase-demo", "my-supabase"])("register --issuer %s → exit 2, one line", (issuer) => {
    const dir = tempDir();
    const gen = JSON.parse(keygen(dir, "svc", ["--json"]).stdout);
    expectOneLineRefusal(fedjwt(["register", "--issuer", issuer, "--public-key", gen.files.publicKey], { env: offline }), /names containing "supabase"/);
  });
});

describe("help and dispatch", () => {
  it.each(["keygen", "mint", "jwks"])("%s --help exits 0 and documents every flag it parses", (cmd) => {
    const r = fedjwt([cmd, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: fedjwt ${cmd}`));
  });

  it("top-level help lists only commands that exist", () => {
    const r = fedjwt(["--help"]);
    expect(r.code).toBe(0);
    const listed = [...r.stdout.matchAll(/^ {2}([a-z]+) {2}/gm)].map((m) => m[1]);
    expect(listed).toEqual(["keygen", "mint", "jwks", "register", "list", "deactivate", "rotate"]);
    for (const cmd of listed) expect(fedjwt([cmd!, "--help"]).code).toBe(0);
  });

  it("an unknown command → exit 2, one line", () => {
    expectOneLineRefusal(fedjwt(["frobnicate"]), /unknown command "frobnicate"/);
  });
});

describe("flag values that start with a dash (one kid in 64 does)", () => {
  it("mint --kid -abc puts the kid in the header", () => {
    const dir = tempDir();
    const gen = JSON.parse(keygen(dir, "svc", ["--json"]).stdout);
    const r = fedjwt(["mint", "--issuer", "svc", "--key", gen.files.privateKey, "--audience", "a", "--kid", "-abc_DEF"]);
    expect(r.code).toBe(0);
    expect(decodeProtectedHeader(r.stdout.trim()).kid).toBe("-abc_DEF");
  });

  it("a flag followed by another flag still reports the missing value", () => {
    expectOneLineRefusal(fedjwt(["mint", "--issuer", "--key", "x", "--audience", "a"]), /--issuer|argument/);
  });

  it("joinDashValues only joins string flags, and never swallows a real flag", async () => {
    const { joinDashValues } = await import("../src/args.ts");
    const options = { kid: { type: "string" }, force: { type: "boolean" }, issuer: { type: "string" } } as const;
    expect(joinDashValues(["--kid", "-x1"], options)).toEqual(["--kid=-x1"]);
    expect(joinDashValues(["--kid", "--issuer", "a"], options)).toEqual(["--kid", "--issuer", "a"]);
    expect(joinDashValues(["--force", "-x"], options)).toEqual(["--force", "-x"]);
    expect(joinDashValues(["--kid=-y"], options)).toEqual(["--kid=-y"]);
  });
});

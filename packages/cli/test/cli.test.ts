import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { CLI_CODES, CliError } from "../src/errors.ts";
import { COMMANDS } from "../src/main.ts";
import { parseFlags } from "../src/spec.ts";
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
    [["keygen", "--issuer", "supabase", "--target", TARGET], /--issuer "supabase" is refused: names containing "supabase"/],
    [["keygen", "--issuer", "supabase-x", "--target", TARGET], /--issuer "supabase-x" is refused: names containing "supabase"/],
    [["keygen", "--issuer", "my-supabase", "--target", TARGET], /--issuer "my-supabase" is refused: names containing "supabase"/],
    [["keygen", "--issuer", "svc", "--target", TARGET, "--alg", "HS256"], /--alg "HS256" is not one of ES256, RS256, EdDSA/],
    [["keygen", "--issuer", "svc", "--target", "http://"], /neither a URL nor a plain name/],
    [["keygen", "--issuer", "svc", "--target", TARGET, "--bogus"], /Unknown option '--bogus'/],
  ])("bad input %j → exit 2, one line", (args, pattern) => {
    expectOneLineRefusal(fedjwt([...args, "--out", tempDir()]), pattern);
  });

  it("refuses a platform-like issuer as register does, and writes no file", () => {
    const dir = tempDir();
    const r = keygen(dir, "supabase-x");
    expectOneLineRefusal(
      r,
      /^fedjwt keygen: --issuer "supabase-x" is refused: names containing "supabase" could pass for the platform's own tokens$/,
    );
    expect(readdirSync(dir)).toEqual([]);
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
      "mint",
      "--issuer",
      "inventory",
      "--key",
      gen.files.privateKey,
      "--audience",
      "target-aud",
      "--role",
      "stock_writer",
      "--role",
      "reader",
      "--claim",
      "site=berlin",
      "--claim",
      "shift:=3",
      "--sub",
      "job-9",
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

  it("--expires-in 1h is accepted with --allow-long-lifetime, as its help says", () => {
    const gen = JSON.parse(keygen(tempDir(), "svc", ["--json"]).stdout);
    const r = fedjwt([
      "mint",
      "--issuer",
      "svc",
      "--key",
      gen.files.privateKey,
      "--audience",
      "a",
      "--expires-in",
      "1h",
      "--allow-long-lifetime",
    ]);
    expect(r.code).toBe(0);
    const payload = decodeJwt(r.stdout.trim());
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(fedjwt(["mint", "--help"]).stdout).toContain("60s / 5m / 1h");
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
    [
      (k: string) => ["mint", "--issuer", "svc", "--key", k, "--audience", "a", "--claim", "role=service_role"],
      /claim "role" is reserved.*\[claim_reserved\]/,
    ],
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
    expectOneLineRefusal(
      fedjwt(["register", "--issuer", issuer, "--public-key", gen.files.publicKey], { env: offline }),
      /names containing "supabase"/,
    );
  });
});

describe("the service key, from the flag or the environment", () => {
  it("no key at all → exit 2 naming the flag and both variables", () => {
    const env = { SUPABASE_URL: "http://127.0.0.1:9", SUPABASE_SERVICE_ROLE_KEY: "", SUPABASE_SECRET_KEY: "" };
    expectOneLineRefusal(
      fedjwt(["list"], { env }),
      /^fedjwt list: --service-role-key \(or SUPABASE_SERVICE_ROLE_KEY or SUPABASE_SECRET_KEY\) is required/,
    );
  });

  it("an empty SUPABASE_SERVICE_ROLE_KEY does not hide SUPABASE_SECRET_KEY", () => {
    const r = fedjwt(["list"], {
      env: { SUPABASE_URL: "http://127.0.0.1:9", SUPABASE_SERVICE_ROLE_KEY: "", SUPABASE_SECRET_KEY: "sb_secret_x" },
    });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/cannot reach http:\/\/127\.0\.0\.1:9/),
    });
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
    expect(listed).toEqual([
      "keygen",
      "mint",
      "jwks",
      "register",
      "policy",
      "list",
      "deactivate",
      "rotate",
      "trust",
      "untrust",
      "doctor",
      "adopt",
      "audit",
    ]);
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

  it("rotate and register take a .jwk.json's own kid, else the thumbprint, as their help says", async () => {
    const { keyFromFlags } = await import("../src/commands/register.ts");
    const gen = JSON.parse(keygen(tempDir(), "svc", ["--json"]).stdout);
    const own = join(tempDir(), "own.jwk.json");
    writeFileSync(own, JSON.stringify({ ...JSON.parse(readFileSync(gen.files.jwk, "utf8")), kid: "my-own-kid" }));
    expect((await keyFromFlags({ "public-key": own }, "svc")).kid).toBe("my-own-kid");
    expect((await keyFromFlags({ "public-key": gen.files.publicKey }, "svc")).kid).toBe(gen.kid);
    expect(fedjwt(["rotate", "--help"]).stdout).toMatch(
      /--kid <kid> +the new key's id \(default: the JWK's kid, else its RFC 7638 thumbprint\)/,
    );
  });

  it.each([
    [["--retire", "old", "--kid", "k2"], /--kid and --alg describe a new key/],
    [["--retire", "old", "--alg", "ES256"], /--kid and --alg describe a new key/],
    [["--public-key", "x.pub", "--force"], /--force applies to --retire only/],
  ])("rotate %j: a flag the action would ignore → exit 2, one line, before reaching the project", (args, pattern) => {
    expectOneLineRefusal(
      fedjwt(["rotate", "--issuer", "svc", ...args, "--url", "http://127.0.0.1:9", "--service-role-key", "sb_secret_x"]),
      pattern,
    );
  });

  it("rotate --retire -abc takes -abc as the kid (it reaches the registry, not the parser)", () => {
    const r = fedjwt(["rotate", "--issuer", "svc", "--retire", "-abc", "--url", "http://127.0.0.1:9", "--service-role-key", "sb_secret_x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});

describe("the command specs: one source for parsing and help", () => {
  const spec = {
    name: "t",
    flags: {
      kid: { type: "string", value: "<kid>", description: "k" },
      force: { type: "boolean", description: "f" },
      issuer: { type: "string", value: "<name>", required: true, description: "i" },
      role: { type: "string", value: "<role>", multiple: true, default: [], description: "r" },
    },
  } as const;
  const refusal = (argv: string[]) => {
    try {
      parseFlags(spec, argv);
    } catch (e) {
      return { code: (e as CliError).code, message: (e as CliError).message };
    }
    return undefined;
  };

  it("a string flag takes the next argument even when it starts with a dash", () => {
    expect(parseFlags(spec, ["--issuer", "a", "--kid", "-x1"]).values).toEqual({ issuer: "a", kid: "-x1", role: [] });
    expect(parseFlags(spec, ["--kid", "-abc", "--force", "--issuer", "-i"]).values).toEqual({
      kid: "-abc",
      force: true,
      issuer: "-i",
      role: [],
    });
    expect(parseFlags(spec, ["--kid=-y", "--issuer=a", "--role", "-r", "--role", "b"]).values).toEqual({
      kid: "-y",
      issuer: "a",
      role: ["-r", "b"],
    });
  });

  it.each([
    [["--kid", "--issuer", "a"], /^Option '--kid <kid>' argument missing/],
    [["--issuer", "a", "--kid", "-h"], /^Option '--kid <kid>' argument missing/],
    [["--issuer", "a", "--kid"], /^Option '--kid <kid>' argument missing/],
    [["--issuer", "a", "--bogus"], /^Unknown option '--bogus'/],
    [["--issuer", "a", "-k"], /^Unknown option '-k'/],
    [["--issuer", "a", "--force=yes"], /^Option '--force' does not take an argument/],
    [["--issuer", "a", "stray"], /^Unexpected argument 'stray'/],
    [["--kid", "k"], /^--issuer is required/],
    [["--issuer", " "], /^--issuer is required/],
  ])("%j is refused as bad_arguments", (argv, pattern) => {
    const r = refusal(argv);
    expect(r?.code).toBe("bad_arguments");
    expect(r?.message).toMatch(pattern);
    expect(r?.message).toMatch(/\(see: fedjwt t --help\)$/);
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))("%s --help lists every flag the parser accepts, and only those", (name, command) => {
    const r = fedjwt([name, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd()).toBe(command.help());
    const documented = [...r.stdout.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]!);
    expect(documented.sort()).toEqual(Object.keys(command.flags).sort());
    // Each documented flag parses (with a value when it takes one); an undocumented one does not.
    for (const flag of documented) {
      const argv = command.flags[flag]!.type === "string" ? [`--${flag}`, "-x"] : [`--${flag}`];
      expect(() => parseFlags({ name, flags: command.flags, positionals: command.positionals }, argv)).not.toThrow(
        /Unknown option|argument missing/,
      );
    }
    expect(fedjwt([name, "--definitely-not-a-flag"]).stderr).toMatch(/Unknown option '--definitely-not-a-flag'/);
    expect(documented.length).toBeGreaterThan(0);
  });
});

describe("typed errors", () => {
  it("CliError keeps the CLI's code apart from the project's status and code", () => {
    const e = new CliError("request_refused", "POST jwt_issuers failed", {
      status: 409,
      upstreamCode: "23505",
      upstreamMessage: "duplicate key",
    });
    expect({ code: e.code, exitCode: e.exitCode, status: e.status, upstreamCode: e.upstreamCode }).toEqual({
      code: "request_refused",
      exitCode: 2,
      status: 409,
      upstreamCode: "23505",
    });
    expect(CLI_CODES).toContain(e.code);
    expect(new CliError("unreachable", "x", 1).exitCode).toBe(1);
  });

  it("the registry client reports PostgREST's status and code in their own fields", async () => {
    const { RegistryClient } = await import("../src/registry-client.ts");
    const answer = (status: number, body: unknown) => () => Promise.resolve(new Response(JSON.stringify(body), { status }));
    const failure = (status: number, body: unknown) => {
      const client = new RegistryClient("http://project.test", "sb_secret_x", answer(status, body) as typeof fetch);
      return client.request("GET", "jwt_issuers").then(
        () => undefined,
        (e: CliError) => ({ code: e.code, exitCode: e.exitCode, status: e.status, upstreamCode: e.upstreamCode }),
      );
    };
    expect(await failure(409, { code: "23505", message: "duplicate key value" })).toEqual({
      code: "request_refused",
      exitCode: 2,
      status: 409,
      upstreamCode: "23505",
    });
    expect(await failure(404, { code: "PGRST205", message: "Could not find the table" })).toEqual({
      code: "registry_missing",
      exitCode: 1,
      status: 404,
      upstreamCode: "PGRST205",
    });
    const refused = await new RegistryClient("http://project.test", "sb_secret_x", answer(401, {}) as typeof fetch)
      .request("GET", "jwt_issuers")
      .catch((e: CliError) => e.message);
    expect(refused).toMatch(/check --service-role-key \/ SUPABASE_SERVICE_ROLE_KEY \/ SUPABASE_SECRET_KEY$/);
    const missing = await new RegistryClient("http://project.test", "sb_secret_x", answer(404, { code: "PGRST205" }) as typeof fetch)
      .request("GET", "jwt_issuers")
      .catch((e: CliError) => e.message);
    expect(missing).toMatch(
      /has no key registry: run fedjwt adopt <project> \(unless it is this template\), then supabase db push --remote$/,
    );
    expect(await failure(401, { message: "Invalid API key" })).toEqual({
      code: "key_refused",
      exitCode: 2,
      status: 401,
      upstreamCode: undefined,
    });
    expect(await failure(500, { code: "XX000", message: "boom" })).toEqual({
      code: "upstream_failed",
      exitCode: 1,
      status: 500,
      upstreamCode: "XX000",
    });
  });
});

describe("doctor, on answers the local stack cannot give", () => {
  const answering = (status: number, body: unknown) => () =>
    Promise.resolve(new Response(JSON.stringify(body), { status, headers: { date: new Date().toUTCString() } }));

  it.each([
    [401, { message: "Invalid API key" }, /refused the apikey/, /--anon-key/],
    [401, { code: 401, message: "Missing authorization header" }, /verify_jwt is on/, /verify_jwt = false/],
    [502, { message: "Bad gateway" }, /answered HTTP 502/, /function's logs/],
  ])("%i %j → function check fails with its fix", async (status, body, message, fix) => {
    const { doctor } = await import("../src/doctor.ts");
    const report = await doctor({
      url: "https://project.test",
      anonKey: "sb_publishable_x",
      fetch: answering(status, body) as typeof fetch,
    });
    const fn = report.checks.find((c) => c.id === "function")!;
    expect({ ok: report.ok, status: fn.status, http: fn.http?.status }).toEqual({ ok: false, status: "fail", http: status });
    expect(fn.message).toMatch(message);
    expect(fn.fix).toMatch(fix);
  });
});

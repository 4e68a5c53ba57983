// Adoption, as a user with an existing Supabase project follows the README: `supabase init` + a `profiles`
// migration that references auth.users → `fedjwt adopt --dry-run`, then adopted by an earlier release (its own
// fedjwt adopt, from this repository's history: before adopt recorded a manifest) and upgraded in one run by
// `fedjwt adopt` (the bundled fedjwt.mjs, run from outside the template) → the README's step-5 policies migration → `supabase db push --remote=<url> --yes` to a fresh
// database → the files `supabase functions deploy rest --use-api` would upload (listed offline) copied alone
// into an empty folder → `deno check` there → served with a signing key from `supabase gen signing-key` → a
// writer's request succeeds through the copied function, and the user's profiles stay out of its reach.
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oldRelease, PRE_MANIFEST_RELEASE } from "../../../packages/cli/test/old-release.ts";
import {
  bootstrapSupabase,
  denoBinary,
  denoNetworkEnv,
  freePort,
  listDeployAssets,
  LOCAL_ANON_KEY,
  LOCAL_JWT_SECRET,
  LOCAL_PUBLISHABLE_KEY,
  LOCAL_SECRET_KEY,
  LOCAL_SERVICE_ROLE_KEY,
  repoRoot,
  runAdvisorLints,
  runSupabaseCli,
  serveDeno,
  startGateway,
  startPostgres,
  startPostgrestStandIn,
  type DenoServer,
  type RunningPostgres,
  type RunningStandIn,
} from "@fedjwt/local-stack";

const ROOT = repoRoot();
/** The template's migrations a project adopts without --examples. */
const migrationsOf = (names: string[]) => names.filter((f) => f.endsWith(".sql") && !f.includes("_example_")).sort();
const TEMPLATE_MIGRATIONS = migrationsOf(readdirSync(join(ROOT, "supabase", "migrations")));
const BUNDLE = fileURLToPath(new URL("../../../packages/cli/dist/fedjwt.mjs", import.meta.url));
const PROFILE_ID = "0b7f3f3c-5d0e-4a8e-9f61-2f1f0c7d9a11";
/** The user's policies migration, written after adopting (adopt stamps its migrations after 20270101120000). */
const NOTES_VERSION = "20290101000000";
const PROFILES_MIGRATION = `create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text not null
);
alter table public.profiles enable row level security;
create policy "profiles are their owner's" on public.profiles
  for all to authenticated
  using ((select auth.uid()) = id) with check ((select auth.uid()) = id);
`;

/** The SQL block of the README's adoption step 5 ("Policies"): pushed verbatim as the project's next migration. */
function readmePoliciesMigration(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const step = readme.slice(readme.indexOf("5. **Policies.**"), readme.indexOf("## What a writer can"));
  const block = /```sql\n([\s\S]*?)```/.exec(step);
  if (!block) throw new Error("the README's adoption step 5 has no ```sql block");
  return block[1]!.replace(/^ {3}/gm, "");
}

/** Runs a command to completion, asynchronously (the database and servers of this file keep running). */
function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("adopting the template into an existing Supabase project", () => {
  const work = mkdtempSync(join(tmpdir(), "fedjwt-adopt-"));
  const project = join(work, "my-app");
  const assets = join(work, "uploaded");
  const cliDir = join(work, "cli");
  const dbParent = mkdtempSync(join(tmpdir(), "fedjwt-adopt-db-")); // apart: the postgres OS user must reach it
  const fedjwt = (args: string[]) => run(process.execPath, [join(cliDir, "fedjwt.mjs"), ...args], { cwd: project });
  let db: RunningPostgres | undefined;
  let rest: RunningStandIn | undefined;
  let gateway: { url: string; close(): Promise<void> } | undefined;
  let fn: DenoServer | undefined;
  let fnOutput = "";
  /** The plan of a first adoption (--dry-run), the earlier release's adoption, then the upgrade to this one. */
  let first: { next: string[] };
  let byOldRelease: { migrations: Array<{ template: string; file: string }> };
  let oldMigrations: string[] = [];
  let adopted: {
    adoption: string;
    changed: boolean;
    files: Array<{ path: string; status: string; why: string }>;
    migrations: Array<{ template: string; file: string; status: string }>;
    next: string[];
  };
  let uploaded: string[] = [];
  let signingKey: Record<string, unknown>;
  let apiUrl = "";

  beforeAll(async () => {
    // A project as `supabase init` makes it, in its own git repository, with a migration of its own.
    mkdirSync(project, { recursive: true });
    expect(spawnSync("git", ["init", "-q"], { cwd: project }).status).toBe(0);
    const init = await runSupabaseCli(["init", "--yes"], { cwd: project });
    expect(init.code, init.stderr).toBe(0);
    mkdirSync(join(project, "supabase", "migrations"), { recursive: true });
    writeFileSync(join(project, "supabase", "migrations", "20270101120000_profiles.sql"), PROFILES_MIGRATION);

    // fedjwt.mjs copied alone, as a user would download or copy it.
    mkdirSync(cliDir);
    copyFileSync(BUNDLE, join(cliDir, "fedjwt.mjs"));
    // What a first adoption would do, planned and not written.
    const plan = await fedjwt(["adopt", ".", "--template", ROOT, "--dry-run", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    first = JSON.parse(plan.stdout);
    expect(readdirSync(join(project, "supabase", "migrations"))).toEqual(["20270101120000_profiles.sql"]); // nothing written
    // Adopted first by an earlier release, with its own fedjwt adopt (it recorded no manifest), then upgraded to
    // this one in one run, as docs/upgrading.md says.
    const old = await oldRelease();
    oldMigrations = migrationsOf(readdirSync(join(old.dir, "supabase", "migrations")));
    const r0 = await run(process.execPath, [old.cli, "adopt", ".", "--template", old.dir, "--json"], { cwd: project });
    expect(r0.code, r0.stderr).toBe(0);
    byOldRelease = JSON.parse(r0.stdout);
    const r = await fedjwt(["adopt", ".", "--template", ROOT, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    adopted = JSON.parse(r.stdout);
    // Then the user's own policies, as the README's step 5 writes them, in a later migration.
    writeFileSync(join(project, "supabase", "migrations", `${NOTES_VERSION}_service_notes.sql`), readmePoliciesMigration());
  }, 120_000);

  afterAll(async () => {
    await fn?.stop();
    await gateway?.close();
    await rest?.close();
    await db?.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(dbParent, { recursive: true, force: true });
  });

  it("the deployment guide runs the commands adopt prints; the README's adoption section the adopt command", () => {
    const shellLines = (text: string) =>
      [...text.matchAll(/```sh\n([\s\S]*?)```/g)]
        .flatMap((m) => m[1]!.replace(/\\\n\s*/g, "").split("\n")) // a line ending in \ goes on with the next
        .map((l) => l.replace(/\s+#.*$/, "").trim())
        .filter((l) => l && !l.startsWith("#"));
    const deployment = readFileSync(join(ROOT, "docs", "deployment.md"), "utf8");
    const steps = deployment.slice(0, deployment.indexOf("\nNotes:"));
    for (const command of first.next) expect(shellLines(steps), command).toContain(command);
    expect(steps).toContain("--include-all");
    expect(steps).toContain("--yes");
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Adopting it in an existing project"), readme.indexOf("## What a writer can"));
    expect(shellLines(section).some((l) => /fedjwt\.mjs adopt <your project>$/.test(l))).toBe(true);
    expect(section).toContain("(docs/deployment.md)");
  });

  it(`the adoption ${PRE_MANIFEST_RELEASE.slice(0, 7)} made before manifests was upgraded in one run: every file updated as an unedited earlier release's, the newer migrations added after the others`, () => {
    expect(adopted.adoption).toBe("pre-manifest");
    const status = Object.fromEntries(adopted.files.map((f) => [f.path, f.status]));
    expect(status["supabase/functions/_shared/fedjwt/proxy/handler.ts"]).toBe("update");
    const updated = adopted.files.filter((f) => f.status === "update");
    expect(updated.every((f) => f.why.startsWith("an earlier release's version, unedited"))).toBe(true);
    expect(readFileSync(join(project, "supabase/functions/_shared/fedjwt/proxy/handler.ts"), "utf8")).toBe(
      readFileSync(join(ROOT, "packages/proxy/src/handler.ts"), "utf8"),
    );
    const added = adopted.migrations.filter((m) => m.status === "create");
    expect(added.map((m) => m.template)).toEqual(TEMPLATE_MIGRATIONS.filter((t) => !oldMigrations.includes(t)));
    expect(added.length).toBeGreaterThan(0);
    expect(adopted.migrations.filter((m) => m.status === "unchanged").map((m) => m.file)).toEqual(
      byOldRelease.migrations.map((m) => m.file),
    );
    expect(added[0]!.file > byOldRelease.migrations.at(-1)!.file).toBe(true);
    expect(adopted.changed).toBe(true);
    expect(adopted.next).toEqual(["supabase db push --remote", "supabase functions deploy rest --use-api"]);
    expect(JSON.parse(readFileSync(join(project, "supabase/fedjwt-adopted.json"), "utf8")).function).toBe("rest");
  });

  it("supabase db push --remote applies the project's and the adopted migrations to a fresh Supabase database", async () => {
    db = await startPostgres({ dataDir: join(dbParent, "pg"), port: await freePort() });
    await bootstrapSupabase(db.url); // roles, schemas and the auth tables (auth.users, …) every project has
    const push = await runSupabaseCli(["db", "push", `--remote=${db.url}`, "--yes"], { cwd: project });
    expect(push.code, `${push.stdout}\n${push.stderr}`).toBe(0);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ version: string }>("select version from supabase_migrations.schema_migrations order by version");
      expect(rows.map((x) => x.version)).toEqual(["20270101120000", ...adopted.migrations.map((m) => m.file.slice(0, 14)), NOTES_VERSION]);
      expect(adopted.migrations.every((m) => m.file.slice(0, 14) < NOTES_VERSION)).toBe(true);
      expect(adopted.migrations.some((m) => /example/.test(m.file))).toBe(false); // no --examples, as in the README
      await c.query("insert into auth.users (id, email, aud, role) values ($1, 'owner@example.com', 'authenticated', 'authenticated')", [
        PROFILE_ID,
      ]);
      await c.query("insert into public.profiles (id, username) values ($1, 'owner')", [PROFILE_ID]);
      // Our advisor lints (the Security/Performance Advisor checks, re-implemented) on the adopted project:
      // nothing at ERROR or WARN level.
      const lints = await runAdvisorLints(c);
      expect(lints.filter((l) => l.level !== "INFO").map((l) => `${l.level} ${l.name}: ${l.detail}`)).toEqual([]);
    } finally {
      await c.end();
    }
  });

  it("the offline deploy listing uploads exactly the adopted function files, and they type-check alone", async () => {
    // The real CLI run offline (dummy token, dead proxy): it lists its uploads, then fails to connect.
    uploaded = await listDeployAssets(project, "rest");
    expect(uploaded.sort()).toEqual(
      adopted.files
        .filter((f) => f.status !== "remove")
        .map((f) => f.path)
        .sort(),
    );
    for (const path of uploaded) {
      mkdirSync(dirname(join(assets, path)), { recursive: true });
      copyFileSync(join(project, path), join(assets, path));
    }
    const fnDir = join(assets, "supabase", "functions", "rest");
    const check = await run(denoBinary(), ["check", "--quiet", "--config", join(fnDir, "deno.json"), join(fnDir, "index.ts")], {
      cwd: assets,
      env: { ...process.env, ...denoNetworkEnv(), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    expect(check.code, check.stderr).toBe(0);
  });

  it("adopt's signing-key step, run as printed with the pinned CLI, writes a private JWK only its owner can read", async () => {
    const step = first.next.find((c) => c.includes("gen signing-key"))!;
    const env = {
      ...process.env,
      PATH: `${join(ROOT, "tooling", "local-db", "node_modules", ".bin")}:${process.env.PATH}`,
      SUPABASE_TELEMETRY_DISABLED: "1",
      DO_NOT_TRACK: "1",
    };
    const sh = await run("sh", ["-c", `umask 022; ${step}`], { cwd: project, env });
    expect(sh.code, sh.stderr).toBe(0);
    const file = join(project, "keys", "supabase-signing-key.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    signingKey = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    expect(signingKey).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", key_ops: ["sign", "verify"] });
    expect(typeof signingKey.d).toBe("string");
    // Run again, the step refuses to overwrite the key already made (and perhaps imported): the file is unchanged.
    const again = await run("sh", ["-c", step], { cwd: project, env });
    expect(again.code).not.toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(signingKey);
  });

  it("a writer's request through the copied function, signed for PostgREST with that key, succeeds", async () => {
    expect(db && uploaded.length > 0 && signingKey, "needs the steps above").toBeTruthy();
    const { d: _d, key_ops: _ops, ext: _ext, ...publicJwk } = signingKey;
    // PostgREST trusts the project's signing keys (and the legacy secret, for the platform's own keys).
    rest = await startPostgrestStandIn({
      dbUrl: db!.url.replace("postgres:postgres@", "authenticator:postgres@"),
      jwtSecret: LOCAL_JWT_SECRET,
      jwks: { keys: [publicJwk] },
    });
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    const fnDir = join(assets, "supabase", "functions", "rest");
    // Only what the platform gives a function plus the two custom secrets: no legacy JWT secret at all.
    fn = await serveDeno({
      entrypoint: join(fnDir, "index.ts"),
      config: join(fnDir, "deno.json"),
      cwd: assets,
      timeoutMs: 90_000,
      onOutput: (text) => (fnOutput += text),
      env: {
        SUPABASE_URL: apiUrl,
        SUPABASE_ANON_KEY: LOCAL_ANON_KEY,
        SUPABASE_SERVICE_ROLE_KEY: LOCAL_SERVICE_ROLE_KEY,
        SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: LOCAL_PUBLISHABLE_KEY }),
        SUPABASE_SECRET_KEYS: JSON.stringify({ default: LOCAL_SECRET_KEY }),
        FEDJWT_AUDIENCE: apiUrl,
        FEDJWT_SIGNING_JWK: JSON.stringify(signingKey),
      },
    });
    gateway = await startGateway({
      port: apiPort,
      jwtSecret: LOCAL_JWT_SECRET,
      routes: { rest: rest.url, functions: new Map([["rest", { url: fn.url, verifyJwt: false }]]) },
    });

    const keys = join(project, "keys");
    const gen = await fedjwt(["keygen", "--issuer", "adopted-writer", "--target", apiUrl, "--out", keys, "--json"]);
    expect(gen.code, gen.stderr).toBe(0);
    const files = JSON.parse(gen.stdout).files as { privateKey: string; publicKey: string };
    const reg = await fedjwt([
      "register",
      "--issuer",
      "adopted-writer",
      "--public-key",
      files.publicKey,
      "--db-role",
      "notes_service",
      "--allowed-role",
      "notes_writer",
      "--url",
      apiUrl,
      "--service-role-key",
      LOCAL_SERVICE_ROLE_KEY,
    ]);
    expect(reg.code, reg.stderr).toBe(0);
    const minted = await fedjwt([
      "mint",
      "--issuer",
      "adopted-writer",
      "--key",
      files.privateKey,
      "--audience",
      apiUrl,
      "--role",
      "notes_writer",
    ]);
    expect(minted.code, minted.stderr).toBe(0);
    const token = minted.stdout.trim();

    const res = await fetch(`${apiUrl}/functions/v1/rest/service_notes`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", prefer: "return=representation" },
      body: JSON.stringify({ body: "from an adopted project" }),
    });
    const text = await res.text();
    expect(res.status, `${text}\n${fnOutput}`).toBe(201);
    expect(JSON.parse(text)).toMatchObject([{ body: "from an adopted project", writer_issuer: "adopted-writer" }]);

    // The user's profiles: not readable, not changeable, not deletable by the writer.
    const asWriter = (method: string, path: string, body?: unknown) =>
      fetch(`${apiUrl}/functions/v1/rest/${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", prefer: "return=representation" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }).then(async (r) => ({ status: r.status, body: await r.text() }));
    // Its own notes: readable. A column the README's grant leaves out: refused.
    const mine = await asWriter("GET", "service_notes?select=body,writer_issuer");
    expect({ status: mine.status, rows: JSON.parse(mine.body) }).toEqual({
      status: 200,
      rows: [{ body: "from an adopted project", writer_issuer: "adopted-writer" }],
    });
    const forged = await asWriter("POST", "service_notes", { body: "forged", writer_issuer: "someone-else" });
    expect({ status: forged.status, code: JSON.parse(forged.body).code }).toEqual({ status: 403, code: "42501" });
    const refused = (r: { status: number; body: string }) => ({ status: r.status, code: (JSON.parse(r.body) as { code?: string }).code });
    expect(refused(await asWriter("GET", "profiles?select=*"))).toEqual({ status: 403, code: "42501" });
    expect(refused(await asWriter("PATCH", `profiles?id=eq.${PROFILE_ID}`, { username: "taken" }))).toEqual({ status: 403, code: "42501" });
    expect(refused(await asWriter("DELETE", `profiles?id=eq.${PROFILE_ID}`))).toEqual({ status: 403, code: "42501" });
    const c = new pg.Client({ connectionString: db!.url });
    await c.connect();
    try {
      expect((await c.query("select id, username from public.profiles")).rows).toEqual([{ id: PROFILE_ID, username: "owner" }]);
    } finally {
      await c.end();
    }
  });
});

describe("packages/signer and packages/proxy copied into someone else's pnpm workspace", () => {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  /** pnpm as this suite was started with (turbo under pnpm), else the one on PATH. */
  const pnpm = (args: string[], cwd: string) => {
    const execpath = process.env.npm_execpath;
    const [cmd, pre] = execpath && /pnpm/.test(execpath) ? [process.execPath, [execpath]] : ["pnpm", []];
    return run(cmd, [...pre, ...args], { cwd, env: { ...process.env, CI: "1" } });
  };
  const workspace = (extraDevDependency?: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), "fedjwt-foreign-"));
    made.push(dir);
    writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: "someone-else", private: true })}\n`);
    writeFileSync(join(dir, "pnpm-workspace.yaml"), 'packages:\n  - "packages/*"\n');
    for (const name of ["signer", "proxy"]) {
      cpSync(join(ROOT, "packages", name), join(dir, "packages", name), {
        recursive: true,
        filter: (src) => !/[/\\](node_modules|dist|test)$/.test(src),
      });
    }
    if (extraDevDependency) {
      const file = join(dir, "packages", "proxy", "package.json");
      const manifest = JSON.parse(readFileSync(file, "utf8"));
      manifest.devDependencies = { ...manifest.devDependencies, ...extraDevDependency };
      writeFileSync(file, JSON.stringify(manifest, null, 2));
    }
    return dir;
  };

  it("installs (from the store, or the registry on a cold machine) with nothing of this repository's tooling", async () => {
    const dir = workspace();
    const r = await pnpm(["install", "--prefer-offline", "--ignore-scripts"], dir);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(realpathSync(join(dir, "packages", "proxy", "node_modules", "@fedjwt", "signer"))).toBe(
      realpathSync(join(dir, "packages", "signer")),
    );
  });

  it("negative control: a workspace:* dependency on tooling fails there, as it did before", async () => {
    const r = await pnpm(["install", "--prefer-offline", "--ignore-scripts"], workspace({ "@fedjwt/local-stack": "workspace:*" }));
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/ERR_PNPM_WORKSPACE_PKG_NOT_FOUND/);
  });
});

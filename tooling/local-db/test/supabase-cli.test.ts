// The real Supabase CLI (npm `supabase`) is the judge of supabase/config.toml and of the migrations.
// Without Docker, `supabase start` reads and validates the whole config first and only then looks for a
// Docker engine, so "Cannot connect to the Docker daemon" means the config was accepted. DOCKER_HOST
// points at a socket that cannot exist, so this never starts containers, even where Docker runs.
import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../src/paths.ts";
import type { RunningPostgres } from "../src/postgres.ts";
import { runSupabaseCli } from "../src/supabase-cli.ts";
import { startSupabaseDb } from "../src/supabase-db.ts";
import { useSupabaseDb } from "../src/testing.ts";

const NO_DOCKER = { DOCKER_HOST: "unix:///nonexistent/fedjwt-no-docker.sock" };
const REJECTED = /invalid config|failed to read config|does not recognize|unsupported/i;

async function startWith(workdir: string): Promise<string> {
  const r = await runSupabaseCli(["start", "--workdir", workdir], { env: NO_DOCKER, timeoutMs: 60_000 });
  return `${r.stdout}\n${r.stderr}`;
}

/** A copy of the repository's supabase/ folder with one edit applied to config.toml. */
async function copyWith(edit: (toml: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fedjwt-config-"));
  await cp(join(repoRoot(), "supabase"), join(dir, "supabase"), { recursive: true });
  const file = join(dir, "supabase", "config.toml");
  const before = await readFile(file, "utf8");
  const after = edit(before);
  expect(after).not.toBe(before);
  await writeFile(file, after);
  return dir;
}

describe("supabase/config.toml", () => {
  it("is accepted by the real Supabase CLI", async () => {
    const out = await startWith(repoRoot());
    expect(out).toMatch(/Cannot connect to the Docker daemon/);
    expect(out).not.toMatch(REJECTED);
  });

  it("declares the rest function without gateway JWT verification, and PostgreSQL 17", async () => {
    const toml = await readFile(join(repoRoot(), "supabase", "config.toml"), "utf8");
    expect(toml).toMatch(/^\[functions\.rest\]\nenabled = true\nverify_jwt = false$/m);
    expect(toml).toMatch(/^major_version = 17$/m);
  });

  // Negative controls: the same check fails when the CLI rejects the config, so the test above can fail.
  it.each([
    ["a bad port", (t: string) => t.replace(/^port = 54321$/m, 'port = "not-a-port"'), /invalid config for api\.port/],
    ["an unsupported Postgres major version", (t: string) => t.replace(/^major_version = 17$/m, "major_version = 12"), /unsupported/],
    ["an unknown key", (t: string) => t.replace(/^verify_jwt = false$/m, "verify_jwt = false\nverify_jwtt = true"), /does not recognize/],
  ])("the CLI rejects a copy with %s", async (_label, edit, message) => {
    const out = await startWith(await copyWith(edit));
    expect(out).toMatch(message);
  });
});

describe("migrations", () => {
  const { db } = useSupabaseDb();

  it("are all applied from zero by `supabase db push`, in order", async () => {
    const files = (await readdir(join(repoRoot(), "supabase", "migrations"))).filter((f) => f.endsWith(".sql")).sort();
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) expect(f).toMatch(/^\d{14}_[a-z0-9_]+\.sql$/);
    const client = new pg.Client({ connectionString: db().url });
    await client.connect();
    try {
      const { rows } = await client.query("select version from supabase_migrations.schema_migrations order by version");
      expect(rows.map((r) => r.version)).toEqual(files.map((f) => f.slice(0, 14)));
      const seeded = await client.query("select count(*)::int as n from public.stock_levels");
      expect(seeded.rows[0].n).toBe(3);
    } finally {
      await client.end();
    }
  });

  it("re-running the push on a migrated database changes nothing", async () => {
    const r = await runSupabaseCli(["db", "push", `--remote=${db().url}`, "--yes", "--workdir", repoRoot()]);
    expect(r.code).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/up to date/i);
  });
});

// On hosted Supabase `postgres` is not a superuser (supabase_admin is) and your migrations run as it. Here
// the cluster is made the same way: initdb's superuser is supabase_admin, the bootstrap creates `postgres`
// with the hosted attributes, and the real CLI pushes every migration and the seed as that `postgres`.
describe("migrations as a non-superuser postgres (as on hosted Supabase)", () => {
  let running: RunningPostgres | undefined;
  let asPostgres: pg.Client | undefined;
  let postgresUrl = "";

  beforeAll(async () => {
    running = await startSupabaseDb({ superuser: "supabase_admin" });
    postgresUrl = running.url.replace("supabase_admin:", "postgres:");
    asPostgres = new pg.Client({ connectionString: postgresUrl });
    await asPostgres.connect();
  }, 180_000);
  afterAll(async () => {
    await asPostgres?.end();
    await running?.stop();
  });

  it("postgres is not a superuser, and every migration and the seed applied", async () => {
    const who = await asPostgres!.query(`select rolsuper, rolcreaterole, rolbypassrls from pg_roles where rolname = current_user`);
    expect(who.rows).toEqual([{ rolsuper: false, rolcreaterole: true, rolbypassrls: true }]);
    const files = (await readdir(join(repoRoot(), "supabase", "migrations"))).filter((f) => f.endsWith(".sql")).sort();
    const { rows } = await asPostgres!.query("select version from supabase_migrations.schema_migrations order by version");
    expect(rows.map((r) => r.version)).toEqual(files.map((f) => f.slice(0, 14)));
    const notes = await asPostgres!.query("select count(*)::int as n from public.user_notes");
    expect(notes.rows[0].n).toBe(2);
  });

  it("postgres can create writer roles and authenticator can become them", async () => {
    await asPostgres!.query(`select federation.create_writer_role('hosted_like_writer')`);
    const r = await asPostgres!.query(
      `select pg_has_role('authenticator', 'hosted_like_writer', 'MEMBER') as m, federation.is_writer_role('hosted_like_writer') as w`,
    );
    expect(r.rows).toEqual([{ m: true, w: true }]);
  });

  it("postgres cannot hand the auth schema to a writer role: the grant is a no-op, auth.uid() stays 42501", async () => {
    await asPostgres!.query(`grant usage on schema auth to federated_writer`);
    const r = await asPostgres!.query(`select has_schema_privilege('federated_writer', 'auth', 'USAGE') as usage`);
    expect(r.rows).toEqual([{ usage: false }]);
    // As PostgREST: log in as authenticator, then SET ROLE to the writer role.
    const api = new pg.Client({ connectionString: postgresUrl.replace("postgres:", "authenticator:") });
    await api.connect();
    try {
      await api.query(`begin; set local role federated_writer`);
      await expect(api.query(`select auth.uid()`)).rejects.toMatchObject({ code: "42501" });
      await api.query(`rollback`);
    } finally {
      await api.end();
    }
  });
});

describe("startSupabaseDb without a data folder", () => {
  it("a temporary cluster leaves no /tmp/fedjwt-db-* folder behind once stopped", async () => {
    const db = await startSupabaseDb({ seed: false });
    const folder = dirname(db.dataDir);
    expect(basename(folder)).toMatch(/^fedjwt-db-/);
    await db.stop();
    expect(existsSync(folder)).toBe(false);
  }, 180_000);
});

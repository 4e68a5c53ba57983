// Running an adopted project locally, the one command docs/local-stack.md gives: a `supabase init` project with a
// migration, a seed and a function of its own called rest (written the way `supabase functions new` writes one:
// Deno.serve, verify_jwt = true, a variable from supabase/functions/.env) → `fedjwt adopt` refuses, leading with
// --function and never suggesting to delete it → `fedjwt adopt --function writers` (the built fedjwt.mjs) → a writers'
// migration → `fedjwt-stack start --project <dir>` on free ports (--ephemeral, with the project's .env named by
// --functions-env) → a writer registered with the project's secret key writes through the adopted `rest` function with
// supabase-js and the publishable key at …/functions/v1/writers, the publishable key alone reads the project's seeded table through
// /rest/v1, and the project's own function answers with its .env value.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@supabase/supabase-js";
import { createSigner } from "@fedjwt/signer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, runSupabaseCli, type StackInfo } from "@fedjwt/local-stack";

const ROOT = repoRoot();
const BUNDLE = fileURLToPath(new URL("../../../packages/cli/dist/fedjwt.mjs", import.meta.url));
const STACK = fileURLToPath(new URL("../../local-stack/dist/cli.js", import.meta.url));

/** The project's own table, readable by anyone with the publishable key; its seed fills it. */
const APP_MIGRATION = `create table public.announcements (
  id bigint generated always as identity primary key,
  title text not null
);
alter table public.announcements enable row level security;
grant select on public.announcements to anon;
create policy "announcements are public" on public.announcements for select to anon using (true);
`;
/** After adopting: one writer role that may append notes (the README's policies step, in short). */
const WRITERS_MIGRATION = `select federation.create_writer_role('notes_service');
create table public.service_notes (
  id bigint generated always as identity primary key,
  body text not null,
  writer_issuer text not null default federation.issuer()
);
alter table public.service_notes enable row level security;
grant select, insert (body) on public.service_notes to notes_service;
create policy "a writer appends its notes" on public.service_notes for insert to notes_service
  with check (federation.has_role('notes_writer') and writer_issuer = federation.issuer());
create policy "a writer reads its notes" on public.service_notes for select to notes_service
  using (writer_issuer = federation.issuer());
`;
/** The project's own function, as `supabase functions new` shapes one: it calls Deno.serve itself. */
const HELLO = `Deno.serve((req) => Response.json({ greeting: Deno.env.get("GREETING") ?? null, path: new URL(req.url).pathname }));\n`;

function node(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { cwd, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("an adopted project on the Docker-free stack (fedjwt-stack start --project)", () => {
  const work = mkdtempSync(join(tmpdir(), "fedjwt-adopted-local-"));
  const project = join(work, "my-app");
  let stack: ChildProcess | undefined;
  let stackErr = "";
  let info: StackInfo;
  let refused: { code: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    mkdirSync(project, { recursive: true });
    expect(spawnSync("git", ["init", "-q"], { cwd: project }).status).toBe(0);
    const init = await runSupabaseCli(["init", "--yes"], { cwd: project });
    expect(init.code, init.stderr).toBe(0);
    const supabase = join(project, "supabase");
    mkdirSync(join(supabase, "migrations"), { recursive: true });
    writeFileSync(join(supabase, "migrations", "20270101120000_announcements.sql"), APP_MIGRATION);
    writeFileSync(join(supabase, "seed.sql"), "insert into public.announcements (title) values ('hello from the seed');\n");
    mkdirSync(join(supabase, "functions", "rest"), { recursive: true });
    writeFileSync(join(supabase, "functions", "rest", "index.ts"), HELLO);
    appendFileSync(join(supabase, "config.toml"), "\n[functions.rest]\nverify_jwt = true\n");
    writeFileSync(join(supabase, "functions", ".env"), "GREETING=hello from the project's .env\n");

    refused = node([BUNDLE, "adopt", ".", "--template", ROOT], project);
    const adopt = node([BUNDLE, "adopt", ".", "--template", ROOT, "--function", "writers", "--json"], project);
    expect(adopt.code, adopt.stderr).toBe(0);
    writeFileSync(join(supabase, "migrations", "20290101000000_service_notes.sql"), WRITERS_MIGRATION);

    const child = spawn(
      process.execPath,
      [STACK, "start", "--project", project, "--ephemeral", "--functions-env", join(supabase, "functions", ".env")],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    stack = child;
    child.stderr!.on("data", (c: Buffer) => (stackErr += c.toString()));
    info = await new Promise<StackInfo>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /^READY (.*)$/m.exec(out);
        if (m) resolve((JSON.parse(m[1]!) as { info: StackInfo }).info);
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

  it("adopt in a project whose own function is called rest: one message, leading with --function, never 'delete'", () => {
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe("");
    const lines = refused.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      /^ {2}- supabase\/functions\/rest is a function of your own \(its index\.ts has no fedjwt adopt header\): adopt the gateway under another name, e\.g\. `fedjwt adopt .* --function writers`/,
    );
    expect(refused.stderr).not.toMatch(/delete/i);
    expect(readFileSync(join(project, "supabase", "functions", "rest", "index.ts"), "utf8")).toBe(HELLO);
    expect(readFileSync(join(project, "supabase", "config.toml"), "utf8")).toMatch(/\[functions\.rest\]\nverify_jwt = true\n/);
  });

  it("serves on free ports, with the API URL as the audience", () => {
    expect(info.API_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.API_URL).not.toBe("http://127.0.0.1:54321");
    expect(info.FEDJWT_AUDIENCE).toBe(info.API_URL);
  });

  it("the publishable key alone reads the project's seeded table through /rest/v1 (supabase-js)", async () => {
    const anon = createClient(info.API_URL, info.PUBLISHABLE_KEY);
    const { data, error, status } = await anon.from("announcements").select("title");
    expect({ status, error, data }).toEqual({ status: 200, error: null, data: [{ title: "hello from the seed" }] });
  });

  it("a writer registered with the secret key writes through the adopted function (supabase-js, publishable key)", async () => {
    const keys = join(work, "keys");
    const gen = node([BUNDLE, "keygen", "--issuer", "notes-writer", "--target", info.API_URL, "--out", keys, "--json"], project);
    expect(gen.code, gen.stderr).toBe(0);
    const files = JSON.parse(gen.stdout).files as { privateKey: string; publicKey: string };
    const reg = node(
      [
        BUNDLE,
        "register",
        "--issuer",
        "notes-writer",
        "--public-key",
        files.publicKey,
        "--db-role",
        "notes_service",
        "--allowed-role",
        "notes_writer",
        "--url",
        info.API_URL,
        "--service-role-key",
        info.SECRET_KEY,
      ],
      project,
    );
    expect(reg.code, reg.stderr).toBe(0);
    const signer = await createSigner({
      privateKey: readFileSync(files.privateKey, "utf8"),
      issuer: "notes-writer",
      audience: info.FEDJWT_AUDIENCE,
    });
    const writer = createClient(`${info.API_URL}/functions/v1/writers`, info.PUBLISHABLE_KEY, {
      accessToken: () => signer.sign({ roles: ["notes_writer"] }),
    });
    const wrote = await writer.from("service_notes").insert({ body: "written locally" }).select("body, writer_issuer");
    expect({ status: wrote.status, error: wrote.error, data: wrote.data }, stackErr).toEqual({
      status: 201,
      error: null,
      data: [{ body: "written locally", writer_issuer: "notes-writer" }],
    });
    // No writer token, only the publishable key: the gateway hands the function the anon JWT (as Supabase's
    // does), which is no writer's token.
    const keyOnly = await fetch(`${info.API_URL}/functions/v1/writers/service_notes`, { headers: { apikey: info.PUBLISHABLE_KEY } });
    const keyOnlyBody = (await keyOnly.json()) as { code?: string; details?: string };
    expect({ status: keyOnly.status, code: keyOnlyBody.code }).toEqual({ status: 401, code: "alg_not_allowed" });
    // …and the refusal says what the caller sent instead of a writer token.
    expect(keyOnlyBody.details).toContain("a Supabase API key or user session, not a writer token");
    // The project's own table is not the writer's: no grant to its role.
    const refused = await writer.from("announcements").select("title");
    expect({ status: refused.status, code: refused.error?.code }).toEqual({ status: 403, code: "42501" });
  });

  it("the project's own rest function answers with its .env value, behind its verify_jwt = true", async () => {
    expect((await fetch(`${info.API_URL}/functions/v1/rest`, { headers: { apikey: info.PUBLISHABLE_KEY } })).status).toBe(401);
    const res = await fetch(`${info.API_URL}/functions/v1/rest/x`, { headers: { authorization: `Bearer ${info.ANON_KEY}` } });
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 200,
      body: { greeting: "hello from the project's .env", path: "/rest/x" },
    });
  });
});

// fedjwt adopt against hostile input: a crafted manifest, a template that imports out of its function, a link swapped
// in between the plan and the write, a plan that names a path outside the adopt folders. Each attack gets the
// refusal, and nothing is written anywhere.
import { createHash } from "node:crypto";
import { appendFileSync, cpSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { applyPlan, outsideAdopt } from "../src/adopt/apply.ts";
import { planAdoption, type Plan } from "../src/adopt/plan.ts";
import { diskTemplate, TEMPLATE_PARTS } from "../src/adopt/template.ts";
import { CliError } from "../src/errors.ts";
import { fedjwt, tempDir } from "./helpers.ts";

const TEMPLATE = fileURLToPath(new URL("../../../", import.meta.url));
const CONFIG = `project_id = "existing"\n\n[api]\nenabled = true\n`;
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

function project(dir = tempDir()): string {
  mkdirSync(join(dir, "supabase", "migrations"), { recursive: true });
  writeFileSync(join(dir, "supabase", "config.toml"), CONFIG);
  writeFileSync(
    join(dir, "supabase", "migrations", "20270101120000_profiles.sql"),
    "create table public.profiles (id uuid primary key);\n",
  );
  writeFileSync(join(dir, ".gitignore"), "node_modules\n");
  return dir;
}

/** Every entry under `dir` with its content (what a refused run must leave as it was). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) out[p] = `-> ${readlinkSync(p)}`;
      else if (e.isDirectory()) walk(p);
      else out[p] = readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return out;
}

function templateCopy(): string {
  const dir = tempDir();
  for (const part of TEMPLATE_PARTS) cpSync(join(TEMPLATE, part), join(dir, part), { recursive: true });
  return dir;
}

const plan = (dir: string, template = TEMPLATE) =>
  planAdoption({
    project: dir,
    template,
    source: diskTemplate(template),
    templateInfo: { version: "test", commit: null },
    examples: false,
    now: new Date("2027-02-01T00:00:00Z"),
  });

describe("a crafted manifest that names another function of the project", () => {
  it("is not trusted: that function's index.ts is not replaced, its helper not deleted, no verify_jwt = false added for it", () => {
    const dir = project();
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    // The project's own function, without a config block (so Supabase verifies JWTs for it: verify_jwt defaults to true).
    const mine = join(dir, "supabase/functions/mine");
    mkdirSync(mine);
    const index = 'import { helper } from "./helper.ts";\nDeno.serve(() => new Response(helper()));\n';
    const helper = "export const helper = () => 'mine';\n";
    writeFileSync(join(mine, "index.ts"), index);
    writeFileSync(join(mine, "helper.ts"), helper);
    // The manifest an attacker commits: the adoption moved to "mine", recording mine's files as adopted and unedited.
    const path = join(dir, "supabase/fedjwt-adopted.json");
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    const files = Object.fromEntries(
      Object.entries(manifest.files as Record<string, string>).map(([p, h]) => [
        p.replace("supabase/functions/rest/", "supabase/functions/mine/"),
        h,
      ]),
    );
    files["supabase/functions/mine/index.ts"] = sha(index);
    files["supabase/functions/mine/helper.ts"] = sha(helper);
    writeFileSync(path, JSON.stringify({ ...manifest, function: "mine", files }));
    const before = tree(dir);
    const r = fedjwt(["adopt", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^fedjwt adopt: supabase\/fedjwt-adopted\.json names the function mine, but supabase\/functions\/mine is not one adopt wrote \(its index\.ts has no fedjwt adopt header\), so the manifest is not trusted/,
    );
    expect(tree(dir)).toEqual(before);
    expect(readFileSync(join(dir, "supabase/config.toml"), "utf8")).not.toContain("[functions.mine]");
  });

  it("naming a function that does not exist: not trusted either (no new function with verify_jwt = false appears)", () => {
    const dir = project();
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    const path = join(dir, "supabase/fedjwt-adopted.json");
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify({ ...manifest, function: "ghost", files: {} }));
    const before = tree(dir);
    const r = fedjwt(["adopt", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("names the function ghost, but supabase/functions/ghost is not one adopt wrote (it does not exist)");
    expect(tree(dir)).toEqual(before);
  });

  it("an existing function's verify_jwt is never changed: --function naming a function of the project's own is refused", () => {
    const dir = project();
    mkdirSync(join(dir, "supabase/functions/mine"), { recursive: true });
    writeFileSync(join(dir, "supabase/functions/mine/index.ts"), "Deno.serve(() => new Response('mine'));\n");
    const before = tree(dir);
    const r = fedjwt(["adopt", dir, "--function", "mine"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("supabase/functions/mine is a function of your own (its index.ts has no fedjwt adopt header)");
    expect(tree(dir)).toEqual(before);
  });
});

describe("a template whose function imports out of its function folder", () => {
  it.each([
    ["../../../x.ts (the template's root: the project's root once adopted)", "../../../x.ts"],
    ["../../../../x.ts (outside the project once adopted)", "../../../../x.ts"],
    ["../other/x.ts (another function's folder)", "../other/x.ts"],
  ])("%s: refused as template_broken, nothing written anywhere", (_label, spec) => {
    const template = templateCopy();
    const index = join(template, "supabase/functions/rest/index.ts");
    writeFileSync(index, `${readFileSync(index, "utf8")}import "${spec}";\n`);
    const target = join(template, "supabase/functions/rest", spec);
    mkdirSync(join(target, ".."), { recursive: true });
    writeFileSync(target, "export const x = 1;\n");
    const parent = tempDir(); // the project's own parent, which nothing else writes to
    const dir = project(join(parent, "app"));
    const before = { project: tree(dir), beside: readdirSync(parent).sort() };
    const r = fedjwt(["adopt", dir, "--template", template]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`supabase/functions/rest/index.ts imports ${spec}, outside its function folder (supabase/functions/rest)`);
    expect({ project: tree(dir), beside: readdirSync(parent).sort() }).toEqual(before);
  });
});

describe("apply checks each path again when it writes, never through a link", () => {
  /** A project adopted from an older template (so the plan updates files), planned from this one. */
  async function planned(): Promise<{ dir: string; plan: Plan }> {
    const older = templateCopy();
    const handler = join(older, "packages/proxy/src/handler.ts");
    writeFileSync(handler, `${readFileSync(handler, "utf8")}// an older version\n`);
    const dir = project();
    expect(fedjwt(["adopt", dir, "--template", older]).code).toBe(0);
    const p = await plan(dir);
    expect(p.refusals).toEqual([]);
    expect(p.writes.find((w) => w.path === "supabase/functions/_shared/fedjwt/proxy/handler.ts")?.action).toBe("update");
    return { dir, plan: p };
  }

  it("a folder swapped for a link to a copy outside, after the plan: apply refuses, the copy outside is untouched", async () => {
    const { dir, plan: p } = await planned();
    const outside = tempDir();
    const shared = join(dir, "supabase/functions/_shared");
    cpSync(shared, join(outside, "_shared"), { recursive: true });
    rmSync(shared, { recursive: true });
    symlinkSync(join(outside, "_shared"), shared);
    const before = tree(outside);
    const err = await applyPlan(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe("outside_project");
    expect((err as CliError).message).toMatch(
      /refusing to write supabase\/functions\/_shared\/fedjwt\/.*: supabase\/functions\/_shared is a symbolic link/,
    );
    expect(tree(outside)).toEqual(before);
  });

  it("a file swapped for a link to a file outside, after the plan: apply refuses, that file is untouched", async () => {
    const { dir, plan: p } = await planned();
    const victim = join(tempDir(), "handler.ts");
    const handler = join(dir, "supabase/functions/_shared/fedjwt/proxy/handler.ts");
    writeFileSync(victim, readFileSync(handler, "utf8")); // what the plan saw, so only the link can stop it
    rmSync(handler);
    symlinkSync(victim, handler);
    const before = readFileSync(victim, "utf8");
    const err = await applyPlan(p).catch((e: unknown) => e);
    expect((err as CliError).code).toBe("outside_project");
    expect((err as CliError).message).toContain(
      "refusing to write supabase/functions/_shared/fedjwt/proxy/handler.ts: it is a symbolic link",
    );
    expect(readFileSync(victim, "utf8")).toBe(before);
  });

  it("a new migration's place taken by a link after the plan: apply refuses (O_EXCL | O_NOFOLLOW), the link's target is untouched", async () => {
    const dir = project();
    const p = await plan(dir);
    const migration = p.writes.find((w) => w.path.startsWith("supabase/migrations/"))!;
    const victim = join(tempDir(), "victim.sql");
    writeFileSync(victim, "precious\n");
    symlinkSync(victim, join(dir, migration.path));
    const err = await applyPlan(p).catch((e: unknown) => e);
    expect((err as CliError).code).toBe("outside_project");
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
  });

  it("a file edited after the plan is not overwritten", async () => {
    const { dir, plan: p } = await planned();
    const handler = join(dir, "supabase/functions/_shared/fedjwt/proxy/handler.ts");
    appendFileSync(handler, "// edited meanwhile\n");
    const err = await applyPlan(p).catch((e: unknown) => e);
    expect((err as CliError).message).toContain("handler.ts: it changed while adopt ran");
    expect(readFileSync(handler, "utf8")).toContain("// edited meanwhile");
  });

  it.each([
    ["a file of the project's own", { path: "src/app.ts", action: "create" as const, content: "x" }],
    ["another function's file", { path: "supabase/functions/other/index.ts", action: "update" as const, content: "x", before: sha("y") }],
    [
      "a migration of the project's",
      { path: "supabase/migrations/20270101120000_profiles.sql", action: "remove" as const, content: "", before: sha("y") },
    ],
    [
      "a migration without adopt's header",
      { path: "supabase/migrations/20300101000000_x.sql", action: "create" as const, content: "drop table x;" },
    ],
    ["config.toml rewritten", { path: "supabase/config.toml", action: "update" as const, content: "x", before: sha(CONFIG), base: CONFIG }],
    ["a path that climbs out", { path: "supabase/functions/rest/../../../src/app.ts", action: "create" as const, content: "x" }],
  ])("a plan writing %s: refused before anything is written", async (_label, write) => {
    expect(outsideAdopt(write, "rest")).toBeDefined();
    const dir = project();
    const p = await plan(dir);
    const before = tree(dir);
    const err = await applyPlan({ ...p, writes: [...p.writes.slice(0, 3), write] }).catch((e: unknown) => e);
    expect((err as CliError).code).toBe("outside_project");
    expect(tree(dir)).toEqual(before);
  });

  it("config.toml and .gitignore: only appended to (the block adopt adds, the lines it adds)", async () => {
    const p = await plan(project());
    for (const w of p.writes) expect(outsideAdopt(w, "rest"), w.path).toBeUndefined();
    expect(p.writes.map((w) => w.path)).toContain("supabase/config.toml");
    expect(p.writes.map((w) => w.path)).toContain(".gitignore");
  });
});

describe("fedjwt adopt --dry-run", () => {
  it("prints every change with its reason and writes nothing; --json gives the same plan", () => {
    const dir = project();
    const before = tree(dir);
    const r = fedjwt(["adopt", dir, "--dry-run"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Plan for .* \(dry run: nothing written\)/);
    expect(r.stdout).toMatch(/\n {2}supabase\/functions\/rest\/index\.ts +create +the template's\n/);
    expect(r.stdout).toMatch(/\n {2}supabase\/config\.toml +append +\[functions\.rest\] \(verify_jwt = false\)\n/);
    expect(r.stdout).toContain("After adopt, from the project folder:");
    expect(tree(dir)).toEqual(before);

    const json = fedjwt(["adopt", dir, "--dry-run", "--json"]);
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout);
    expect(out).toMatchObject({
      dryRun: true,
      adoption: "first",
      function: "rest",
      config: "added",
      manifestStatus: "create",
      refusals: [],
    });
    expect(out.files.find((f: { path: string }) => f.path === "supabase/functions/rest/deno.json")).toEqual({
      path: "supabase/functions/rest/deno.json",
      status: "create",
      why: "the template's",
    });
    expect(out.writes).toBeUndefined();
    expect(tree(dir)).toEqual(before);
    // What the plan says is what the run does.
    const done = JSON.parse(fedjwt(["adopt", dir, "--json"]).stdout);
    expect(done.files).toEqual(out.files);
    const steps = (ms: Array<{ template: string; status: string }>) => ms.map((m) => `${m.template} ${m.status}`);
    expect(steps(done.migrations)).toEqual(steps(out.migrations));
  });

  it("a plan adopt would refuse: printed with the refusal, exit 2, nothing written", () => {
    const dir = project();
    expect(fedjwt(["adopt", dir]).code).toBe(0);
    appendFileSync(join(dir, "supabase/functions/_shared/fedjwt/proxy/handler.ts"), "// mine\n");
    const older = templateCopy();
    appendFileSync(join(older, "packages/proxy/src/handler.ts"), "// another version\n");
    const before = tree(dir);
    const r = fedjwt(["adopt", dir, "--template", older, "--dry-run", "--json"]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.refusals).toEqual([
      expect.objectContaining({ situation: "adopted files edited", paths: ["supabase/functions/_shared/fedjwt/proxy/handler.ts"] }),
    ]);
    expect(tree(dir)).toEqual(before);
  });

  it("--help names --dry-run and what adopt never does", () => {
    const r = fedjwt(["adopt", "--help"]);
    expect(r.stdout).toContain("--dry-run");
    expect(r.stdout).toContain("--dry-run prints that plan (each file written, updated or removed, and why) and writes nothing");
    expect(r.stdout).toContain("never changes a function of yours");
  });
});

// Upgrading an adoption made before adopt recorded a manifest: released.json knows every released version of the
// adopted files, so an unedited one is upgraded in one run; and it cannot go stale (the current files are in it).
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import released from "../src/adopt/released.json" with { type: "json" };
import { adoptedMigration, diskTemplate, functionFiles, templateMigrations } from "../src/adopt/template.ts";
import { fedjwt, tempDir } from "./helpers.ts";
import { oldRelease, PRE_MANIFEST_RELEASE } from "./old-release.ts";

const TEMPLATE = fileURLToPath(new URL("../../../", import.meta.url));
const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const files = released.files as Record<string, string[]>;
const migrations = released.migrations as Record<string, string[]>;

describe("released.json", () => {
  it("holds the current template's files and migrations (else: pnpm --filter @fedjwt/cli released)", async () => {
    const missing: string[] = [];
    for (const f of await functionFiles(diskTemplate(TEMPLATE), "rest")) if (!files[f.path]?.includes(sha(f.content))) missing.push(f.path);
    for (const m of await templateMigrations(diskTemplate(TEMPLATE), () => true))
      if (!migrations[m.template]?.includes(sha(adoptedMigration(m.template, m.body)))) missing.push(m.template);
    expect(missing, "run pnpm --filter @fedjwt/cli released").toEqual([]);
  });
});

describe("an adoption made by a release before the manifest", () => {
  /** A project adopted by that release's own fedjwt adopt. */
  async function adoptedByOldRelease(): Promise<string> {
    const old = await oldRelease();
    const dir = tempDir();
    mkdirSync(join(dir, "supabase", "migrations"), { recursive: true });
    writeFileSync(join(dir, "supabase", "config.toml"), `project_id = "existing"\n`);
    writeFileSync(
      join(dir, "supabase", "migrations", "20270101120000_profiles.sql"),
      "create table public.profiles (id uuid primary key);\n",
    );
    const r = spawnSync(process.execPath, [old.cli, "adopt", dir, "--template", old.dir], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(dir, "supabase/fedjwt-adopted.json"))).toBe(false); // that release wrote none
    return dir;
  }

  it(`(${PRE_MANIFEST_RELEASE.slice(0, 7)}) is upgraded in one run: unedited files updated, new migrations added, the manifest written`, async () => {
    const dir = await adoptedByOldRelease();
    const adoptedBefore = readdirSync(join(dir, "supabase/migrations")).sort();
    const r = fedjwt(["adopt", dir, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.adoption).toBe("pre-manifest");
    const status = Object.fromEntries(out.files.map((f: { path: string; status: string }) => [f.path, f.status]));
    expect(status["supabase/functions/_shared/fedjwt/proxy/handler.ts"]).toBe("update");
    expect(out.files.find((f: { path: string }) => f.path.endsWith("proxy/handler.ts")).why).toBe(
      "an earlier release's version, unedited: updated to the template's",
    );
    expect(out.migrations.filter((m: { status: string }) => m.status === "unchanged").length).toBe(adoptedBefore.length - 1);
    expect(out.migrations.filter((m: { status: string }) => m.status === "create").length).toBeGreaterThan(0);
    expect(readdirSync(join(dir, "supabase/migrations")).sort().slice(0, adoptedBefore.length)).toEqual(adoptedBefore);
    for (const f of await functionFiles(diskTemplate(TEMPLATE), "rest"))
      expect(readFileSync(join(dir, f.path), "utf8"), f.path).toBe(f.content);
    expect(out.next).toEqual(["supabase db push --remote", "supabase functions deploy rest --use-api"]);
    expect(fedjwt(["adopt", dir]).stdout).toMatch(/^Nothing to change in /);
  });

  it("with edited files: one message that names each of them, and nothing written", async () => {
    const dir = await adoptedByOldRelease();
    const edited = ["supabase/functions/_shared/fedjwt/proxy/handler.ts", "supabase/functions/rest/index.ts"];
    for (const f of edited) appendFileSync(join(dir, f), "// my change\n");
    const r = fedjwt(["adopt", dir]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(
      "this project was adopted by an earlier fedjwt, before supabase/fedjwt-adopted.json existed (recognised by the adopt header in supabase/functions/rest/index.ts and",
    );
    expect(lines[1]).toContain(`${edited.join(", ")} were edited: they are no release's version of their template file`);
    expect(existsSync(join(dir, "supabase/fedjwt-adopted.json"))).toBe(false);
  });
});

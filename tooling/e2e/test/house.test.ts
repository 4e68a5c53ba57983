// House rules that hold for the whole repository: the README stays short, every TypeScript source runs under
// Node's type stripping (no enums, namespaces or parameter properties: tsconfig's erasableSyntaxOnly), and every
// repository path a doc, comment or script names exists.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { dirname, join } from "node:path";
import { repoRoot } from "@fedjwt/local-stack";
import { describe, expect, it } from "vitest";

const root = repoRoot();
const tracked = execFileSync("git", ["ls-files"], { cwd: root, encoding: "utf8" }).split("\n").filter(Boolean);
const read = (file: string) => readFileSync(join(root, file), "utf8");

describe("README.md", () => {
  it("stays at most 200 lines: details belong in docs/", () => {
    expect(read("README.md").split("\n").length - 1).toBeLessThanOrEqual(200);
  });
});

describe("TypeScript sources", () => {
  it("every tracked .ts file is erasable syntax: Node's type stripping runs it as it is", () => {
    const failures: string[] = [];
    for (const file of tracked.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))) {
      try {
        stripTypeScriptTypes(read(file), { mode: "strip" });
      } catch (e) {
        failures.push(`${file}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("the base tsconfig enforces it for every package (erasableSyntaxOnly)", () => {
    expect(JSON.parse(read("tsconfig.base.json")).compilerOptions.erasableSyntaxOnly).toBe(true);
  });
});

/**
 * Paths that are named but are not in the repository on purpose: files a command writes (gitignored), other
 * repositories and npm packages.
 */
const NOT_IN_REPO: Record<string, string> = {
  "supabase/functions/.env": "written by pnpm dev (gitignored)",
  "supabase/signing_keys.json": "written by fedjwt adopt in the user's project",
  "supabase/functions/_shared": "copied by fedjwt adopt into the user's project",
  "supabase/fedjwt-adopted.json": "the manifest fedjwt adopt writes in the user's project",
  "supabase/migrations/20300101000000_readings.sql": "the migration docs/python-writer.md has the reader add to their project",
  "supabase/package.json": "the supabase npm package",
  "supabase/postgres": "Supabase's repository",
  "supabase/setup-cli": "Supabase's GitHub Action",
  "supabase/supabase-js": "Supabase's repository",
  "packages/core/postgrest-js": "a folder of supabase/supabase-js",
};

describe("paths named in docs, comments and scripts", () => {
  it("exist in the repository (relative to the root or to the naming file)", () => {
    // Tests are left out: they name the files of the projects they make (an adopted project's own migrations, say).
    const files = tracked.filter((f) => (/\.(md|ts|mjs|sql|toml|ya?ml|sh)$/.test(f) || f === ".ci/run") && !/(^|\/)test\//.test(f));
    const pathLike = /(?<![\w@./-])((?:packages|tooling|apps|supabase|scripts|docs|\.ci)\/[A-Za-z0-9_.\-/]+)/g;
    const missing: string[] = [];
    for (const file of files) {
      for (const [, raw] of read(file).matchAll(pathLike)) {
        const path = raw!.replace(/[.,:;)/`'"]+$/, "");
        if (Object.keys(NOT_IN_REPO).some((p) => path === p || path.startsWith(`${p}/`))) continue;
        if (existsSync(join(root, path)) || existsSync(join(root, dirname(file), path))) continue;
        missing.push(`${file}: ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

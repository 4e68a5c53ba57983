// House rules that hold for the whole repository: the README stays short, every TypeScript source runs under
// Node's type stripping (no enums, namespaces or parameter properties: tsconfig's erasableSyntaxOnly), every
// repository path a doc, comment or script names exists, and the modules named below import no circle.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { dirname, join, posix } from "node:path";
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

/** A file's relative import specifiers (`import … from`, `export … from`, `import("…")`), type-only ones included. */
function relativeImports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|[\n;])\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']/g)) found.push(m[1]!);
  for (const m of text.matchAll(/(?:^|[\n;])\s*import\s*["'](\.{1,2}\/[^"']+)["']/g)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g)) found.push(m[1]!);
  return found;
}

/** Tracked .ts files under `dir` → the tracked files each imports relatively (type-only imports are edges too). */
function importGraph(dir: string): Map<string, string[]> {
  const files = tracked.filter((f) => f.startsWith(`${dir}/`) && f.endsWith(".ts") && !f.endsWith(".d.ts"));
  const known = new Set(files);
  return new Map(
    files.map((f) => [
      f,
      relativeImports(read(f))
        .map((spec) => posix.normalize(posix.join(posix.dirname(f), spec)))
        .filter((t) => known.has(t)),
    ]),
  );
}

/** The import circles of a graph: each strongly connected set of more than one file, or a file importing itself (Tarjan). */
function importCircles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const set: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        set.push(w);
      } while (w !== v);
      if (set.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(set.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return circles;
}

describe("import circles", () => {
  it("the finder sees a circle through type-only imports, re-exports and a self-import, and none in a chain", () => {
    expect(
      relativeImports('import type { A } from "./a.ts";\nexport { B } from "../b.ts";\nimport {\n  c,\n} from "./c.ts";\nimport "./d.ts";'),
    ).toEqual(["./a.ts", "../b.ts", "./c.ts", "./d.ts"]);
    const g = (edges: Record<string, string[]>) => new Map(Object.entries(edges));
    expect(importCircles(g({ "plan.ts": ["sql.ts", "grammar.ts"], "sql.ts": ["plan.ts"], "grammar.ts": [] }))).toEqual([
      ["plan.ts", "sql.ts"],
    ]);
    expect(importCircles(g({ "a.ts": ["b.ts"], "b.ts": ["c.ts"], "c.ts": ["a.ts"], "d.ts": ["d.ts"] }))).toEqual([
      ["a.ts", "b.ts", "c.ts"],
      ["d.ts"],
    ]);
    expect(importCircles(g({ "a.ts": ["b.ts", "c.ts"], "b.ts": ["c.ts"], "c.ts": [] }))).toEqual([]);
  });

  it("the PostgREST stand-in has none (its stages share types through plan-types.ts)", () => {
    const graph = importGraph("tooling/postgrest-standin/src");
    expect(importCircles(graph)).toEqual([]);
    expect(graph.get("tooling/postgrest-standin/src/sql.ts")).toContain("tooling/postgrest-standin/src/plan-types.ts");
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
  "supabase/edge-runtime": "Supabase's repository",
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

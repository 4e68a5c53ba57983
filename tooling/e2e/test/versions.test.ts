// One version of each external package: pnpm-workspace.yaml's catalog. Every package.json refers to it —
// but for the packages users copy into their own workspaces (signer, proxy), which pin the catalog's exact
// versions, since `catalog:` means nothing elsewhere — and the rest function's deno.json pins the same jose.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@fedjwt/local-stack";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = repoRoot();
const catalog = (parse(readFileSync(join(root, "pnpm-workspace.yaml"), "utf8")) as { catalog: Record<string, string> }).catalog;

/** Copied into other workspaces as they are: exact versions, equal to the catalog's. */
const COPYABLE = new Set(["packages/signer/package.json", "packages/proxy/package.json"]);

function manifests(): string[] {
  const out = ["package.json"];
  for (const group of ["apps", "packages", "tooling"]) {
    for (const dir of readdirSync(join(root, group), { withFileTypes: true })) {
      // A folder without a package.json (apps/python-writer, a Python recipe) is no workspace package.
      const manifest = join(group, dir.name, "package.json");
      if (dir.isDirectory() && existsSync(join(root, manifest))) out.push(manifest);
    }
  }
  return out;
}

describe("the version catalog", () => {
  it("supabase/functions/rest/deno.json pins the catalog's jose", () => {
    const deno = JSON.parse(readFileSync(join(root, "supabase/functions/rest/deno.json"), "utf8")) as { imports: Record<string, string> };
    expect({ deno: deno.imports.jose, catalog: `npm:jose@${catalog.jose}` }).toEqual({
      deno: `npm:jose@${catalog.jose}`,
      catalog: `npm:jose@${catalog.jose}`,
    });
    expect(catalog.jose).toMatch(/^\d+\.\d+\.\d+$/); // an exact version, as deno.json needs
  });

  it("every package.json takes external versions from the catalog (copyable packages: its exact versions), and the catalog has each of them", () => {
    const strays: string[] = [];
    for (const file of manifests()) {
      const pkg = JSON.parse(readFileSync(join(root, file), "utf8")) as Record<string, Record<string, string> | undefined>;
      for (const field of ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"]) {
        for (const [name, spec] of Object.entries(pkg[field] ?? {})) {
          if (spec.startsWith("workspace:")) continue;
          const wanted = COPYABLE.has(file) ? catalog[name] : "catalog:";
          if (catalog[name] === undefined || spec !== wanted) strays.push(`${file} ${field} ${name}@${spec}`);
        }
      }
    }
    expect(strays).toEqual([]);
  });
});

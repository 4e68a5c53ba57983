// Writes src/adopt/released.json: the sha256 of every file adopt would have written from every commit of this
// repository's history that changed the template (and from the working tree), so that `fedjwt adopt` recognises the
// unedited files of an adoption made by any earlier release, before it recorded a manifest.
// Run: pnpm --filter @fedjwt/cli released (after changing the function, packages/proxy/src, packages/signer/src or a
// migration; packages/cli/test/adopt-released.test.ts fails until then).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { adoptedMigration, diskTemplate, functionFiles, templateMigrations, type TemplateSource } from "../src/adopt/template.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const out = fileURLToPath(new URL("../src/adopt/released.json", import.meta.url));
const PATHS = ["supabase/functions/rest", "supabase/migrations", "packages/proxy/src", "packages/signer/src"];

function git(args: string[]): string {
  const r = spawnSync("git", ["-C", root, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

const blobs = new Map<string, string>();
/** The template as it was at `commit`. */
function gitTemplate(commit: string): TemplateSource {
  const tree = new Map<string, string>();
  for (const line of git(["ls-tree", "-r", commit, "--", ...PATHS]).split("\n")) {
    const m = /^\d+ blob ([0-9a-f]+)\t(.+)$/.exec(line);
    if (m) tree.set(m[2]!, m[1]!);
  }
  return {
    read: (path) => {
      const blob = tree.get(path);
      if (blob === undefined) return Promise.resolve(undefined);
      if (!blobs.has(blob)) blobs.set(blob, git(["cat-file", "blob", blob]));
      return Promise.resolve(blobs.get(blob));
    },
    list: (path) =>
      Promise.resolve(
        [...tree.keys()]
          .filter((p) => p.startsWith(`${path}/`) && !p.slice(path.length + 1).includes("/"))
          .map((p) => p.slice(path.length + 1)),
      ),
  };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const files = new Map<string, Set<string>>();
const migrations = new Map<string, Set<string>>();
const add = (map: Map<string, Set<string>>, key: string, hash: string) => map.set(key, (map.get(key) ?? new Set()).add(hash));

const commits = git(["rev-list", "HEAD", "--", ...PATHS])
  .split("\n")
  .filter(Boolean);
let skipped = 0;
for (const [label, src] of [["working tree", diskTemplate(root)] as const, ...commits.map((c) => [c, gitTemplate(c)] as const)]) {
  try {
    for (const f of await functionFiles(src, "rest")) add(files, f.path, sha256(f.content));
  } catch (e) {
    if (label === "working tree") throw e;
    skipped++; // a commit whose template adopt cannot read (before the function existed): no release adopted it
  }
  for (const m of await templateMigrations(src, () => true)) add(migrations, m.template, sha256(adoptedMigration(m.template, m.body)));
}
const sorted = (map: Map<string, Set<string>>) =>
  Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, [...v].sort()]));
writeFileSync(out, `${JSON.stringify({ files: sorted(files), migrations: sorted(migrations) }, null, 2)}\n`);
console.log(
  `released.json: ${files.size} files, ${migrations.size} migrations from ${commits.length} commits and the working tree (${skipped} commits without an adoptable function)`,
);

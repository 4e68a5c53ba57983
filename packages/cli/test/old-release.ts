// An earlier release of this repository, taken from its git history at test time: its template parts and its own
// CLI (bundled with esbuild as its build did), so a test can adopt a project exactly as that release did.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI_MODULES = fileURLToPath(new URL("../node_modules", import.meta.url));

/** The last release before adopt recorded supabase/fedjwt-adopted.json (the end of 2026-11-29's work). */
export const PRE_MANIFEST_RELEASE = "98053ec1ad9d38fc1463ad070d090afb66f23fde";

/** Extracts `commit`'s template and bundles its CLI: `cli` runs as `node <cli> …` and adopts from `dir`. */
export async function oldRelease(commit: string = PRE_MANIFEST_RELEASE): Promise<{ dir: string; cli: string }> {
  const has = spawnSync("git", ["-C", ROOT, "cat-file", "-e", `${commit}^{commit}`]);
  if (has.status !== 0)
    throw new Error(
      `commit ${commit} is not in this clone (a shallow one?): run git fetch --unshallow to test upgrades from earlier releases`,
    );
  const dir = mkdtempSync(join(tmpdir(), "fedjwt-release-"));
  const paths = ["tsconfig.base.json", "packages/cli", "packages/proxy", "packages/signer", "supabase"];
  const archive = spawnSync("sh", ["-c", `git -C "$1" archive "$2" ${paths.join(" ")} | tar -x -C "$3"`, "sh", ROOT, commit, dir]);
  if (archive.status !== 0) throw new Error(`git archive ${commit}: ${archive.stderr}`);
  const cli = join(dir, "fedjwt.mjs");
  await build({
    entryPoints: [join(dir, "packages/cli/src/bin.ts")],
    outfile: cli,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    logLevel: "error",
    alias: { "@fedjwt/signer": join(dir, "packages/signer/src/index.ts"), "@fedjwt/proxy": join(dir, "packages/proxy/src/index.ts") },
    nodePaths: [CLI_MODULES],
  });
  return { dir, cli };
}

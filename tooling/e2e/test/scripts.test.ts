// The root commands' entry points (pnpm dev in scripts/; pnpm bench, load, fuzz in tooling/bench/src) are not
// run whole by the suite: at least they must typecheck (strict), so a broken one is caught here, not by its next user.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const tsc = createRequire(`${root}package.json`).resolve("typescript/bin/tsc");

describe("scripts/", () => {
  it("has the entry points the root package.json runs", () => {
    expect(readdirSync(`${root}scripts`)).toEqual(expect.arrayContaining(["dev.ts"]));
    expect(readdirSync(`${root}tooling/bench/src`)).toEqual(expect.arrayContaining(["bench.ts", "fuzz.ts", "load.ts"]));
  });

  it("typechecks (strict)", () => {
    for (const project of ["tsconfig.scripts.json", "tooling/bench/tsconfig.json"]) {
      const r = spawnSync(process.execPath, [tsc, "-p", `${root}${project}`], { encoding: "utf8", cwd: root });
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
    }
  }, 60_000);
});

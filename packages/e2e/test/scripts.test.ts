// The root scripts (pnpm dev, bench, load, fuzz) are not run whole by the suite: at least they must
// typecheck (tsconfig.scripts.json, strict), so a broken script is caught here rather than by its next user.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const tsc = createRequire(`${root}package.json`).resolve("typescript/bin/tsc");

describe("scripts/", () => {
  it("has the scripts the README names", () => {
    expect(readdirSync(`${root}scripts`)).toEqual(expect.arrayContaining(["bench.ts", "dev.ts", "fuzz.ts", "load.ts"]));
  });

  it("typechecks (strict)", () => {
    const r = spawnSync(process.execPath, [tsc, "-p", `${root}tsconfig.scripts.json`], { encoding: "utf8", cwd: root });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 60_000);
});

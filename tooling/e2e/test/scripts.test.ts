// The root commands' entry points (pnpm dev in scripts/; pnpm bench, load, fuzz in tooling/bench/src) are not
// run whole by the suite: at least they must typecheck (strict), so a broken one is caught here, not by its next user.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("pnpm fedjwt", () => {
  it("prints only the CLI's own output (no build banner)", () => {
    const r = spawnSync("pnpm", ["fedjwt", "--help"], { encoding: "utf8", cwd: root });
    expect(r.status).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("Usage: fedjwt <command> [options]");
  }, 60_000);
});

describe("pnpm stack and pnpm dev", () => {
  // pnpm itself echoes "> pkg@ script" and the command line first (pnpm -s hides that); what follows is the command's.
  const ownLines = (text: string) => text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("> "));

  // A turbo that prints its banner on both streams and succeeds, building nothing: a real build here (forced under
  // CI) would rewrite every package's dist/ while the other suites run those files.
  const fakeTurbo = () => {
    const dir = mkdtempSync(join(tmpdir(), "fake-turbo-"));
    const bin = join(dir, "turbo");
    writeFileSync(
      bin,
      `#!/bin/sh\necho "turbo 2.x"; echo "   • Packages in scope: @fedjwt/cli"; echo ">>> FULL TURBO" >&2; echo "$@" > "${dir}/args"\n`,
      { mode: 0o755 },
    );
    return { env: { ...process.env, FEDJWT_TURBO: bin }, args: () => readFileSync(join(dir, "args"), "utf8").trim() };
  };

  it("pnpm stack prints its own output first: no turbo banner on stdout or stderr", () => {
    const turbo = fakeTurbo();
    const r = spawnSync("pnpm", ["stack", "--help"], { encoding: "utf8", cwd: root, env: turbo.env });
    expect(turbo.args()).toBe("run build --output-logs=errors-only --filter=@fedjwt/local-stack...");
    expect(r.status).toBe(0);
    expect(ownLines(r.stdout)[0]).toBe("Usage: fedjwt-stack <command> [options]");
    expect(r.stderr).toBe("");
  }, 60_000);

  it("pnpm dev's steps before scripts/dev.ts print nothing when the build succeeds", () => {
    const scripts = (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { scripts: Record<string, string> }).scripts;
    const before = scripts.dev!.replace(/ && node scripts\/dev\.ts$/, "");
    expect(before).not.toBe(scripts.dev);
    const turbo = fakeTurbo();
    const r = spawnSync("sh", ["-c", before], {
      encoding: "utf8",
      cwd: root,
      env: { ...turbo.env, PATH: `${root}node_modules/.bin:${process.env.PATH}` },
    });
    expect({ status: r.status, out: r.stdout + r.stderr, turbo: turbo.args() }).toEqual({
      status: 0,
      out: "",
      turbo: "run build --output-logs=errors-only",
    });
  }, 120_000);

  it("a failing build still prints turbo's error and fails", () => {
    const r = spawnSync(process.execPath, [`${root}scripts/build-quietly.mjs`, "--filter=@fedjwt/no-such-package"], {
      encoding: "utf8",
      cwd: root,
      env: { ...process.env, PATH: `${root}node_modules/.bin:${process.env.PATH}` },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("No package found with name '@fedjwt/no-such-package'");
  }, 60_000);
});

describe("pnpm dev with a Docker engine (a stand-in `docker` that answers `docker info`)", () => {
  it("runs the pinned Supabase CLI, shows its own error, exits non-zero with the way to the Docker-free stack", () => {
    const bin = mkdtempSync(join(tmpdir(), "fake-docker-"));
    // `docker info` answers; anything else fails as docker does when its engine is gone.
    writeFileSync(
      join(bin, "docker"),
      `#!/bin/sh\nif [ "$1" = info ]; then echo 27.0.0; exit 0; fi\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2\nexit 1\n`,
      { mode: 0o755 },
    );
    // A global `supabase` of another version must not be the one run.
    writeFileSync(join(bin, "supabase"), `#!/bin/sh\necho "GLOBAL SUPABASE CLI RAN: $*"\nexit 0\n`, { mode: 0o755 });
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${root}node_modules/.bin:${process.env.PATH}` };
    delete env.FEDJWT_NO_DOCKER;
    const turbo = { FEDJWT_TURBO: join(bin, "turbo") };
    writeFileSync(turbo.FEDJWT_TURBO, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const r = spawnSync("pnpm", ["dev"], { encoding: "utf8", cwd: root, env: { ...env, ...turbo }, timeout: 120_000 });
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toContain("Docker answers: using the pinned Supabase CLI");
    expect(out).not.toContain("GLOBAL SUPABASE CLI RAN");
    // The CLI's own message, naming the engine it could not reach…
    expect(out).toMatch(/failed to [^\n]*Cannot connect to the Docker daemon/);
    expect(out).toContain("pnpm dev failed: supabase start failed (exit 1)");
    // …then how to go on without Docker, and nothing printed as `undefined`.
    expect(out).toContain("To use the Docker-free local stack instead: pnpm dev --no-docker");
    expect(out).not.toContain("undefined");
    expect(r.status).not.toBe(0);
  }, 150_000);
});

describe("scripts/check-node.mjs", () => {
  it("refuses an old Node in one line naming the version needed", () => {
    // Simulates Node 20 by overriding process.versions before the check runs.
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.20.2'});Object.defineProperty(process,'version',{value:'v20.20.2'})",
        `${root}scripts/check-node.mjs`,
      ],
      { encoding: "utf8" },
    );
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^This project needs Node\.js 22\.18 or newer \(this is v20\.20\.2\): install Node 24/),
    ]);
  });

  it("accepts this Node", () => {
    const r = spawnSync(process.execPath, [`${root}scripts/check-node.mjs`], { encoding: "utf8" });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  });
});

describe("scripts/sum-test-results.mjs", () => {
  const sum = (log: string) => {
    const dir = mkdtempSync(join(tmpdir(), "sum-"));
    writeFileSync(join(dir, "log"), log);
    const r = spawnSync(process.execPath, [`${root}scripts/sum-test-results.mjs`, join(dir, "log"), root], { encoding: "utf8" });
    return { status: r.status, lines: r.stdout.trim().split("\n") };
  };
  const suites = () => {
    const out: string[] = [];
    for (const dir of ["apps", "packages", "tooling"]) {
      for (const name of readdirSync(`${root}${dir}`)) {
        if (!existsSync(`${root}${dir}/${name}/package.json`)) continue; // a leftover folder is no package, as for the script
        const pkg = JSON.parse(readFileSync(`${root}${dir}/${name}/package.json`, "utf8")) as { name: string; scripts?: { test?: string } };
        const script = pkg.scripts?.test ?? "";
        for (const _ of script.match(/\bvitest\b/g) ?? []) out.push(`${pkg.name}:test:       Tests  2 passed | 1 skipped (3)`);
        for (const _ of script.match(/\bdeno test\b/g) ?? []) out.push(`${pkg.name}:test: ok | 3 passed | 0 failed (10ms)`);
        for (const _ of script.match(/\bbun test\b/g) ?? [])
          out.push(`${pkg.name}:test:  4 pass`, `${pkg.name}:test:  0 fail`, `${pkg.name}:test: Ran 4 tests across 1 file. [20ms]`);
      }
    }
    return out;
  };

  it("sums every runner of every package", () => {
    const lines = suites();
    const r = sum(lines.join("\n"));
    const vitest = lines.filter((l) => l.includes("Tests")).length;
    const deno = lines.filter((l) => l.includes("ok |")).length;
    const bun = lines.filter((l) => l.includes("Ran ")).length;
    expect(r).toEqual({ status: 0, lines: [`${vitest * 2 + deno * 3 + bun * 4} passed, 0 failed, ${vitest} skipped`] });
  });

  it("counts a suite that printed no totals as failed, naming it", () => {
    const lines = suites().filter((l) => !l.startsWith("@fedjwt/e2e:"));
    const r = sum(lines.join("\n"));
    expect(r.status).toBe(1);
    expect(r.lines[0]).toBe(
      "sum-test-results: @fedjwt/e2e (vitest) printed no totals (crashed, timed out or never ran): counted as 1 failed",
    );
    expect(r.lines.at(-1)).toMatch(/^\d+ passed, 1 failed, \d+ skipped$/);
  });

  it("counts a failed task that is not a suite (a build, the Deno warm-up), naming it", () => {
    const r = sum([...suites(), "", " Tasks:    20 successful, 21 total", "Failed:    //#deno-cache"].join("\n"));
    expect(r.status).toBe(1);
    expect(r.lines[0]).toBe("sum-test-results: task //#deno-cache failed: counted as 1 failed");
    expect(r.lines.at(-1)).toMatch(/^\d+ passed, 1 failed, \d+ skipped$/);
  });

  it("counts a file that failed to load", () => {
    const r = sum(
      [...suites(), "@fedjwt/e2e:test:  Test Files  1 failed | 2 passed (3)", "@fedjwt/e2e:test:       Tests  5 passed (5)"].join("\n"),
    );
    expect(r.lines.at(-1)).toMatch(/^\d+ passed, 1 failed, \d+ skipped$/);
  });
});

describe("formatting", () => {
  it("the tree is formatted as biome.json says (pnpm format fixes it)", () => {
    const biome = createRequire(`${root}package.json`).resolve("@biomejs/biome/bin/biome");
    const r = spawnSync(process.execPath, [biome, "format", "--colors=off"], { encoding: "utf8", cwd: root });
    expect({ status: r.status, output: r.status === 0 ? "" : `${r.stdout}${r.stderr}`.slice(0, 2000) }).toEqual({ status: 0, output: "" });
  }, 60_000);
});

// The conformance runner without the upstream suite (its files are not in this repository): it says so and how
// to get it, never prints a pass rate, and refuses a directory that is not the expected checkout.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { manifest, prepareSuite, SuiteError, suiteDirFromArgs } from "../conformance/suite.ts";

const run = fileURLToPath(new URL("../conformance/run.ts", import.meta.url));
const env = { ...process.env, POSTGREST_JS_DIR: "" };

async function runner(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [run, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("conformance runner without the upstream suite", () => {
  it("the test script's mode prints one 'not run' line with how to run it, and passes", async () => {
    const r = await runner("--if-available");
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toContain("NOT RUN");
    expect(r.stdout).toContain(manifest.commit);
    expect(r.stdout).toContain("POSTGREST_JS_DIR");
    expect(r.stdout).not.toMatch(/\d+\/\d+|pass/);
  });

  it("pnpm conformance without a suite fails with the same message", async () => {
    const r = await runner();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("NOT RUN");
    expect(r.stdout).toBe("");
  });

  it("takes --suite before POSTGREST_JS_DIR, and refuses --suite without a directory", () => {
    expect(suiteDirFromArgs(["--suite", "/a"], { POSTGREST_JS_DIR: "/b" })).toBe("/a");
    expect(suiteDirFromArgs([], { POSTGREST_JS_DIR: "/b" })).toBe("/b");
    expect(suiteDirFromArgs([], {})).toBeUndefined();
    expect(() => suiteDirFromArgs(["--suite"], {})).toThrow(SuiteError);
  });

  it("refuses a directory that is not the checkout, naming the commit", async () => {
    const dir = await mkdtemp(join(tmpdir(), "not-postgrest-js-"));
    try {
      await expect(prepareSuite(dir)).rejects.toThrow(/missing .*381bded5ced48c4621830576bf8cbecc34edc85c/);
      await expect(prepareSuite(join(dir, "absent"))).rejects.toThrow(/is not a directory/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

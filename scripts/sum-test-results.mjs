#!/usr/bin/env node
// Sums the test totals of a `pnpm test` log (turbo prefixes each line with `<package>:test:`) and prints one
// closing line "N passed, N failed, N skipped". Every workspace package with a `test` script is expected to
// report once per runner its script names (vitest, deno test, bun test); a runner that never printed its
// totals — crashed, timed out, or never started because turbo stopped — counts as one failed test, so a
// suite can fail loudly but never vanish from the count. A failed task that is not a suite (a build, the
// Deno warm-up) counts as one failed test as well. Exits 1 when anything failed or the log holds no totals at all.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";

const [file, rootArg = "."] = process.argv.slice(2);
if (!file) {
  console.error("usage: sum-test-results.mjs <log file> [repo root]");
  process.exit(2);
}

/** Workspace packages with a test script, and the runners that script starts. */
function expectedSuites(root) {
  const suites = new Map();
  const globs = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8").match(/^\s+-\s+"?([\w.-]+)\/\*"?\s*$/gm) ?? [];
  for (const g of globs) {
    const dir = g.replace(/^\s+-\s+"?/, "").replace(/\/\*"?\s*$/, "");
    if (!existsSync(join(root, dir))) continue;
    for (const name of readdirSync(join(root, dir))) {
      const manifest = join(root, dir, name, "package.json");
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, "utf8"));
      const script = pkg.scripts?.test;
      if (!script) continue;
      const runners = [];
      for (const [runner, re] of [
        ["vitest", /\bvitest\b/g],
        ["deno", /\bdeno test\b/g],
        ["bun", /\bbun test\b/g],
      ]) {
        for (let i = 0; i < (script.match(re) ?? []).length; i++) runners.push(runner);
      }
      suites.set(pkg.name, runners);
    }
  }
  return suites;
}

// vitest: "      Tests  1 failed | 86 passed | 2 skipped (89)"; "Test Files  1 failed | 3 passed (4)"
const VITEST = /\bTests\s+((?:\d+ [a-z]+(?: \| )?)+)\s*\(\d+\)\s*$/;
const VITEST_FILES = /\bTest Files\s+(\d+) failed/;
// deno test: "ok | 4 passed | 0 failed (249ms)" or "FAILED | 3 passed | 1 failed | 2 ignored (…)"
const DENO = /\b(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \| (\d+) ignored)?/;
// bun test: " 12 pass", " 0 fail", then "Ran 12 tests across 1 file."
const BUN_PASS = /^\s*(\d+) pass\s*$/;
const BUN_FAIL = /^\s*(\d+) fail\s*$/;
const BUN_SKIP = /^\s*(\d+) skip\s*$/;
const BUN_RAN = /^\s*Ran \d+ tests? across/;

// eslint-disable-next-line no-control-regex
const text = readFileSync(file, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
const totals = { passed: 0, failed: 0, skipped: 0 };
const reported = new Map(); // package → runners that printed totals
const state = new Map(); // package → { failedFiles, bun: {pass, fail, skip} }
let runs = 0;

for (const raw of text.split("\n")) {
  const prefix = /^(@?[\w./-]+):test:\s?(.*)$/.exec(raw);
  const pkg = prefix ? prefix[1] : "(unprefixed)";
  const line = prefix ? prefix[2] : raw;
  const s = state.get(pkg) ?? { failedFiles: 0, bun: { pass: 0, fail: 0, skip: 0 } };
  state.set(pkg, s);
  const seen = (runner) => {
    runs++;
    reported.set(pkg, [...(reported.get(pkg) ?? []), runner]);
  };
  const files = VITEST_FILES.exec(line);
  if (files) s.failedFiles = Number(files[1]);
  const v = VITEST.exec(line);
  const d = DENO.exec(line);
  if (v) {
    let failedHere = 0;
    for (const m of v[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
      if (m[2] === "passed") totals.passed += Number(m[1]);
      else if (m[2] === "failed") failedHere += Number(m[1]);
      else totals.skipped += Number(m[1]);
    }
    // a file that fails to load fails no test, but must not read as "0 failed"
    totals.failed += Math.max(failedHere, s.failedFiles);
    s.failedFiles = 0;
    seen("vitest");
  } else if (d) {
    totals.passed += Number(d[1]);
    totals.failed += Number(d[2]);
    totals.skipped += Number(d[3] ?? 0);
    seen("deno");
  } else if (BUN_PASS.test(line)) s.bun.pass = Number(BUN_PASS.exec(line)[1]);
  else if (BUN_FAIL.test(line)) s.bun.fail = Number(BUN_FAIL.exec(line)[1]);
  else if (BUN_SKIP.test(line)) s.bun.skip = Number(BUN_SKIP.exec(line)[1]);
  else if (BUN_RAN.test(line)) {
    totals.passed += s.bun.pass;
    totals.failed += s.bun.fail;
    totals.skipped += s.bun.skip;
    s.bun = { pass: 0, fail: 0, skip: 0 };
    seen("bun");
  }
}

// turbo's closing "Failed:    a#build, //#deno-cache": a task that is not a test suite (a build, the Deno
// warm-up) failing is counted too, so the closing line never reads "0 failed" on a failed run.
const failedTasks = new Set();
for (const m of text.matchAll(/^\s*Failed:\s+(.+)$/gm)) {
  for (const task of m[1].split(/,\s*/)) if (task.trim() && !task.trim().endsWith("#test")) failedTasks.add(task.trim());
}

const missing = [];
for (const [pkg, runners] of expectedSuites(rootArg)) {
  const got = [...(reported.get(pkg) ?? [])];
  for (const runner of runners) {
    const i = got.indexOf(runner);
    if (i >= 0) got.splice(i, 1);
    else missing.push(`${pkg} (${runner})`);
  }
}
for (const m of missing) console.log(`sum-test-results: ${m} printed no totals (crashed, timed out or never ran): counted as 1 failed`);
for (const t of failedTasks) console.log(`sum-test-results: task ${t} failed: counted as 1 failed`);
totals.failed += missing.length + failedTasks.size;

console.log(`${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ""}`);
if (runs === 0) {
  console.error("sum-test-results: no test totals found in the log");
  process.exit(1);
}
if (totals.failed > 0) process.exit(1);

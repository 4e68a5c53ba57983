#!/usr/bin/env node
// Sums the test totals printed by every runner in a `pnpm test` log (vitest and `deno test`) and prints one
// closing line "N passed, N failed". Exits 1 when the log has no totals at all (a run that tested nothing).
import { readFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: sum-test-results.mjs <log file>");
  process.exit(2);
}
// eslint-disable-next-line no-control-regex
const text = readFileSync(file, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
let passed = 0;
let failed = 0;
let runs = 0;
let failedFiles = 0; // vitest: a file that fails to load fails no test, but must not read as "0 failed"
for (const line of text.split("\n")) {
  const files = /\bTest Files\s+(\d+) failed/.exec(line);
  if (files) failedFiles = Number(files[1]);
  // vitest: "      Tests  1 failed | 86 passed | 2 skipped (89)"
  const vitest = /\bTests\s+((?:\d+ [a-z]+(?: \| )?)+)\s*\(\d+\)\s*$/.exec(line);
  // deno test: "ok | 4 passed | 0 failed (249ms)" or "FAILED | 3 passed | 1 failed (…)"
  const deno = /\b(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/.exec(line);
  if (vitest) {
    runs++;
    let failedHere = 0;
    for (const m of vitest[1].matchAll(/(\d+) (passed|failed)/g)) {
      if (m[2] === "passed") passed += Number(m[1]);
      else failedHere += Number(m[1]);
    }
    failed += Math.max(failedHere, failedFiles);
    failedFiles = 0;
  } else if (deno) {
    runs++;
    passed += Number(deno[1]);
    failed += Number(deno[2]);
  }
}
console.log(`${passed} passed, ${failed} failed`);
if (runs === 0) {
  console.error("sum-test-results: no test totals found in the log");
  process.exit(1);
}

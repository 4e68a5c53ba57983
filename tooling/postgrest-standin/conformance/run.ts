// The conformance run: postgrest-js's own test suite against the stand-in. The suite is not in this repository
// (its files cannot be committed here): it is read from a local checkout of supabase/supabase-js at the commit in
// upstream-files.json, checked and copied into a temporary folder by suite.ts. Starts embedded PostgreSQL with
// the upstream schema and seed, the stand-in over it, then the copied tests under vitest. Exits non-zero when a
// test fails that is not in expected-failures.json, or when a test listed there passes (remove it from the
// list). Prints the pass rate.
//   node conformance/run.ts --suite <supabase-js>/packages/core/postgrest-js [--list]   (or POSTGREST_JS_DIR)
//   --list prints every failing test with its first error line.
//   --if-available (the package's test script): without a suite, print that it was not run and exit 0.
import { readFile, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { LOCAL_JWT_SECRET } from "@fedjwt/local-db";
import { startVitest } from "vitest/node";
import { startPostgrestStandIn } from "../src/server.ts";
import { startUpstreamDb } from "./database.ts";
import { HOW_TO_GET_IT, prepareSuite, SuiteError, suiteDirFromArgs, type PreparedSuite } from "./suite.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const NOT_RUN =
  "postgrest-js conformance: NOT RUN, no suite given (postgrest-js's tests cannot be committed to this " +
  `repository, so the run reads them from a local checkout). To run it: ${HOW_TO_GET_IT}`;

let suite: PreparedSuite;
try {
  const dir = suiteDirFromArgs(process.argv.slice(2), process.env);
  if (dir === undefined) {
    if (process.argv.includes("--if-available")) {
      console.log(NOT_RUN);
      process.exit(0);
    }
    console.error(NOT_RUN);
    process.exit(1);
  }
  suite = await prepareSuite(dir);
} catch (e) {
  if (!(e instanceof SuiteError)) throw e;
  console.error(`postgrest-js conformance: NOT RUN, ${e.message}`);
  process.exit(1);
}
const upstreamTests = `${suite.root}/test`;

/** Test id as listed in expected-failures.json: "<file> > <describe> > <test>". */
interface Outcome {
  id: string;
  file: string;
  state: string;
  error: string;
  ms: number;
}

const expected = JSON.parse(await readFile(`${here}expected-failures.json`, "utf8")) as Record<string, string>;
const listMode = process.argv.includes("--list");

const t0 = performance.now();
const db = await startUpstreamDb(`${upstreamTests}/supabase`).catch(async (e: unknown) => {
  await rm(suite.root, { recursive: true, force: true });
  throw e;
});
const rest = await startPostgrestStandIn({
  dbUrl: db.url.replace("postgres:postgres@", "authenticator:postgres@"),
  jwtSecret: LOCAL_JWT_SECRET,
  // upstream config.toml [api]: schemas, extra_search_path, max_rows
  schemas: ["public", "personal", "graphql_public"],
  extraSearchPath: ["public", "extensions"],
  maxRows: 1000,
}).catch(async (e: unknown) => {
  await db.stop();
  await rm(suite.root, { recursive: true, force: true });
  throw e;
});
process.env.CONFORMANCE_REST_URL = rest.url;
process.env.CONFORMANCE_SUITE_ROOT = suite.root;
// vitest writes a missing inline snapshot into the test file unless it runs as CI: the copies are compared, never rewritten.
process.env.CI ||= "true";
const outcomes: Outcome[] = [];
let exitCode = 0;
try {
  const vitest = await startVitest([], {
    config: `${here}vitest.config.ts`,
    run: true,
    watch: false,
    reporters: [
      ...(listMode ? ["default" as const] : []),
      {
        onTestRunEnd(modules) {
          for (const m of modules) {
            const file = m.moduleId.slice(upstreamTests.length + 1);
            for (const t of m.children.allTests()) {
              const r = t.result();
              const error = r.state === "failed" ? (r.errors?.[0]?.message ?? "").split("\n")[0]! : "";
              outcomes.push({ id: `${file} > ${t.fullName}`, file, state: r.state, error, ms: t.diagnostic()?.duration ?? 0 });
            }
          }
        },
      },
    ],
  });
  await vitest.close();
} finally {
  await rest.close();
  await db.stop();
  await rm(suite.root, { recursive: true, force: true });
}

const serverFiles = suite.serverFiles;
const ran = outcomes.filter((o) => o.state === "passed" || o.state === "failed");
const passed = ran.filter((o) => o.state === "passed");
const failed = ran.filter((o) => o.state === "failed");
const server = ran.filter((o) => serverFiles.has(o.file));
const serverPassed = server.filter((o) => o.state === "passed");
const unexpected = failed.filter((o) => !(o.id in expected));
const fixed = passed.filter((o) => o.id in expected);
const stale = Object.keys(expected).filter((id) => !outcomes.some((o) => o.id === id));

if (listMode) {
  for (const o of failed) console.log(`FAIL ${o.id}\n     ${o.error}`);
  for (const o of outcomes.filter((o) => o.ms > 1000)) console.log(`slow (${Math.round(o.ms)} ms): ${o.id}`);
}
for (const o of unexpected) console.error(`unexpected failure: ${o.id}\n     ${o.error}`);
for (const o of fixed) console.error(`listed as failing but passes (remove it from expected-failures.json): ${o.id}`);
for (const id of stale) console.error(`listed in expected-failures.json but not run: ${id}`);
if (server.length === 0) console.error("no test of the suite ran (see the errors above)");
if (unexpected.length || fixed.length || stale.length || server.length === 0) exitCode = 1;

const pct = (a: number, b: number) => (b === 0 ? "0.0" : ((100 * a) / b).toFixed(1));
console.log(
  `postgrest-js conformance: ${serverPassed.length}/${server.length} tests that reach the server pass (${pct(serverPassed.length, server.length)} %); ` +
    `${outcomes.length - ran.length} skipped upstream, ${failed.length - unexpected.length} expected failures (expected-failures.json), ${unexpected.length} unexpected, ${fixed.length} listed but passing; ` +
    `${Math.round((performance.now() - t0) / 1000)} s`,
);
process.exit(exitCode);

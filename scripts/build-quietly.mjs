#!/usr/bin/env node
// `turbo run build <args>` that prints nothing when the build succeeds (turbo's banner — version, packages in
// scope, cache summary — would otherwise come before the command's own output) and everything turbo printed,
// on stderr, with turbo's exit code, when it fails. `pnpm dev` and `pnpm stack` build through it.
import { spawnSync } from "node:child_process";

// FEDJWT_TURBO names another turbo binary: the e2e suite's checks of this script use a stand-in there, since a real
// build under CI (TURBO_FORCE) would rewrite every package's dist/ while other suites run those files.
const r = spawnSync(process.env.FEDJWT_TURBO || "turbo", ["run", "build", "--output-logs=errors-only", ...process.argv.slice(2)], {
  encoding: "utf8",
  stdio: ["ignore", "pipe", "pipe"],
  maxBuffer: 64 * 1024 * 1024,
});
if (r.error) {
  console.error(`cannot run turbo: ${r.error.message} (run pnpm install first)`);
  process.exit(1);
}
if (r.status !== 0) {
  process.stderr.write(`${r.stdout}${r.stderr}`);
  process.exit(r.status ?? 1);
}

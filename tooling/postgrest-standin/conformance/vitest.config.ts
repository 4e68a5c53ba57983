// Runs postgrest-js's own test files (copied by suite.ts from a local checkout of supabase-js into a temporary
// folder, unchanged but for the base URL) under vitest with a jest-compatible global. Started by run.ts, which
// provides the copy (CONFORMANCE_SUITE_ROOT), the database and the stand-in.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Files in path order, like upstream's testSequencer.js: later files see what earlier ones wrote. */
class PathOrder extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return Promise.resolve([...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId)));
  }
}

const root = process.env.CONFORMANCE_SUITE_ROOT;
if (!root) throw new Error("conformance/vitest.config.ts is started by conformance/run.ts (CONFORMANCE_SUITE_ROOT is not set)");

export default defineConfig({
  root,
  resolve: {
    // The copied tests live outside the workspace: their one runtime dependency resolves to this package's.
    alias: [{ find: /^zod$/, replacement: fileURLToPath(import.meta.resolve("zod")) }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    globals: true,
    setupFiles: [fileURLToPath(new URL("./jest-shim.ts", import.meta.url))],
    // Upstream runs one file at a time, in path order, against one database (jest.config.ts: maxWorkers 1).
    fileParallelism: false,
    sequence: { shuffle: false, sequencer: PathOrder },
    testTimeout: 30_000,
    // A snapshot that does not match fails: never rewritten (run.ts also sets CI, so none is written).
    update: false,
  },
});

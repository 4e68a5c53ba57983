// Runs postgrest-js's own test files (vendored unchanged in postgrest-js/, but for the base URL) under vitest
// with a jest-compatible global. Started by run.ts, which provides the database and the stand-in.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Files in path order, like upstream's testSequencer.js: later files see what earlier ones wrote. */
class PathOrder extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return Promise.resolve([...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId)));
  }
}


const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  test: {
    include: ["postgrest-js/test/**/*.test.ts"],
    globals: true,
    setupFiles: ["./jest-shim.ts"],
    // Upstream runs one file at a time, in path order, against one database (jest.config.ts: maxWorkers 1).
    fileParallelism: false,
    sequence: { shuffle: false, sequencer: PathOrder },
    testTimeout: 30_000,
    // A snapshot that does not match fails: never rewritten here (run.ts also sets CI, so none is written).
    update: false,
  },
});

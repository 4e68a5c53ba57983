import { defineConfig } from "vitest/config";

// Tests run the built CLI in subprocesses (a few per test; RSA keygen in some). Measured: up to ~10 s for one
// test on two cores loaded by other suites (4.4 s in a cold CI run with two CPU burners); 60 s leaves more than 3x.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], testTimeout: 60_000 } });

import { defineConfig } from "vitest/config";

// test/deno/ and test/bun/ hold the same contract for real Deno and Bun; vitest runs the Node suite only.
// RSA key generation takes seconds when the two cores are shared: 30 s per test.
// Slowest file under load (a cold CI run with two CPU burners on the two cores): 0.7 s.
export default defineConfig({ test: { include: ["test/*.test.ts"], testTimeout: 30_000 } });

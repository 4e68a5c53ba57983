import { defineConfig } from "vitest/config";

// Every test file starts its own PostgreSQL; two cores, so two files at a time at most.
// Slowest test under load (a cold CI run with two CPU burners on the two cores): 2.1 s; a whole file 13 s.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], maxWorkers: 2, testTimeout: 30_000, hookTimeout: 120_000 } });

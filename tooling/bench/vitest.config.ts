import { defineConfig } from "vitest/config";

// Every test file starts its own PostgreSQL; two cores, so two files at a time at most.
// Slowest test under load (a cold CI run with two CPU burners on the two cores): 1.9 s; database start well under 120 s.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], maxWorkers: 2, testTimeout: 30_000, hookTimeout: 120_000 } });

import { defineConfig } from "vitest/config";

// Every test file starts its own PostgreSQL; two cores, so two files at a time at most.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], maxWorkers: 2, testTimeout: 30_000, hookTimeout: 120_000 } });

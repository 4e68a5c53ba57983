import { defineConfig } from "vitest/config";

// Each file starts its own stack (or shares the one E2E_API_URL names): one file at a time per core.
// Slowest test under load (a cold CI run with two CPU burners on the two cores): 8.3 s (db push); a whole file 27 s.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], maxWorkers: 2, testTimeout: 60_000, hookTimeout: 120_000 } });

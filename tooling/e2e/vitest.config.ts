import { defineConfig } from "vitest/config";

// Each file starts its own stack (or shares the one E2E_API_URL names): one file at a time per core.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], maxWorkers: 2, testTimeout: 60_000, hookTimeout: 120_000 } });

import { defineConfig } from "vitest/config";

// In-process tests against a local HTTP server on port 0 (no stack). Key generation takes seconds when the
// two cores are shared: 30 s per test, as in packages/signer and packages/proxy.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 120_000 } });

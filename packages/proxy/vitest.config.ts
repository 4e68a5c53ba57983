import { defineConfig } from "vitest/config";

// In-process tests, plus one file that runs the function under real Deno (its own limits per test). RSA key
// generation and 100+ signature checks per file take seconds when the two cores are shared: 30 s per test.
// Slowest under load (a cold CI run with two CPU burners on the two cores): 8.0 s (deno check, own 60 s limit).
export default defineConfig({ test: { include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 120_000 } });

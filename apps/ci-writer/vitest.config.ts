import { defineConfig } from "vitest/config";

// In-process tests against loopback servers (no stack): the local Actions token service and a stand-in
// gateway. RSA key generation takes seconds when the two cores are shared.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 120_000 } });

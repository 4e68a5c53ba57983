import { defineConfig } from "vitest/config";

// test/deno/ holds the same contract for real Deno (`deno test`); vitest runs the Node suite only.
export default defineConfig({ test: { include: ["test/*.test.ts"] } });

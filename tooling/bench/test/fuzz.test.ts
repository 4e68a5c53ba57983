// A short, seeded run of the fuzzer (pnpm fuzz runs 100,000 cases).
import { describe, expect, it } from "vitest";
import { fuzz } from "../src/fuzz-engine.ts";

describe("fuzzing the gateway handler", () => {
  it.each([1, 2])("seed %i: 1500 cases, no exception, no 5xx, nothing forwarded without a valid signature", async (seed) => {
    const report = await fuzz(1500, seed);
    console.log(`fuzz seed ${seed}: statuses ${JSON.stringify(report.statuses)}, forwarded ${report.forwarded}, unconstructible ${report.unconstructible}`);
    expect(report.failures).toEqual([]);
    expect(report.forwarded).toBeGreaterThan(0); // the valid path is exercised too
    expect(Object.keys(report.reasons).length).toBeGreaterThan(8); // and many kinds of refusal
  }, 120_000);
});

// A short run of the fuzzer (pnpm fuzz runs 100,000 cases), and the fuzzer's own promise: a failure is shrunk
// and comes with a seed and path that replay it.
import { describe, expect, it } from "vitest";
import { fuzz } from "../src/fuzz-engine.ts";

describe("fuzzing the gateway handler", () => {
  it.each([1, 2])(
    "seed %i: 1500 cases, no exception, no 5xx, nothing forwarded without a valid signature",
    async (seed) => {
      const report = await fuzz(1500, seed);
      console.log(
        `fuzz seed ${seed}: statuses ${JSON.stringify(report.statuses)}, forwarded ${report.forwarded}, unconstructible ${report.unconstructible}`,
      );
      expect(report.failures).toEqual([]);
      expect(report.forwarded).toBeGreaterThan(0); // the valid path is exercised too
      expect(Object.keys(report.reasons).length).toBeGreaterThan(8); // and many kinds of refusal
    },
    120_000,
  );

  it("a failing case is shrunk, and its seed and path replay the same case", async () => {
    // An oracle that wrongly calls every bad_signature refusal a bug: the fuzzer must find one, shrink it, say how to replay it.
    const extraOracle = (a: { status: number; body: string }) => (a.body.includes('"bad_signature"') ? "planted failure" : undefined);
    const first = await fuzz(500, 7, { extraOracle });
    expect(first.failures).toHaveLength(1);
    expect(first.failures[0]).toMatch(/^planted failure\n {2}shrunk case: .+\n {2}replay: pnpm fuzz --seed 7 --path [\d:]+$/);
    // Shrunk: at most one token mutation, no extra headers.
    expect({ mutations: first.case!.mutations.length <= 1, headers: first.case!.headers.length }).toEqual({ mutations: true, headers: 0 });
    const replayed = await fuzz(500, first.replay!.seed, { extraOracle, path: first.replay!.path });
    expect(replayed.counterexample).toBe(first.counterexample);
  }, 120_000);
});

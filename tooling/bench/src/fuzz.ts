// pnpm fuzz [--iterations 100000] [--seed 1] [--path P]: the gateway fuzzer at full size (the test runs a short
// version). A failure is shrunk to a small case and printed with the --seed and --path that replay it.
import { parseArgs } from "node:util";
import { fuzz } from "./fuzz-engine.ts";

const { values } = parseArgs({
  options: { iterations: { type: "string", default: "100000" }, seed: { type: "string", default: "1" }, path: { type: "string" } },
});
const iterations = Number(values.iterations);
const seed = Number(values.seed);
if (!Number.isSafeInteger(iterations) || iterations < 1 || !Number.isSafeInteger(seed)) {
  console.error("usage: pnpm fuzz [--iterations N] [--seed N] [--path P]");
  process.exit(2);
}
const t0 = performance.now();
const r = await fuzz(iterations, seed, values.path !== undefined ? { path: values.path } : {});
const seconds = (performance.now() - t0) / 1000;
console.log(`fuzz: ${iterations} cases (seed ${seed}) in ${seconds.toFixed(1)} s, ${Math.round(iterations / seconds)} cases/s`);
console.log(`  statuses: ${JSON.stringify(r.statuses)}`);
console.log(`  refusal reasons: ${JSON.stringify(r.reasons)}`);
console.log(
  `  forwarded (pristine valid tokens on allowed paths): ${r.forwarded}; requests the Fetch API itself refused to build: ${r.unconstructible}`,
);
console.log(
  r.failures.length === 0
    ? "  oracle: no exception, no 5xx, nothing forwarded without a valid signature"
    : `  FAILURE:\n${r.failures.join("\n")}`,
);
process.exitCode = r.failures.length === 0 ? 0 : 1;

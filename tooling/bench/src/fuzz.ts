// pnpm fuzz [--iterations 100000] [--seed 1]: the gateway fuzzer at full size (the test runs a short version).
import { parseArgs } from "node:util";
import { fuzz } from "./fuzz-engine.ts";

const { values } = parseArgs({ options: { iterations: { type: "string", default: "100000" }, seed: { type: "string", default: "1" } } });
const iterations = Number(values.iterations);
const seed = Number(values.seed);
if (!Number.isSafeInteger(iterations) || iterations < 1 || !Number.isSafeInteger(seed)) {
  console.error("usage: pnpm fuzz [--iterations N] [--seed N]");
  process.exit(2);
}
const t0 = performance.now();
const chunk = 10_000;
const totals = { statuses: {} as Record<string, number>, reasons: {} as Record<string, number>, forwarded: 0, unconstructible: 0, failures: [] as string[] };
for (let done = 0, part = 0; done < iterations; done += chunk, part++) {
  // Chunks keep memory flat; each chunk's seed is derived from the run's seed, so the run is reproducible.
  const n = Math.min(chunk, iterations - done);
  const r = await fuzz(n, seed * 1_000_003 + part);
  for (const [k, v] of Object.entries(r.statuses)) totals.statuses[k] = (totals.statuses[k] ?? 0) + v;
  for (const [k, v] of Object.entries(r.reasons)) totals.reasons[k] = (totals.reasons[k] ?? 0) + v;
  totals.forwarded += r.forwarded;
  totals.unconstructible += r.unconstructible;
  totals.failures.push(...r.failures);
  process.stdout.write(`\r  ${done + n}/${iterations} cases, ${totals.failures.length} failures`);
}
const seconds = (performance.now() - t0) / 1000;
console.log(`\nfuzz: ${iterations} cases (seed ${seed}) in ${seconds.toFixed(1)} s, ${Math.round(iterations / seconds)} cases/s`);
console.log(`  statuses: ${JSON.stringify(totals.statuses)}`);
console.log(`  refusal reasons: ${JSON.stringify(totals.reasons)}`);
console.log(`  forwarded (pristine valid tokens on allowed paths): ${totals.forwarded}; requests the Fetch API itself refused to build: ${totals.unconstructible}`);
console.log(totals.failures.length === 0 ? "  oracle: no exception, no 5xx, nothing forwarded without a valid signature" : `  FAILURES:\n${totals.failures.slice(0, 20).join("\n")}`);
process.exitCode = totals.failures.length === 0 ? 0 : 1;

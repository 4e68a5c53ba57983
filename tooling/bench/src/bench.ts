// pnpm bench: measured figures for docs/benchmarks.md (+ .json and the chart .svg). Loopback only, bounded
// in count. It prints ratios measured in one run; nothing here is a test and nothing is asserted.
// The engines live beside it: processes.ts (stack and deno processes), procfs.ts (CPU from /proc),
// cannon.ts (autocannon runs), experiments.ts (what is measured), report.ts (markdown and chart).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { repoRoot, stopChild } from "@fedjwt/local-stack";
import { writeAuditCost } from "./audit-cost.ts";
import {
  benchWriter,
  coldStart,
  functionCpu,
  handlerCost,
  keepAlive,
  overhead,
  policyCost,
  revocation,
  verifyThroughput,
} from "./experiments.ts";
import { machineInfo, startStackProcess } from "./processes.ts";
import { renderChart, renderMarkdown, renderScaleChart, type BenchResults } from "./report.ts";
import { firstSeen, scale } from "./scale.ts";

const log = (s: string) => console.log(s);
const root = repoRoot();

// `--render`: rewrite docs/benchmarks.md and .svg from docs/benchmarks.json without measuring again.
if (process.argv.includes("--render")) {
  const results = JSON.parse(readFileSync(join(root, "docs/benchmarks.json"), "utf8")) as BenchResults;
  writeFileSync(join(root, "docs/benchmarks.svg"), await renderChart(results));
  writeFileSync(join(root, "docs/benchmarks-scale.svg"), await renderScaleChart(results));
  writeFileSync(join(root, "docs/benchmarks.md"), renderMarkdown(results, "benchmarks.svg", "benchmarks-scale.svg"));
  log("rendered docs/benchmarks.md, docs/benchmarks.svg and docs/benchmarks-scale.svg from docs/benchmarks.json");
  process.exit(0);
}

// `--only=first-seen`: measure section 8 again and keep every other figure of docs/benchmarks.json (the
// section then says when it ran).
if (process.argv.includes("--only=first-seen")) {
  const results = JSON.parse(readFileSync(join(root, "docs/benchmarks.json"), "utf8")) as BenchResults;
  log("8. per-request tokens: CPU per first-seen token, this tree against the baseline commit (alone)");
  results.firstSeen = { ...(await firstSeen(log)), alone: true };
  writeFileSync(join(root, "docs/benchmarks.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(root, "docs/benchmarks-scale.svg"), await renderScaleChart(results));
  writeFileSync(join(root, "docs/benchmarks.md"), renderMarkdown(results, "benchmarks.svg", "benchmarks-scale.svg"));
  log("\nwrote section 8 into docs/benchmarks.md, .json and docs/benchmarks-scale.svg");
  process.exit(0);
}

// `--only=scale`: measure sections 7 and 8 again (the rest function alone before a fake project; no stack) and
// keep every other figure of docs/benchmarks.json (the sections say when they ran, and the machine's load).
if (process.argv.includes("--only=scale")) {
  const file = join(root, "docs/benchmarks.json");
  const results = JSON.parse(readFileSync(file, "utf8")) as BenchResults;
  log(
    `7. scale: many writers on one instance (alone; load average ${loadavg()
      .map((n) => n.toFixed(2))
      .join(", ")})`,
  );
  results.scale = await scale(log);
  log("\n8. per-request tokens: CPU per first-seen token, this tree against the baseline commit (alone)");
  results.firstSeen = { ...(await firstSeen(log)), alone: true };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(root, "docs/benchmarks-scale.svg"), await renderScaleChart(results));
  writeFileSync(join(root, "docs/benchmarks.md"), renderMarkdown(results, "benchmarks.svg", "benchmarks-scale.svg"));
  log("\nwrote sections 7 and 8 into docs/benchmarks.md, .json and docs/benchmarks-scale.svg");
  process.exit(0);
}

// `--only=write-audit`: measure section 9 (the write audit's cost) again and keep every other figure.
if (process.argv.includes("--only=write-audit")) {
  const results = JSON.parse(readFileSync(join(root, "docs/benchmarks.json"), "utf8")) as BenchResults;
  const stack = await startStackProcess();
  try {
    log("9. the write audit's cost (inserts through the function, audit trigger on and off; alone)");
    results.writeAudit = await writeAuditCost(stack, await benchWriter(stack), log);
  } finally {
    await stopChild(stack.child);
  }
  writeFileSync(join(root, "docs/benchmarks.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(root, "docs/benchmarks.md"), renderMarkdown(results, "benchmarks.svg", "benchmarks-scale.svg"));
  log("\nwrote section 9 into docs/benchmarks.md and .json (the other sections kept)");
  process.exit(0);
}

// `--only=policy`: measure section 4b again (trust-policy matching and the workload-token handler) and keep
// every other figure of docs/benchmarks.json (the section says when it ran).
if (process.argv.includes("--only=policy")) {
  const file = join(root, "docs/benchmarks.json");
  const results = JSON.parse(readFileSync(file, "utf8")) as BenchResults;
  const loadAverage = loadavg().map((n) => Number(n.toFixed(2)));
  log("4b. trust-policy matching and the workload-token handler, in-process");
  results.policy = { ...(await policyCost(log)), measuredAt: new Date().toISOString(), loadAverage };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(root, "docs/benchmarks.md"), renderMarkdown(results, "benchmarks.svg", "benchmarks-scale.svg"));
  log("wrote section 4b into docs/benchmarks.json and docs/benchmarks.md");
  process.exit(0);
}

const machine = await machineInfo();
// Say what else the machine was doing: figures from a busy machine are noisier (set by whoever runs it).
const conditions = process.env.FEDJWT_BENCH_CONDITIONS ?? "";
log(`bench on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.deno}`);

log("\n4. the handler's own cost, in-process");
const handler = await handlerCost(log);
log("\n4b. trust-policy matching and the workload-token handler, in-process");
const policyStart = loadavg().map((n) => Number(n.toFixed(2)));
const policy = { ...(await policyCost(log)), measuredAt: new Date().toISOString(), loadAverage: policyStart };
log("\n3. verify throughput");
const verify = await verifyThroughput(log);
log("\n7. scale: many writers on one instance (the rest function alone before an instant fake project)");
const scaled = await scale(log);
log("\n8. per-request tokens: CPU per first-seen token, this tree against the baseline commit");
const seen = await firstSeen(log);
log("\n2b. upstream keep-alive (the rest function before an instant upstream that counts connections)");
const alive = await keepAlive(log);
const stack = await startStackProcess();
try {
  const writer = await benchWriter(stack);
  log("\n1. proxy overhead (autocannon; an insert with return=representation, then a select by id)");
  const over = await overhead(stack, writer, log);
  log("\n2. the function's CPU, taken apart (four deno processes loaded in turn, concurrency 50)");
  const fnCpu = await functionCpu(stack, writer, log);
  log("\n5. revocation latency");
  const revoke = await revocation(stack, 20, log);
  log("\n6. function cold start");
  const cold = await coldStart(stack, 7, log);
  log("\n9. the write audit's cost (inserts through the function, audit trigger on and off)");
  const writeAudit = await writeAuditCost(stack, writer, log);
  const loadAverageAtEnd = loadavg().map((n) => Number(n.toFixed(2)));
  const results: BenchResults = {
    machine,
    conditions,
    loadAverageAtEnd,
    overhead: over,
    functionCpu: fnCpu,
    keepAlive: alive,
    verifyPerSecond: verify,
    handler,
    policy,
    revocation: revoke,
    coldStart: cold,
    scale: scaled,
    firstSeen: seen,
    writeAudit,
  };
  mkdirSync(join(root, "docs"), { recursive: true });
  writeFileSync(join(root, "docs/benchmarks.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(root, "docs/benchmarks.svg"), await renderChart(results));
  writeFileSync(join(root, "docs/benchmarks-scale.svg"), await renderScaleChart(results));
  writeFileSync(join(root, "docs/benchmarks.md"), renderMarkdown(results, "benchmarks.svg", "benchmarks-scale.svg"));
  log("\nwrote docs/benchmarks.md, docs/benchmarks.json, docs/benchmarks.svg and docs/benchmarks-scale.svg");
} finally {
  await stopChild(stack.child);
}

// pnpm bench: measured figures for docs/benchmarks.md (+ .json and the chart .svg). Loopback only, bounded
// in count. It prints ratios measured in one run; nothing here is a test and nothing is asserted.
// The engines live beside it: processes.ts (stack and deno processes), procfs.ts (CPU from /proc),
// cannon.ts (autocannon runs), experiments.ts (what is measured), report.ts (markdown and chart).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { repoRoot, stopChild } from "@fedjwt/local-stack";
import { writeAuditCost } from "./audit-cost.ts";
import { benchWriter, coldStart, functionCpu, handlerCost, keepAlive, overhead, revocation, verifyThroughput } from "./experiments.ts";
import { machineInfo, startStackProcess } from "./processes.ts";
import { renderChart, renderMarkdown, type BenchResults } from "./report.ts";

const log = (s: string) => console.log(s);
const root = repoRoot();

// `--render`: rewrite docs/benchmarks.md and .svg from docs/benchmarks.json without measuring again.
if (process.argv.includes("--render")) {
  const results = JSON.parse(readFileSync(join(root, "docs/benchmarks.json"), "utf8")) as BenchResults;
  writeFileSync(join(root, "docs/benchmarks.svg"), await renderChart(results));
  writeFileSync(join(root, "docs/benchmarks.md"), renderMarkdown(results, "benchmarks.svg"));
  log("rendered docs/benchmarks.md and docs/benchmarks.svg from docs/benchmarks.json");
  process.exit(0);
}

// `--only write-audit`: measure the write audit's cost again and keep every other figure of docs/benchmarks.json.
if (process.argv.includes("--only")) {
  const only = process.argv[process.argv.indexOf("--only") + 1];
  if (only !== "write-audit") {
    console.error(`pnpm bench --only: unknown section ${JSON.stringify(only)} (sections: write-audit)`);
    process.exit(2);
  }
  const results = JSON.parse(readFileSync(join(root, "docs/benchmarks.json"), "utf8")) as BenchResults;
  const stack = await startStackProcess();
  try {
    log("\n7. the write audit's cost (inserts through the function, audit trigger on and off)");
    results.writeAudit = await writeAuditCost(stack, await benchWriter(stack), log);
  } finally {
    await stopChild(stack.child);
  }
  writeFileSync(join(root, "docs/benchmarks.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(root, "docs/benchmarks.md"), renderMarkdown(results, "benchmarks.svg"));
  log("\nwrote docs/benchmarks.md and docs/benchmarks.json (section 7 measured now, the others kept)");
  process.exit(0);
}

const machine = await machineInfo();
// Say what else the machine was doing: figures from a busy machine are noisier (set by whoever runs it).
const conditions = process.env.FEDJWT_BENCH_CONDITIONS ?? "";
log(`bench on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.deno}`);

log("\n4. the handler's own cost, in-process");
const handler = await handlerCost(log);
log("\n3. verify throughput");
const verify = await verifyThroughput(log);
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
  log("\n7. the write audit's cost (inserts through the function, audit trigger on and off)");
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
    revocation: revoke,
    coldStart: cold,
    writeAudit,
  };
  mkdirSync(join(root, "docs"), { recursive: true });
  writeFileSync(join(root, "docs/benchmarks.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(root, "docs/benchmarks.svg"), await renderChart(results));
  writeFileSync(join(root, "docs/benchmarks.md"), renderMarkdown(results, "benchmarks.svg"));
  log("\nwrote docs/benchmarks.md, docs/benchmarks.json and docs/benchmarks.svg");
} finally {
  await stopChild(stack.child);
}

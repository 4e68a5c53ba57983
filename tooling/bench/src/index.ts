export { fuzz } from "./fuzz-engine.ts";
export { missingIds, percentile, runLoad, type LoadResult } from "./load-engine.ts";
export { memoryRegistry, registerWriter, serviceHeaders } from "./lib.ts";
export { cannon, mergeRuns, orderMix, type CannonOptions, type RawRun, type RunResult } from "./cannon.ts";
export { cpuMs, cpuPerRequest, cpuSnapshot, childrenOf, type ProcessGroups } from "./procfs.ts";
export {
  bareScript,
  BARE_SCRIPTS,
  machineInfo,
  serveBench,
  serveRest,
  startStackProcess,
  type MachineInfo,
  type Stack,
} from "./processes.ts";
export {
  benchWriter,
  coldStart,
  functionCpu,
  handlerCost,
  keepAlive,
  overhead,
  OVERHEAD_RUNS,
  policyCost,
  OVERHEAD_SLICES,
  revocation,
  stackGroups,
  verifyThroughput,
  type HopCost,
  type KeepAlive,
  type Side,
  type TokenMode,
} from "./experiments.ts";
export { measureHandlerCost, type HandlerCost } from "./handler-cost.ts";
export { measurePolicyCost, type PolicyCost } from "./policy-cost.ts";
export { renderChart, renderMarkdown, TARGETS, type BenchResults } from "./report.ts";

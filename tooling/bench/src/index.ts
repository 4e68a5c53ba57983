export { fuzz } from "./fuzz-engine.ts";
export { missingIds, percentile, runLoad, type LoadResult } from "./load-engine.ts";
export { memoryRegistry, registerWriter, serviceHeaders } from "./lib.ts";

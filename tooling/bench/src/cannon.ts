// One measured load run driven by autocannon: a fixed number of requests over `connections` keep-alive
// connections, latency of every answer (autocannon's own per-response timing, kept at full resolution),
// and the CPU each process group spent per request over the run.
import autocannon from "autocannon";
import { cpuPerRequest, cpuSnapshot, type ProcessGroups } from "./procfs.ts";

/** What one run measured. */
export interface RunResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx answers, timeouts and connection errors. */
  errors: number;
  cpuMsPerRequest: Record<string, number>;
}

/** The request mix the overhead runs use: an insert with return=representation, then a select by id. */
export function orderMix(pathPrefix: string, selectId: string): autocannon.Request[] {
  return [
    {
      method: "POST",
      path: `${pathPrefix}orders?select=id`,
      headers: { "content-type": "application/json", prefer: "return=representation" },
      body: '{"sku":"WIDGET-BLUE","quantity":1}',
    },
    { method: "GET", path: `${pathPrefix}orders?select=id,quantity&id=eq.${selectId}` },
  ];
}

export interface CannonOptions {
  /** Origin, e.g. http://127.0.0.1:54321. */
  url: string;
  /** Requests cycled through by each connection (their headers are merged over `headers`). */
  mix: autocannon.Request[];
  /** Headers of every request. */
  headers: Record<string, string>;
  /** The Authorization bearer of each request: called once per request (a fixed token, or the next of a pool). */
  bearer: () => string;
  connections: number;
  amount: number;
  /** Requests per second over all connections (autocannon's overallRate); unpaced when absent. */
  overallRate?: number;
  /** Processes whose CPU is sampled around the run. */
  groups: ProcessGroups;
}

/** Runs autocannon once with these options and returns what it measured. */
export async function cannon(o: CannonOptions): Promise<RunResult & { raw: RawRun }> {
  const latencies: number[] = [];
  const requests = o.mix.map((r) => ({
    ...r,
    headers: { ...o.headers, ...(r.headers as Record<string, string> | undefined) },
    setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${o.bearer()}` } }),
  }));
  const before = cpuSnapshot(o.groups);
  const t0 = performance.now();
  // autocannon reports only at its next sampling tick, up to sampleInt after the last answer: the run's time
  // and CPU are taken at the last answer instead.
  let answered = 0;
  let lastAt = t0;
  let after: Record<string, number> | undefined;
  const instance = autocannon({
    url: o.url,
    connections: o.connections,
    amount: o.amount,
    requests,
    timeout: 20,
    sampleInt: 100,
    ...(o.overallRate ? { overallRate: o.overallRate } : {}),
  });
  (instance as unknown as NodeJS.EventEmitter).on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 300) latencies.push(ms);
    lastAt = performance.now();
    if (++answered === o.amount) after = cpuSnapshot(o.groups);
  });
  const result = await instance;
  const seconds = (lastAt - t0) / 1000;
  after ??= cpuSnapshot(o.groups); // some requests failed without an answer
  const cpuMs: Record<string, number> = {};
  for (const k of Object.keys(after)) cpuMs[k] = after[k]! - (before[k] ?? 0);
  return mergeRuns([
    { requests: result.requests.total, seconds, errors: result.non2xx + result.errors + result.timeouts, latencies, cpuMs },
  ]);
}

/** One slice of a run, before percentiles: what `mergeRuns` adds up. */
export interface RawRun {
  requests: number;
  seconds: number;
  errors: number;
  latencies: number[];
  cpuMs: Record<string, number>;
}

/** Adds up slices of the same side (run interleaved with other sides) into one result. */
export function mergeRuns(runs: RawRun[]): RunResult & { raw: RawRun } {
  const raw: RawRun = { requests: 0, seconds: 0, errors: 0, latencies: [], cpuMs: {} };
  for (const r of runs) {
    raw.requests += r.requests;
    raw.seconds += r.seconds;
    raw.errors += r.errors;
    raw.latencies.push(...r.latencies);
    for (const [k, v] of Object.entries(r.cpuMs)) raw.cpuMs[k] = (raw.cpuMs[k] ?? 0) + v;
  }
  const sorted = [...raw.latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN;
  const result = {
    requests: raw.requests,
    seconds: raw.seconds,
    rps: raw.requests / raw.seconds,
    p50: at(0.5),
    p99: at(0.99),
    errors: raw.errors,
    cpuMsPerRequest: cpuPerRequest({}, raw.cpuMs, raw.requests),
  };
  // Kept out of JSON.stringify: the raw latencies are only for merging.
  return Object.defineProperty(result, "raw", { value: raw, enumerable: false }) as RunResult & { raw: RawRun };
}

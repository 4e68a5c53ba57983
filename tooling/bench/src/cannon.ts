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
    { method: "POST", path: `${pathPrefix}orders?select=id`, headers: { "content-type": "application/json", prefer: "return=representation" }, body: '{"sku":"WIDGET-BLUE","quantity":1}' },
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
  /** Processes whose CPU is sampled around the run. */
  groups: ProcessGroups;
}

/** Runs autocannon once with these options and returns what it measured. */
export async function cannon(o: CannonOptions): Promise<RunResult> {
  const latencies: number[] = [];
  const requests = o.mix.map((r) => ({
    ...r,
    headers: { ...o.headers, ...(r.headers as Record<string, string> | undefined) },
    setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${o.bearer()}` } }),
  }));
  const before = cpuSnapshot(o.groups);
  const t0 = performance.now();
  const instance = autocannon({ url: o.url, connections: o.connections, amount: o.amount, requests, timeout: 20 });
  (instance as unknown as NodeJS.EventEmitter).on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 300) latencies.push(ms);
  });
  const result = await instance;
  const seconds = (performance.now() - t0) / 1000;
  const after = cpuSnapshot(o.groups);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? Number.NaN;
  const done = result.requests.total;
  return {
    requests: done,
    seconds,
    rps: done / seconds,
    p50: at(0.5),
    p99: at(0.99),
    errors: result.non2xx + result.errors + result.timeouts,
    cpuMsPerRequest: cpuPerRequest(before, after, done),
  };
}

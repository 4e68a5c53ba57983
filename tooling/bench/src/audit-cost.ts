// What the write audit costs a writer: inserts through the rest function into `orders` with its audit
// trigger on and off, in interleaved slices of one run (the trigger is switched between slices with
// federation.enable_write_audit / disable_write_audit, as the table's owner). Nothing is asserted.
import { loadavg } from "node:os";
import pg from "pg";
import { cannon, mergeRuns, type RawRun, type RunResult } from "./cannon.ts";
import { stackGroups, type Writer } from "./experiments.ts";
import type { Stack } from "./processes.ts";

/** Inserts per second with the audit on and off, and what the audit added to the database's CPU. */
export interface WriteAuditCost {
  connections: number;
  on: RunResult;
  off: RunResult;
  /**
   * Fewer inserts per second with the audit on, as a fraction of the rate without it (0.05 = 5 % fewer): the
   * median over the back-to-back (on, off) slice pairs, so load that drifts during the run cancels out.
   */
  slowdown: number;
  /** The same per pair of slices, in run order (their spread shows how steady the machine was). */
  pairSlowdowns: number[];
  /** Audit rows written during the run (one per insert with the audit on). */
  auditRows: number;
  /** 1-, 5- and 15-minute load averages when this section ended (it may be measured alone: --only write-audit). */
  loadAverageAtEnd: number[];
}

/** Slices per side (after one warm-up slice each), run on, off, on, off, … */
const SLICES = 10;

/**
 * Loads the function with single-row inserts (`Prefer: return=minimal`, a reused token) at `connections`,
 * `amount` requests per side, the audit trigger on `orders` switched on and off slice by slice. Leaves the
 * audit on, as the migrations set it.
 */
export async function writeAuditCost(
  stack: Stack,
  w: Writer,
  log: (s: string) => void,
  amount = 3000,
  connections = 10,
): Promise<WriteAuditCost> {
  const db = new pg.Client({ connectionString: stack.info.DB_URL });
  await db.connect();
  let token = await w.signer.token({ roles: ["orders_writer"] });
  const refresh = setInterval(() => void w.signer.token({ roles: ["orders_writer"] }).then((t) => (token = t)), 1000);
  const groups = stackGroups(stack);
  const slice = Math.ceil(amount / SLICES);
  const mix = [
    {
      method: "POST" as const,
      path: "/functions/v1/rest/orders",
      headers: { "content-type": "application/json", prefer: "return=minimal" },
      body: '{"sku":"WIDGET-BLUE","quantity":1}',
    },
  ];
  const runSide = async (on: boolean, n: number) => {
    await db.query(on ? "select federation.enable_write_audit('public.orders')" : "select federation.disable_write_audit('public.orders')");
    return (await cannon({ url: w.api, mix, headers: { apikey: w.anonKey }, bearer: () => token, connections, amount: n, groups })).raw;
  };
  const count = async () => Number((await db.query("select count(*) as n from federation.write_audit")).rows[0].n);
  try {
    await runSide(true, slice);
    await runSide(false, slice);
    const before = await count();
    const slices: Record<"on" | "off", RawRun[]> = { on: [], off: [] };
    const pairSlowdowns: number[] = [];
    for (let i = 0; i < SLICES; i++) {
      // Alternate which side goes first, so neither always follows the other's leftovers (autovacuum, WAL).
      const first = i % 2 === 0;
      const a = await runSide(first, slice);
      const b = await runSide(!first, slice);
      const [on, off] = first ? [a, b] : [b, a];
      slices.on.push(on);
      slices.off.push(off);
      pairSlowdowns.push(1 - on.requests / on.seconds / (off.requests / off.seconds));
    }
    const auditRows = (await count()) - before;
    const on = mergeRuns(slices.on);
    const off = mergeRuns(slices.off);
    const sorted = [...pairSlowdowns].sort((x, y) => x - y);
    const slowdown = (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
    for (const [name, r] of [
      ["audit on ", on],
      ["audit off", off],
    ] as const) {
      log(
        `  c=${connections} ${name} ${r.rps.toFixed(0).padStart(5)} inserts/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}  postgres CPU ${r.cpuMsPerRequest.postgres!.toFixed(3)} ms/insert`,
      );
    }
    log(
      `  ${(slowdown * 100).toFixed(1)} % fewer inserts per second with the audit on (median of ${SLICES} slice pairs: ${pairSlowdowns.map((x) => (x * 100).toFixed(0)).join(", ")} %); ${auditRows} audit rows written`,
    );
    return { connections, on, off, slowdown, pairSlowdowns, auditRows, loadAverageAtEnd: loadavg().map((n) => Number(n.toFixed(2))) };
  } finally {
    clearInterval(refresh);
    await db.query("select federation.enable_write_audit('public.orders')").catch(() => undefined);
    await db.end();
  }
}

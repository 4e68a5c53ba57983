// CPU time per process from /proc (Linux): what each process of the chain spent, sampled around a run.
import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ is 100 on Linux: /proc reports CPU time in 10 ms ticks. */
const TICK_MS = 10;

/** User + system CPU time a process (all its threads) has used so far, ms; 0 when it is gone. */
export function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** The pids whose parent is `ppid`. */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]!.split(" ")[1]) === ppid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Named groups of processes whose CPU is sampled together; a function so children can be listed anew. */
export type ProcessGroups = Record<string, () => number[]>;

/** CPU ms used so far by each group. */
export function cpuSnapshot(groups: ProcessGroups): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) out[name] = pids().reduce((a, p) => a + cpuMs(p), 0);
  return out;
}

/** CPU ms per request of each group between two snapshots. */
export function cpuPerRequest(before: Record<string, number>, after: Record<string, number>, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) out[k] = Number(((after[k]! - (before[k] ?? 0)) / requests).toFixed(3));
  return out;
}

/** Resident memory of a process now (VmRSS) and at its peak so far (VmHWM), MB (10^6 bytes); 0 when it is gone. */
export function memoryMB(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return { rss: (kb("VmRSS") * 1024) / 1e6, peak: (kb("VmHWM") * 1024) / 1e6 };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

// Limits that hold across instances: each instance counts, per rate-limited writer and second, the requests
// that reached the limit (seen) and those it let through (admitted), and reports them about once a second to
// the database it already writes usage to (public.record_rate_windows). The answer says how many of the
// writer's requests the whole project saw over the last 10 s and how many of them were this instance's: that
// part is the instance's share, and its bucket for the writer refills at share × the limit until the next
// report (while the writer is under its limit, its own rate plus an even part of the unused rest). Without a
// fresh answer (a new writer, the database slow or down) the share is 1: each instance
// then limits on its own (fail open for limits; authentication never depends on this).
import type { Logger } from "./log.ts";

/** One row of a report: a writer's requests in one second. */
export interface LimitCountRow {
  issuer: string;
  /** The second (ISO timestamp, whole second, UTC). */
  second: string;
  seen: number;
  admitted: number;
}

/** What the database answers per writer: requests over WINDOW_SECONDS, project-wide and this instance's. */
export interface LimitWindow {
  seen: number;
  mine: number;
  /** Instances that saw the writer in the window (absent: 1). */
  instances?: number;
}

/** The seconds record_rate_windows sums over (10 whole seconds, the 10 before the last two). */
export const WINDOW_SECONDS = 10;

/** Sends one report and returns the windows per writer; rejects when it failed. */
export type LimitSink = (instance: string, rows: LimitCountRow[]) => Promise<Record<string, LimitWindow>>;

export interface SharedLimitsOptions {
  sink: LimitSink;
  /** Time between reports while rate-limited writers are active (default 1000 ms). */
  intervalMs?: number;
  /** How long an answer is used; older, the share is 1 again (default 10 000 ms). */
  staleMs?: number;
  /** Most (writer, second) rows held between reports (default 1000); more are not counted. */
  maxRows?: number;
  now?: () => number;
  log?: Logger;
  /** Keeps the runtime alive until a pending report is done (EdgeRuntime.waitUntil on Supabase). */
  keepAlive?: (p: Promise<unknown>) => void;
}

/** The smallest share an instance is given: an instance that starts seeing a writer is not shut out. */
const MIN_SHARE = 0.05;

interface Counted {
  issuer: string;
  second: number;
  seen: number;
  admitted: number;
}

function edgeRuntimeWaitUntil(): ((p: Promise<unknown>) => void) | undefined {
  const rt = (globalThis as { EdgeRuntime?: { waitUntil?: (p: Promise<unknown>) => void } }).EdgeRuntime;
  return typeof rt?.waitUntil === "function" ? (p) => rt.waitUntil!(p) : undefined;
}

/** This instance's shares of its writers' limits, kept up to date with the database; see the file comment. */
export class SharedLimits {
  /** This instance's id in the reports. */
  readonly instance: string = crypto.randomUUID();
  readonly #sink: LimitSink;
  readonly #interval: number;
  readonly #stale: number;
  readonly #maxRows: number;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  readonly #keepAlive: ((p: Promise<unknown>) => void) | undefined;
  #pending = new Map<string, Counted>();
  readonly #shares = new Map<string, { seen: number; mine: number; instances: number; at: number }>();
  /** Writers reported at least once (bounded like the shares: cleared past maxRows × 10). */
  readonly #reported = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #syncing: Promise<void> | undefined;
  #failing = false;

  constructor(options: SharedLimitsOptions) {
    this.#sink = options.sink;
    this.#interval = options.intervalMs ?? 1000;
    this.#stale = options.staleMs ?? 10_000;
    this.#maxRows = options.maxRows ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#log = options.log;
    this.#keepAlive = options.keepAlive ?? edgeRuntimeWaitUntil();
  }

  /**
   * This instance's share of a writer's limit of `perSecond` (MIN_SHARE to 1); 1 without a fresh answer. Under
   * the limit, its own rate plus an even part of what the project leaves unused (so a writer under its limit
   * gets more than it asks for on every instance); over it, its proportion of the project's requests.
   */
  share(issuer: string, perSecond: number): number {
    const w = this.#shares.get(issuer);
    if (!w || this.#now() - w.at >= this.#stale) return 1;
    const total = w.seen / WINDOW_SECONDS;
    const mine = w.mine / WINDOW_SECONDS;
    const rate = total < perSecond ? mine + (perSecond - total) / (w.instances + (w.mine === 0 ? 1 : 0)) : (perSecond * mine) / total;
    return Math.min(1, Math.max(MIN_SHARE, rate / perSecond));
  }

  /** Counts one request that reached the writer's limit (O(1), no I/O); the report goes out on a timer. */
  observe(issuer: string, admitted: boolean): void {
    const second = Math.floor(this.#now() / 1000) * 1000;
    const key = `${issuer}\n${second}`;
    let c = this.#pending.get(key);
    if (!c) {
      if (this.#pending.size >= this.#maxRows) return;
      c = { issuer, second, seen: 0, admitted: 0 };
      this.#pending.set(key, c);
    }
    c.seen++;
    if (admitted) c.admitted++;
    // A writer this instance never reported is reported at once, so a new instance learns its share fast.
    const first = !this.#reported.has(issuer);
    if (first) this.#reported.add(issuer);
    this.#schedule(first ? 0 : this.#interval);
  }

  #schedule(delay: number): void {
    if (this.#timer !== undefined || this.#syncing) return;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.sync().finally(done);
    }, delay);
    (this.#timer as { unref?: () => void }).unref?.();
    this.#keepAlive?.(finished);
  }

  /** Sends what was counted since the last report and takes in the answer. A failure keeps the old shares. */
  sync(): Promise<void> {
    if (this.#syncing) return this.#syncing;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.size === 0) return Promise.resolve();
    const rows: LimitCountRow[] = [...this.#pending.values()].map((c) => ({
      issuer: c.issuer,
      second: new Date(c.second).toISOString(),
      seen: c.seen,
      admitted: c.admitted,
    }));
    this.#pending = new Map();
    this.#syncing = this.#sink(this.instance, rows)
      .then((windows) => {
        const at = this.#now();
        if (this.#shares.size > this.#maxRows * 10) {
          for (const [issuer, v] of this.#shares) if (at - v.at >= this.#stale) this.#shares.delete(issuer);
        }
        if (this.#reported.size > this.#maxRows * 10) this.#reported.clear();
        for (const [issuer, w] of Object.entries(windows)) {
          if (!(typeof w?.seen === "number" && typeof w.mine === "number" && w.seen > 0)) continue;
          const instances = typeof w.instances === "number" && w.instances >= 1 ? w.instances : 1;
          this.#shares.set(issuer, { seen: w.seen, mine: Math.min(w.mine, w.seen), instances, at });
        }
        if (this.#failing) this.#log?.({ level: "info", event: "limit_sync_recovered" });
        this.#failing = false;
      })
      .catch((e: unknown) => {
        // Counts of a failed report are not put back: they are about seconds that are soon outside the window.
        if (!this.#failing)
          this.#log?.({
            level: "warn",
            event: "limit_sync_failed",
            error: (e as Error)?.message ?? "unknown",
            note: "rate limits are per instance until the database answers again",
          });
        this.#failing = true;
      })
      .finally(() => {
        this.#syncing = undefined;
        if (this.#pending.size > 0) this.#schedule(this.#interval);
      });
    return this.#syncing;
  }
}

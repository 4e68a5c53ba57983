// Per-key usage: the gateway counts requests per (issuer, kid, hour) in memory and writes them to the
// registry in batches (public.record_key_usage), at most one small write per instance every `intervalMs`,
// off the request path. A failed write keeps the counts for the next try (bounded) and never fails a request.
import { capText, type Logger } from "./log.ts";

/** One row of a usage batch, as public.record_key_usage takes it. */
export interface UsageRow {
  issuer: string;
  /** "" when the verifying key had no kid. */
  kid: string;
  /** The hour the requests fall in (ISO timestamp, whole hour, UTC). */
  hour: string;
  requests: number;
  errors: number;
  last_seen_at: string;
}

/**
 * Writes one batch; rejects when it was not recorded: with UsageRefusedError when the database refused what
 * is in the batch (then it is written again in halves), with any other error when it may work later.
 */
export type UsageSink = (rows: UsageRow[]) => Promise<void>;

/** The database refused a batch for its content (an HTTP 4xx about the rows, e.g. 400 for a NUL in a kid). */
export class UsageRefusedError extends Error {
  override readonly name = "UsageRefusedError";
  readonly status: number;

  constructor(status: number) {
    super(`record_key_usage refused the batch (${status})`);
    this.status = status;
  }
}

/** Answers about the rows (bad input, conflict, too large), not about the request itself (auth, missing, throttled). */
export function isRowRefusal(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 404, 408, 429].includes(status);
}

export interface UsageOptions {
  sink: UsageSink;
  /** Time between a first count and its write (default 5000 ms): at most one write per interval. */
  intervalMs?: number;
  /** Most distinct (issuer, kid, hour) rows held; counts for further ones are dropped and logged (default 1000). */
  maxRows?: number;
  now?: () => number;
  log?: Logger;
  /** Keeps the runtime alive until a pending write is done (EdgeRuntime.waitUntil on Supabase). */
  keepAlive?: (p: Promise<unknown>) => void;
}

const HOUR_MS = 3_600_000;

interface Pending {
  issuer: string;
  kid: string;
  hour: number;
  requests: number;
  errors: number;
  lastSeen: number;
}

/** The platform's way to keep an Edge Function alive for background work, when there is one. */
function edgeRuntimeWaitUntil(): ((p: Promise<unknown>) => void) | undefined {
  const rt = (globalThis as { EdgeRuntime?: { waitUntil?: (p: Promise<unknown>) => void } }).EdgeRuntime;
  return typeof rt?.waitUntil === "function" ? (p) => rt.waitUntil!(p) : undefined;
}

/** Counts requests per (issuer, kid, hour) and flushes them in batches; see the file comment. */
export class UsageRecorder {
  readonly #sink: UsageSink;
  readonly #interval: number;
  readonly #maxRows: number;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  readonly #keepAlive: ((p: Promise<unknown>) => void) | undefined;
  #pending = new Map<string, Pending>();
  #dropped = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> | undefined;

  constructor(options: UsageOptions) {
    this.#sink = options.sink;
    this.#interval = options.intervalMs ?? 5000;
    this.#maxRows = options.maxRows ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#log = options.log;
    this.#keepAlive = options.keepAlive ?? edgeRuntimeWaitUntil();
  }

  /** Counts one request (O(1), no I/O); the write happens later, on a timer. */
  record(issuer: string, kid: string, isError: boolean): void {
    const now = this.#now();
    const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
    const key = `${issuer}\n${kid}\n${hour}`;
    let p = this.#pending.get(key);
    if (!p) {
      if (this.#pending.size >= this.#maxRows) {
        this.#dropped++;
        return;
      }
      p = { issuer, kid, hour, requests: 0, errors: 0, lastSeen: now };
      this.#pending.set(key, p);
    }
    p.requests++;
    if (isError) p.errors++;
    if (now > p.lastSeen) p.lastSeen = now;
    this.#schedule();
  }

  /** Rows waiting to be written (for tests and diagnostics). */
  get pendingRows(): number {
    return this.#pending.size;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#flushing) return;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush().finally(done);
    }, this.#interval);
    // Node: do not hold the process open for it; the edge runtime is asked to wait for it instead.
    (this.#timer as { unref?: () => void }).unref?.();
    this.#keepAlive?.(finished);
  }

  /** Writes what is pending now (one batch); on failure the counts are kept for the next write. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.size === 0 && this.#dropped === 0) return Promise.resolve();
    const batch = this.#pending;
    const dropped = this.#dropped;
    this.#pending = new Map();
    this.#dropped = 0;
    if (dropped > 0)
      this.#log?.({ level: "warn", event: "usage_dropped", requests: dropped, note: `more than ${this.#maxRows} keys in one interval` });
    this.#flushing = this.#write([...batch.values()])
      .then((failed) => {
        if (failed.length > 0) this.#restore(failed);
      })
      .finally(() => {
        this.#flushing = undefined;
        if (this.#pending.size > 0) this.#schedule();
      });
    return this.#flushing;
  }

  /**
   * Writes rows and returns those to put back (the write may work later). A batch refused for its content is
   * written again in halves, so one bad row costs about 2·log2(n) writes; that row alone is dropped, said once.
   */
  async #write(batch: Pending[]): Promise<Pending[]> {
    if (batch.length === 0) return [];
    try {
      await this.#sink(batch.map(toRow));
      return [];
    } catch (e) {
      if (!(e instanceof UsageRefusedError)) {
        this.#log?.({ level: "warn", event: "usage_flush_failed", rows: batch.length, error: (e as Error)?.message ?? "unknown" });
        return batch;
      }
      if (batch.length === 1) {
        const p = batch[0]!;
        this.#log?.({
          level: "warn",
          event: "usage_row_dropped",
          issuer: capText(p.issuer, 64),
          kid: capText(p.kid, 128),
          requests: p.requests,
          status: e.status,
          note: "the database refused this row; the other rows were written",
        });
        return [];
      }
      const half = Math.ceil(batch.length / 2);
      return [...(await this.#write(batch.slice(0, half))), ...(await this.#write(batch.slice(half)))];
    }
  }

  /** Puts a failed batch's counts back, within the row bound. */
  #restore(batch: Pending[]): void {
    for (const old of batch) {
      const key = `${old.issuer}\n${old.kid}\n${old.hour}`;
      const p = this.#pending.get(key);
      if (p) {
        p.requests += old.requests;
        p.errors += old.errors;
        p.lastSeen = Math.max(p.lastSeen, old.lastSeen);
      } else if (this.#pending.size < this.#maxRows) this.#pending.set(key, old);
      else this.#dropped += old.requests;
    }
  }
}

function toRow(p: Pending): UsageRow {
  return {
    issuer: p.issuer,
    kid: p.kid,
    hour: new Date(p.hour).toISOString(),
    requests: p.requests,
    errors: p.errors,
    last_seen_at: new Date(p.lastSeen).toISOString(),
  };
}

/**
 * Deadlines for in-flight upstream requests that share timers: requests that start within the same slot
 * (a tenth of the timeout, at most 100 ms) share one timer, which aborts those of them still waiting. A
 * request released when PostgREST answers leaves its slot at once, and the slot's timer is cleared when its
 * last request has left: nothing of an answered request is held until the timeout, and no timer outlives the
 * requests it watches. A request is aborted between `timeoutMs` and `timeoutMs` plus one slot after it started.
 */
export class UpstreamDeadlines {
  readonly #timeoutMs: number;
  readonly #slotMs: number;
  readonly #slots = new Map<number, { waiting: Set<AbortController>; timer: ReturnType<typeof setTimeout> }>();

  /** Deadlines of `timeoutMs` each. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#slotMs = Math.max(1, Math.min(100, Math.floor(timeoutMs / 10)));
  }

  /** Starts a deadline: its signal aborts once the timeout has passed; `release` ends it (call it when answered). */
  start(): { signal: AbortSignal; release: () => void } {
    const now = performance.now();
    const key = Math.floor(now / this.#slotMs);
    let slot = this.#slots.get(key);
    if (!slot) {
      const waiting = new Set<AbortController>();
      const timer = setTimeout(
        () => {
          this.#slots.delete(key);
          for (const c of waiting) c.abort(new DOMException("the upstream did not answer in time", "TimeoutError"));
          waiting.clear();
        },
        (key + 1) * this.#slotMs + this.#timeoutMs - now,
      );
      slot = { waiting, timer };
      this.#slots.set(key, slot);
    }
    const controller = new AbortController();
    const { waiting, timer } = slot;
    waiting.add(controller);
    return {
      signal: controller.signal,
      release: () => {
        if (waiting.delete(controller) && waiting.size === 0 && this.#slots.get(key)?.waiting === waiting) {
          clearTimeout(timer);
          this.#slots.delete(key);
        }
      },
    };
  }

  /** Requests waiting on a deadline now, and the timers running for them (for tests). */
  get pending(): { requests: number; timers: number } {
    let requests = 0;
    for (const s of this.#slots.values()) requests += s.waiting.size;
    return { requests, timers: this.#slots.size };
  }
}

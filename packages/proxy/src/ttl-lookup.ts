// The caching both registries share (keys by issuer name, trust policies by issuer URL): a bounded TTL cache
// with one read in flight per key, and a list of known keys re-read (single flight) when it is too old.
import { LruMap } from "./lru.ts";

/** A keyed lookup cached for `ttl` when found and `negativeTtl` when not; failures are not cached. */
export interface TtlLookup<V> {
  /** The cached value, else one read in flight for the key however many callers wait on it. */
  get(key: string): Promise<V | null>;
  /** Reads in flight, by key (a caller may join one, or start its own with `track`). */
  readonly inflight: Map<string, Promise<V | null>>;
  /** Runs `read` as the key's read in flight; `onValue` sees its result before the waiters do. */
  track(key: string, read: () => Promise<V | null>, onValue: (value: V | null) => void): Promise<V | null>;
  /** Caches a found value for the positive TTL. */
  remember(key: string, value: V): void;
  clear(): void;
}

/** Creates a TtlLookup over `load`, keeping at most `maxEntries` keys (least recently used go first). */
export function ttlLookup<V>(
  load: (key: string) => Promise<V | null>,
  options: { ttl: number; negativeTtl: number; maxEntries: number; now: () => number },
): TtlLookup<V> {
  const { ttl, negativeTtl, now } = options;
  const cache = new LruMap<string, { value: V | null; until: number }>(options.maxEntries);
  const inflight = new Map<string, Promise<V | null>>();

  function track(key: string, read: () => Promise<V | null>, onValue: (value: V | null) => void): Promise<V | null> {
    const p = read().then(
      (value) => {
        inflight.delete(key);
        onValue(value);
        return value;
      },
      (e: unknown) => {
        inflight.delete(key);
        throw e;
      },
    );
    inflight.set(key, p);
    return p;
  }

  return {
    get(key) {
      const hit = cache.get(key);
      if (hit && hit.until > now()) return Promise.resolve(hit.value);
      return (
        inflight.get(key) ??
        track(
          key,
          () => load(key),
          (value) => cache.set(key, { value, until: now() + (value ? ttl : negativeTtl) }),
        )
      );
    },
    inflight,
    track,
    remember: (key, value) => cache.set(key, { value, until: now() + ttl }),
    clear: () => cache.clear(),
  };
}

/** A list (e.g. of registered names) re-read, single flight, when older than the age a caller accepts. */
export interface KnownList {
  /** The list, re-read first when it is older than `maxAgeMs`; null when the registry could not list it whole. */
  read(maxAgeMs: number): Promise<Set<string> | null> | Set<string> | null;
  /** Forgets the list: the next read loads it. */
  clear(): void;
}

/** Creates a KnownList over `load`. */
export function knownList(load: () => Promise<Set<string> | null>, now: () => number): KnownList {
  let list: { set: Set<string> | null; at: number } | undefined;
  let pending: Promise<Set<string> | null> | undefined;
  return {
    read(maxAgeMs) {
      if (list && now() - list.at < maxAgeMs) return list.set;
      pending ??= load().then(
        (set) => {
          list = { set, at: now() };
          pending = undefined;
          return set;
        },
        (e: unknown) => {
          pending = undefined;
          throw e;
        },
      );
      return pending;
    },
    clear: () => {
      list = undefined;
    },
  };
}

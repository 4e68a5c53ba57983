/**
 * A Map bounded to `max` entries that evicts the least recently used one, so a flood of new keys (random
 * issuers, subjects) costs old, cold entries — never the whole cache, never unbounded memory.
 */
export class LruMap<K, V> {
  readonly #map = new Map<K, V>();

  /** The most entries kept. */
  readonly max: number;

  constructor(max: number) {
    this.max = max;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError("max must be a positive integer");
  }

  /** The value, marked as most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  /** Stores the value as most recently used, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as K);
  }

  /** Removes one entry. */
  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  /** True when the key is present (does not refresh it). */
  has(key: K): boolean {
    return this.#map.has(key);
  }

  clear(): void {
    this.#map.clear();
  }

  get size(): number {
    return this.#map.size;
  }
}

// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. The "Perhaps you meant …" hints: PostgREST finds
// them with the fuzzyset package (n-gram cosine similarity for sizes 3 then 2, the best 50 rescored by
// normalized Levenshtein distance, kept when the score reaches a minimum). This follows that algorithm.

function normalized(s: string): string {
  return [...s.toLowerCase()].filter((c) => /[\p{L}\p{N}\s,]/u.test(c)).join("");
}

function gramVector(s: string, size: number): Map<string, number> {
  const padded = `-${normalized(s)}-`;
  const out = new Map<string, number>();
  for (let i = 0; i + size <= padded.length; i++) {
    const g = padded.slice(i, i + size);
    out.set(g, (out.get(g) ?? 0) + 1);
  }
  return out;
}

const magnitude = (v: Map<string, number>) => Math.sqrt([...v.values()].reduce((a, x) => a + x * x, 0));

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The candidate closest to `query` with a score of at least `minScore`, or null. */
export function closest(candidates: string[], query: string, minScore: number): string | null {
  const key = query.toLowerCase();
  const entries = [...new Set(candidates)];
  const exact = entries.find((c) => c.toLowerCase() === key);
  if (exact !== undefined) return exact;
  for (const size of [3, 2]) {
    const q = gramVector(key, size);
    const qm = magnitude(q);
    const scored: Array<[number, string]> = [];
    for (const c of entries) {
      const v = gramVector(c.toLowerCase(), size);
      let dot = 0;
      for (const [g, n] of q) dot += n * (v.get(g) ?? 0);
      if (dot > 0) scored.push([dot / (qm * magnitude(v)), c]);
    }
    const best = scored
      .sort((a, b) => b[0] - a[0])
      .slice(0, 50)
      .map(([, c]): [number, string] => {
        const e = c.toLowerCase();
        return [1 - levenshtein(key, e) / Math.max(key.length, e.length, 1), c];
      })
      .sort((a, b) => b[0] - a[0])
      .filter(([s]) => s >= minScore);
    if (best.length > 0) return best[0]![1];
  }
  return null;
}

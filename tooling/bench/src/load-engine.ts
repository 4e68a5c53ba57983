// A bounded load generator for the whole chain: `concurrency` workers share `requests` mixed requests
// (inserts with return=representation, selects by id) through gateway → rest (Deno) → PostgREST → Postgres.
// Every request has its own timeout, so a hang is counted, never waited for.
import type { Signer } from "@fedjwt/signer";

export interface LoadOptions {
  apiUrl: string;
  anonKey: string;
  signer: Signer;
  roles: string[];
  requests: number;
  concurrency: number;
  /** Share of inserts (default 0.7); the rest are selects by id of earlier inserts. */
  insertShare?: number;
  /** Per-request timeout (default 20 s): longer counts as a hang. */
  timeoutMs?: number;
  /** Called after each completed request (fault injection hooks). */
  onProgress?: (done: number) => void;
}

export interface LoadResult {
  total: number;
  ok: number;
  statuses: Record<string, number>;
  /** Reason codes (or PostgREST codes) of the failures. */
  codes: Record<string, number>;
  hangs: number;
  networkErrors: number;
  /** Ids of inserts the stack acknowledged with 201. */
  acknowledged: string[];
  latenciesMs: number[];
  seconds: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = {
    total: 0,
    ok: 0,
    statuses: {},
    codes: {},
    hangs: 0,
    networkErrors: 0,
    acknowledged: [],
    latenciesMs: [],
    seconds: 0,
  };
  const base = `${o.apiUrl}/functions/v1/rest`;
  let next = 0;
  const t0 = performance.now();
  const worker = async (w: number) => {
    while (next < o.requests) {
      const i = next++;
      const insert = result.acknowledged.length === 0 || (i * 7919 + w) % 100 < (o.insertShare ?? 0.7) * 100;
      const headers: Record<string, string> = { apikey: o.anonKey, authorization: `Bearer ${await o.signer.sign({ roles: o.roles })}` };
      const started = performance.now();
      try {
        const res = insert
          ? await fetch(`${base}/orders?select=id`, {
              method: "POST",
              headers: { ...headers, "content-type": "application/json", prefer: "return=representation" },
              body: JSON.stringify({ sku: "WIDGET-BLUE", quantity: 1 + (i % 5) }),
              signal: AbortSignal.timeout(o.timeoutMs ?? 20_000),
            })
          : await fetch(`${base}/orders?select=id,quantity&id=eq.${result.acknowledged[i % result.acknowledged.length]}`, {
              headers,
              signal: AbortSignal.timeout(o.timeoutMs ?? 20_000),
            });
        const text = await res.text();
        result.latenciesMs.push(performance.now() - started);
        result.statuses[res.status] = (result.statuses[res.status] ?? 0) + 1;
        if (res.ok) {
          result.ok++;
          if (insert && res.status === 201) result.acknowledged.push((JSON.parse(text) as Array<{ id: string }>)[0]!.id);
        } else {
          let code = "?";
          try {
            code = String(
              (JSON.parse(text) as { code?: string; message?: string }).code ?? (JSON.parse(text) as { message?: string }).message ?? "?",
            );
          } catch {
            /* not JSON */
          }
          result.codes[code] = (result.codes[code] ?? 0) + 1;
        }
      } catch (e) {
        if ((e as Error).name === "TimeoutError") result.hangs++;
        else result.networkErrors++;
      }
      result.total++;
      o.onProgress?.(result.total);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  result.seconds = (performance.now() - t0) / 1000;
  result.latenciesMs.sort((a, b) => a - b);
  return result;
}

/** Ids among `ids` that the database does not have (read with the service key). */
export async function missingIds(apiUrl: string, serviceKey: string, ids: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    const res = await fetch(`${apiUrl}/rest/v1/orders?select=id&id=in.(${chunk.join(",")})`, {
      headers: { apikey: serviceKey, authorization: `Bearer ${serviceKey}` },
    });
    const found = new Set(((await res.json()) as Array<{ id: string }>).map((r) => r.id));
    missing.push(...chunk.filter((id) => !found.has(id)));
  }
  return missing;
}

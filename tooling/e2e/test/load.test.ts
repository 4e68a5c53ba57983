// Load and faults through the whole chain (short versions; `pnpm load` runs 10,000 requests).
import { readFileSync } from "node:fs";
import { createSigner, type Signer } from "@fedjwt/signer";
import { beforeAll, describe, expect, it } from "vitest";
import { missingIds, percentile, runLoad, type LoadResult } from "@fedjwt/bench";
import { keyDir, keygen, register, useTarget } from "./target.ts";

const target = useTarget({ faults: true });
let signer: Signer;

beforeAll(async () => {
  const t = target();
  const keys = await keygen(t, keyDir(), "load-service");
  await register(t, ["--issuer", "load-service", "--public-key", keys.publicKey, "--allowed-role", "orders_writer"]);
  signer = await createSigner({ privateKey: readFileSync(keys.privateKey, "utf8"), issuer: "load-service", audience: t.audience });
});

const load = (requests: number, concurrency: number, onProgress?: (done: number) => void) =>
  runLoad({
    apiUrl: target().apiUrl,
    anonKey: target().anonKey,
    signer,
    roles: ["orders_writer"],
    requests,
    concurrency,
    ...(onProgress ? { onProgress } : {}),
  });

function summary(label: string, r: LoadResult): void {
  console.log(
    `${label}: ${r.total} requests in ${r.seconds.toFixed(1)} s (${Math.round(r.total / r.seconds)}/s), p50 ${percentile(r.latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(r.latenciesMs, 99).toFixed(1)} ms, statuses ${JSON.stringify(r.statuses)}, codes ${JSON.stringify(r.codes)}, hangs ${r.hangs}`,
  );
}

describe("load", () => {
  it("1,000 mixed requests at concurrency 50: zero errors, every acknowledged insert in the database", async () => {
    const r = await load(1000, 50);
    summary("load", r);
    expect(r.total).toBe(1000);
    expect([r.ok, r.hangs, r.networkErrors]).toEqual([1000, 0, 0]);
    expect(r.acknowledged.length).toBeGreaterThan(500);
    expect(await missingIds(target().apiUrl, target().serviceKey, r.acknowledged)).toEqual([]);
  }, 120_000);
});

/**
 * Runs 400 requests and takes a dependency away after 100 and back after 250: every failure must be a
 * 502/503 (no hang, no network error), and afterwards the same function serves again.
 */
async function outageMidLoad(label: string, stop: () => Promise<void>, start: () => Promise<void>): Promise<LoadResult> {
  let stopped: Promise<void> | undefined;
  let restarted: Promise<void> | undefined;
  const r = await load(400, 10, (done) => {
    if (done === 100) stopped = stop();
    if (done === 250) restarted = stopped!.then(start);
  });
  await restarted;
  summary(label, r);
  expect([r.hangs, r.networkErrors]).toEqual([0, 0]);
  const failures = Object.entries(r.statuses).filter(([s]) => Number(s) >= 400);
  expect(failures.length).toBeGreaterThan(0);
  for (const [status] of failures) expect(["502", "503"]).toContain(status);
  // Recovery without restarting the function: a short bounded retry loop, then a clean run.
  for (let i = 0; i < 50 && (await load(5, 1)).ok < 5; i++) await new Promise((res) => setTimeout(res, 200));
  const after = await load(50, 5);
  expect(after.ok).toBe(50);
  expect(await missingIds(target().apiUrl, target().serviceKey, [...r.acknowledged, ...after.acknowledged])).toEqual([]);
  return r;
}

describe.skipIf(!!process.env.E2E_API_URL)("faults (local stack only: they stop its processes)", () => {
  it("PostgREST stopped mid-load → 502/503 with no hang; after its restart the same function serves again", async () => {
    const stack = target().stack!;
    await outageMidLoad(
      "PostgREST down mid-load",
      () => stack.stopRest(),
      () => stack.startRest(),
    );
  }, 120_000);

  it("the database stopped mid-load → 503 with no hang; after its restart everything recovers, nothing acknowledged is lost", async () => {
    const stack = target().stack!;
    await outageMidLoad(
      "database down mid-load",
      () => stack.stopDb(),
      () => stack.startDb(),
    );
  }, 120_000);
});

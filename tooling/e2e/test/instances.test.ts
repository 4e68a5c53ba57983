// Hostile input and many instances, against the real stack's database: a usage batch holding a poisoned
// kid never blocks the other writers' counts; a writer's rate limit holds for the project, not per gateway
// instance: four gateway handlers (in this process, each with its own buckets and caches, as four function
// instances) share what they admitted through public.record_rate_windows. Forwarded requests get a stand-in
// answer where only the gateway is measured; registry reads, usage and limit reports go to the real stack.
import { readFileSync } from "node:fs";
import { createJwtSwapProxy, postgrestUsageSink, UsageRecorder } from "@fedjwt/proxy";
import { SignJWT, importPKCS8 } from "jose";
import { createSigner } from "@fedjwt/signer";
import { describe, expect, it, vi } from "vitest";
import { keyDir, keygen, register, serviceRead, useTarget } from "./target.ts";

const target = useTarget();

const LIMIT = 10; // requests per second, project-wide
const BURST = 10;
const WARMUP_MS = 4000;
const LOAD_MS = 25_000;
const WINDOW_MS = 10_000;

/** Only the registry and the limit reports reach the real stack; a forwarded request gets an empty 200. */
function realRegistryFetch(): typeof fetch {
  return (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (/\/rest\/v1\/(jwt_registry|jwt_issuers|rpc\/record_rate_windows|rpc\/record_key_usage|rpc\/consume_jwt_id)\b/.test(url))
      return fetch(input, init);
    return Promise.resolve(new Response("[]", { status: 200, headers: { "content-type": "application/json" } }));
  };
}

/** The most timestamps in any window of `width` ms (each window starts at a timestamp). */
function maxInWindow(times: number[], width: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= width) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe("usage with a poisoned kid", () => {
  it("a kid with a NUL or a lone surrogate: refused at the gateway, and a batch holding it still writes two honest writers' counts", async () => {
    const t = target();
    const dir = keyDir();
    const honest = [await keygen(t, dir, "usage-honest-a"), await keygen(t, dir, "usage-honest-b")];
    for (const [i, keys] of honest.entries())
      await register(t, ["--issuer", `usage-honest-${"ab"[i]}`, "--public-key", keys.publicKey, "--allowed-role", "orders_writer"]);
    const logs: Array<Record<string, unknown>> = [];
    const handler = createJwtSwapProxy({
      supabaseUrl: t.apiUrl,
      serviceKey: t.serviceKey,
      apiKey: t.anonKey,
      audience: t.audience,
      signingKey: { hs256Secret: t.jwtSecret },
      usage: { flushIntervalMs: 100 },
      logger: (e) => logs.push(e),
      fetch: realRegistryFetch(),
    });
    const req = (token: string) =>
      new Request(`${t.apiUrl}/functions/v1/rest/orders?select=id`, { headers: { authorization: `Bearer ${token}` } });
    // Through the gateway: the poisoned kids are refused before they could be counted.
    const key = await importPKCS8(readFileSync(honest[0]!.privateKey, "utf8"), "ES256");
    for (const kid of [`${honest[0]!.kid}\u0000`, "\ud800"]) {
      const now = Math.floor(Date.now() / 1000);
      const poisoned = await new SignJWT({ sub: "w", aud: t.audience, roles: ["orders_writer"] })
        .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
        .setIssuer("usage-honest-a")
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(key);
      const res = await handler(req(poisoned));
      expect({ status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({ status: 401, code: "token_malformed" });
    }
    for (const [i, keys] of honest.entries()) {
      const s = await createSigner({
        privateKey: readFileSync(keys.privateKey, "utf8"),
        issuer: `usage-honest-${"ab"[i]}`,
        audience: t.audience,
      });
      for (let n = 0; n < 3 + i; n++) expect((await handler(req(await s.token({ roles: ["orders_writer"] })))).status).toBe(200);
    }
    // The usage sink itself, given a batch with the poisoned rows (as a gateway without the check above would
    // have sent it): the database refuses the batch, the recorder splits it and drops only those rows.
    const recorder = new UsageRecorder({
      sink: postgrestUsageSink({ supabaseUrl: t.apiUrl, serviceKey: t.serviceKey }),
      log: (e) => logs.push(e),
    });
    recorder.record("usage-poisoned", "k\u0000", false);
    recorder.record("usage-poisoned", "k\ud800", false);
    for (let n = 0; n < 10; n++) recorder.record("usage-honest-a", honest[0]!.kid, false);
    recorder.record("usage-honest-b", honest[1]!.kid, true);
    await recorder.flush();
    expect(logs.filter((l) => l.event === "usage_row_dropped").map((l) => l.kid)).toEqual(["k\\u0000", "k\\ud800"]);
    expect(logs.filter((l) => l.event === "usage_flush_failed")).toEqual([]);
    const counts = async () =>
      (
        await serviceRead<Array<{ issuer: string; requests: number; errors: number }>>(
          t,
          "jwt_key_usage?issuer=like.usage-*&select=issuer,requests,errors",
        )
      )
        .map((r) => [r.issuer, Number(r.requests), Number(r.errors)])
        .sort();
    await vi.waitFor(async () =>
      expect(await counts()).toEqual([
        ["usage-honest-a", 13, 0],
        ["usage-honest-b", 5, 1],
      ]),
    );
  });
});

describe("rate limits across instances", () => {
  it("4 instances at steady load: ≤ limit × 1.1 + burst admitted in any 10 s; a writer under its limit is never refused", async () => {
    const t = target();
    const dir = keyDir();
    const busyKeys = await keygen(t, dir, "lim-busy");
    const calmKeys = await keygen(t, dir, "lim-calm");
    for (const [issuer, keys] of [
      ["lim-busy", busyKeys],
      ["lim-calm", calmKeys],
    ] as const) {
      const out = await register(t, [
        "--issuer",
        issuer,
        "--public-key",
        keys.publicKey,
        "--allowed-role",
        "orders_writer",
        "--rate-limit",
        String(LIMIT),
        "--rate-burst",
        String(BURST),
      ]);
      expect(out).toContain(`rate limit: ${LIMIT}/s for the project (shared by every gateway instance), burst ${BURST}`);
    }
    const signerFor = (keys: { privateKey: string }, issuer: string) =>
      createSigner({ privateKey: readFileSync(keys.privateKey, "utf8"), issuer, audience: t.audience });
    const busy = await signerFor(busyKeys, "lim-busy");
    const calm = await signerFor(calmKeys, "lim-calm");

    const instances = Array.from({ length: 4 }, () =>
      createJwtSwapProxy({
        supabaseUrl: t.apiUrl,
        serviceKey: t.serviceKey,
        apiKey: t.anonKey,
        audience: t.audience,
        signingKey: { hs256Secret: t.jwtSecret },
        usage: false,
        accessLog: { kind: "errors" },
        logger: () => undefined,
        fetch: realRegistryFetch(),
      }),
    );

    const admitted: number[] = [];
    const statuses = { busy: new Map<number, number>(), calm: new Map<number, number>() };
    const send = async (who: "busy" | "calm", instance: number): Promise<void> => {
      const token = await (who === "busy" ? busy : calm).token({ roles: ["orders_writer"] });
      const req = new Request(`${t.apiUrl}/functions/v1/rest/orders?select=id`, { headers: { authorization: `Bearer ${token}` } });
      const res = await instances[instance]!(req);
      await res.body?.cancel();
      statuses[who].set(res.status, (statuses[who].get(res.status) ?? 0) + 1);
      if (who === "busy" && res.status === 200) admitted.push(Date.now());
    };

    // Open-loop load: each (writer, instance) sends at its own steady rate, whatever the answers.
    // lim-busy: 1/s per instance for the warm-up (4/s, under its limit), then 5/s per instance (20/s, twice it).
    // lim-calm: 4.5/s in all (under its limit), spread unevenly: 3/s on one instance, 0.5/s on each other.
    const started = Date.now();
    const end = started + WARMUP_MS + LOAD_MS;
    const inFlight: Promise<void>[] = [];
    const schedule = (who: "busy" | "calm", instance: number, perSecond: (at: number) => number) =>
      (async () => {
        let next = started + Math.random() * 100;
        while (next < end) {
          const wait = next - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          inFlight.push(send(who, instance));
          next += 1000 / perSecond(next - started);
        }
      })();
    await Promise.all([
      ...[0, 1, 2, 3].map((i) => schedule("busy", i, (at) => (at < WARMUP_MS ? 1 : 5))),
      ...[0, 1, 2, 3].map((i) => schedule("calm", i, () => (i === 0 ? 3 : 0.5))),
    ]);
    await Promise.all(inFlight);

    const worst = maxInWindow(admitted, WINDOW_MS);
    const steady = admitted.filter((at) => at >= end - WINDOW_MS).length;
    console.log(
      `limits across 4 instances: lim-busy offered 20/s against ${LIMIT}/s (burst ${BURST}): most admitted in any 10 s ${worst} ` +
        `(bound ${LIMIT * 10 * 1.1 + BURST}), in the last 10 s ${steady}; statuses busy ${JSON.stringify([...statuses.busy])}, ` +
        `calm ${JSON.stringify([...statuses.calm])}`,
    );
    expect(worst).toBeLessThanOrEqual(LIMIT * (WINDOW_MS / 1000) * 1.1 + BURST);
    expect(steady, "the instances together still use most of the limit").toBeGreaterThanOrEqual(LIMIT * 10 * 0.7);
    expect([...statuses.busy.keys()].sort()).toEqual([200, 429]);
    expect([...statuses.calm]).toEqual([[200, [...statuses.calm.values()][0]]]);
  }, 120_000);
});

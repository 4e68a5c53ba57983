// Operating the gateway: the access log, per-key usage flushed in batches, per-issuer rate limits and the
// body-read timeout.
import { afterEach, describe, expect, it, vi } from "vitest";
import { proxyOptionsFromEnv } from "../src/env.ts";
import { capText, parseAccessLogMode } from "../src/log.ts";
import { RateLimiter } from "../src/rate-limit.ts";
import { SharedLimits } from "../src/shared-limits.ts";
import { isPlainText } from "../src/text.ts";
import { UsageRecorder, UsageRefusedError, type UsageRow } from "../src/usage.ts";
import { goodClaims, harness, outboundClaims, rawToken, request, writer } from "../src/testing.ts";

async function codeOf(res: Response): Promise<{ status: number; code: unknown }> {
  return { status: res.status, code: ((await res.json()) as { code?: unknown }).code };
}

describe("access log", () => {
  it("writes one line per forwarded request: issuer, kid, writer_sub, method, target, statuses, ms, cache", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: false });
    const token = await rawToken(w, goodClaims(w, { sub: "worker-7" }));
    for (let i = 0; i < 2; i++)
      expect((await h.handler(request("/rest/rpc/do_it?x=1", token, { method: "POST", body: "{}" }))).status).toBe(200);
    const lines = h.logs.filter((l) => l.event === "request");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual({
      level: "info",
      event: "request",
      request_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7/),
      status: 200,
      upstream_status: 200,
      method: "POST",
      target: "rpc/do_it",
      issuer: "widgets-service",
      kid: w.keys.kid,
      writer_sub: "worker-7",
      cache: "miss",
      ms: expect.any(Number),
    });
    expect(lines[1]!.cache).toBe("hit");
    expect(JSON.stringify(h.logs)).not.toContain(token);
  });

  it("a refusal is one request_rejected line with its reason (and no request line)", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: false });
    const res = await h.handler(request("/rest/widgets", null));
    expect(await codeOf(res)).toEqual({ status: 401, code: "token_missing" });
    expect(h.logs).toEqual([
      expect.objectContaining({ event: "request_rejected", reason: "token_missing", status: 401, path: "/rest/widgets" }),
    ]);
  });

  it("caps every caller-supplied field: a 20 KB path, a 199-character kid, a long method", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: false });
    await h.handler(request(`/rest/${"a".repeat(20_000)}`, null));
    const badKid = await rawToken(w, goodClaims(w), { kid: "k".repeat(199) });
    expect(await codeOf(await h.handler(request("/rest/widgets", badKid)))).toEqual({ status: 401, code: "unknown_kid" });
    await h.handler(new Request("http://gateway.test/rest/widgets", { method: "X".repeat(300) }));
    expect(h.logs).toHaveLength(3);
    for (const line of h.logs) expect(JSON.stringify(line).length).toBeLessThan(1024);
    expect(h.logs[0]!.path).toBe(capText(`/rest/${"a".repeat(20_000)}`));
    expect(String(h.logs[0]!.path)).toMatch(/…\(20006 chars\)$/);
    expect(String(h.logs[1]!.kid)).toMatch(/^k{128}…\(199 chars\)$/);
    expect(h.logs[2]).toMatchObject({ reason: "method_not_allowed", method: `${"X".repeat(16)}…(300 chars)` });
  });

  it("a line stays under 1 KiB (UTF-8, as written) with hostile strings: multi-byte kid and sub, quotes, control characters", async () => {
    const w = await writer("a-writer-with-a-name-that-is-sixty-three-characters-long-xxxxxx", "ES256", {
      rate_limit_per_second: 1,
      rate_limit_burst: 1,
    });
    const lines: string[] = [];
    const clock = Date.now();
    const h = harness([], {
      usage: false,
      now: () => clock,
      logger: (e) => lines.push(JSON.stringify({ time: new Date(clock).toISOString(), ...e })),
    });
    const kid = "€".repeat(200); // 3 bytes each in UTF-8
    h.project.add(w, { kid });
    const table = `/rest/${"t".repeat(63)}`;
    const token = await rawToken(w, goodClaims(w, { sub: "😀".repeat(128) }), { kid });
    expect((await h.handler(request(table, token))).status).toBe(200);
    expect(await codeOf(await h.handler(request(table, token)))).toEqual({ status: 429, code: "rate_limited" });
    const quoted = await rawToken(w, goodClaims(w), { kid: '"\\'.repeat(100) });
    expect(await codeOf(await h.handler(request(table, quoted)))).toEqual({ status: 401, code: "unknown_kid" });
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(new TextEncoder().encode(line).byteLength).toBeLessThanOrEqual(1024);
    for (const value of ["\u0000".repeat(300), "\ud800".repeat(300), '"'.repeat(300), "😀".repeat(300), "\u009b".repeat(300)]) {
      const capped = capText(value, 128);
      expect(new TextEncoder().encode(JSON.stringify(capped)).byteLength).toBeLessThanOrEqual(128 + 2 + 20);
      expect(isPlainText(capped)).toBe(true);
    }
  });

  it("errors mode logs only answers ≥ 400; sample:N logs every error and one success in N", async () => {
    const w = await writer("widgets-service");
    const token = await rawToken(w, goodClaims(w));
    const errors = harness([w], { usage: false, accessLog: { kind: "errors" } });
    await errors.handler(request("/rest/widgets", token));
    await errors.handler(request("/rest/widgets", null));
    expect(errors.logs.map((l) => l.status)).toEqual([401]);

    const sample = harness([w], { usage: false, accessLog: { kind: "sample", every: 3 } });
    for (let i = 0; i < 7; i++) await sample.handler(request("/rest/widgets", token));
    await sample.handler(request("/rest/widgets", null));
    expect(sample.logs.map((l) => l.status)).toEqual([200, 200, 200, 401]);
  });

  it("FEDJWT_ACCESS_LOG, FEDJWT_BODY_TIMEOUT_MS and FEDJWT_USAGE_FLUSH_MS are validated: a bad value makes the gateway refuse to serve", () => {
    expect(parseAccessLogMode("all")).toEqual({ kind: "all" });
    expect(parseAccessLogMode("sample:10")).toEqual({ kind: "sample", every: 10 });
    for (const bad of ["none", "sample:0", "sample:x", "ALL", "sample:"]) expect(typeof parseAccessLogMode(bad)).toBe("string");
    const base = { SUPABASE_URL: "http://x.test", SUPABASE_SERVICE_ROLE_KEY: "s", SUPABASE_ANON_KEY: "a", FEDJWT_AUDIENCE: "aud" };
    expect(proxyOptionsFromEnv((n) => ({ ...base, FEDJWT_ACCESS_LOG: "errors" })[n]).accessLog).toEqual({ kind: "errors" });
    const bad = proxyOptionsFromEnv(
      (n) => ({ ...base, FEDJWT_ACCESS_LOG: "verbose", FEDJWT_BODY_TIMEOUT_MS: "soon", FEDJWT_USAGE_FLUSH_MS: "10" })[n],
    );
    expect(bad.configProblems).toEqual([
      "FEDJWT_BODY_TIMEOUT_MS must be a whole number",
      "FEDJWT_ACCESS_LOG must be all, errors or sample:N (N a whole number ≥ 1)",
      "FEDJWT_USAGE_FLUSH_MS must be 0 (off) or at least 100",
    ]);
    expect(proxyOptionsFromEnv((n) => ({ ...base, FEDJWT_USAGE_FLUSH_MS: "0" })[n]).usage).toBe(false);
    expect(proxyOptionsFromEnv((n) => ({ ...base, FEDJWT_USAGE_FLUSH_MS: "2000" })[n]).usage).toEqual({ flushIntervalMs: 2000 });
  });
});

describe("usage", () => {
  afterEach(() => vi.useRealTimers());

  it("counts per (issuer, kid, hour) and writes one batch per interval, off the request path", async () => {
    vi.useFakeTimers({ now: Date.parse("2026-12-04T10:59:59.000Z") });
    const batches: UsageRow[][] = [];
    const u = new UsageRecorder({
      sink: (rows) => {
        batches.push(rows);
        return Promise.resolve();
      },
      intervalMs: 5000,
    });
    for (let i = 0; i < 50; i++) u.record("a", "k1", i % 10 === 0);
    u.record("b", "", false);
    expect(batches).toHaveLength(0); // nothing is written while requests are served
    await vi.advanceTimersByTimeAsync(1000); // next hour: a new row
    u.record("a", "k1", false);
    await vi.advanceTimersByTimeAsync(4000);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual([
      { issuer: "a", kid: "k1", hour: "2026-12-04T10:00:00.000Z", requests: 50, errors: 5, last_seen_at: "2026-12-04T10:59:59.000Z" },
      { issuer: "b", kid: "", hour: "2026-12-04T10:00:00.000Z", requests: 1, errors: 0, last_seen_at: "2026-12-04T10:59:59.000Z" },
      { issuer: "a", kid: "k1", hour: "2026-12-04T11:00:00.000Z", requests: 1, errors: 0, last_seen_at: "2026-12-04T11:00:00.000Z" },
    ]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(batches).toHaveLength(1); // nothing new, nothing written
  });

  it("a failed write keeps the counts for the next one; memory stays bounded", async () => {
    vi.useFakeTimers();
    let fail = true;
    const batches: UsageRow[][] = [];
    const logs: Array<Record<string, unknown>> = [];
    const u = new UsageRecorder({
      sink: (rows) => {
        if (fail) return Promise.reject(new Error("record_key_usage answered 503"));
        batches.push(rows);
        return Promise.resolve();
      },
      intervalMs: 1000,
      maxRows: 2,
      log: (e) => logs.push(e),
    });
    u.record("a", "k", false);
    u.record("b", "k", false);
    u.record("c", "k", false); // over maxRows: dropped and said so
    await vi.advanceTimersByTimeAsync(1000);
    expect(logs.map((l) => l.event)).toEqual(["usage_dropped", "usage_flush_failed"]);
    expect(u.pendingRows).toBe(2);
    u.record("a", "k", true);
    fail = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.map((r) => [r.issuer, r.requests, r.errors])).toEqual([
      ["a", 2, 1],
      ["b", 1, 0],
    ]);
  });

  it("a batch the database refuses (4xx) is split until the bad row is found; that row is dropped with one line, every other row written", async () => {
    vi.useFakeTimers();
    const written: UsageRow[] = [];
    let calls = 0;
    const logs: Array<Record<string, unknown>> = [];
    const u = new UsageRecorder({
      // As PostgREST answers record_key_usage when one row holds a NUL (22P05 → 400): the whole batch is refused.
      sink: (rows) => {
        calls++;
        if (rows.some((r) => !isPlainText(r.kid))) return Promise.reject(new UsageRefusedError(400));
        written.push(...rows);
        return Promise.resolve();
      },
      intervalMs: 1000,
      log: (e) => logs.push(e),
    });
    for (let i = 0; i < 8; i++) u.record(`honest-${i}`, "k", false);
    u.record("poisoned", "k\u0000", false);
    u.record("poisoned", "k\ud800", true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(written.map((r) => r.issuer).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `honest-${i}`));
    expect(u.pendingRows).toBe(0); // nothing put back: the next batches are not blocked
    const dropped = logs.filter((l) => l.event === "usage_row_dropped");
    expect(dropped).toHaveLength(2);
    expect(dropped.every((l) => l.issuer === "poisoned" && typeof l.kid === "string" && isPlainText(l.kid))).toBe(true);
    expect(calls).toBeLessThanOrEqual(2 * 2 * Math.ceil(Math.log2(10)) + 1);
    u.record("honest-0", "k", false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(written.filter((r) => r.issuer === "honest-0")).toHaveLength(2);
  });

  it("more than 1,000 active keys between two writes are all counted, in writes of at most 1,000 rows", async () => {
    vi.useFakeTimers();
    const batches: UsageRow[][] = [];
    const logs: Array<Record<string, unknown>> = [];
    const u = new UsageRecorder({
      // As public.record_key_usage answers a batch over its 1,000-row cap (22023 → 400).
      sink: (rows) => {
        if (rows.length > 1000) return Promise.reject(new UsageRefusedError(400));
        batches.push(rows);
        return Promise.resolve();
      },
      intervalMs: 5000,
      log: (e) => logs.push(e),
    });
    for (let round = 0; round < 2; round++) for (let i = 0; i < 2500; i++) u.record(`writer-${i}`, "k", i % 2 === 0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(logs.map((l) => l.event)).toEqual([]);
    expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
    const rows = batches.flat();
    expect(new Set(rows.map((r) => r.issuer)).size).toBe(2500);
    expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(5000);
    expect(rows.reduce((n, r) => n + r.errors, 0)).toBe(2500);
    expect(u.pendingRows).toBe(0);
  });

  it("after a chunk that fails for the request itself the round stops and the rest is kept for the next write; written chunks are not written again", async () => {
    vi.useFakeTimers();
    let calls = 0;
    const written: UsageRow[] = [];
    const u = new UsageRecorder({
      sink: (rows) => {
        calls++;
        if (calls === 2) return Promise.reject(new Error("record_key_usage answered 503"));
        written.push(...rows);
        return Promise.resolve();
      },
      intervalMs: 1000,
    });
    for (let i = 0; i < 2500; i++) u.record(`writer-${i}`, "k", false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(2);
    expect(written).toHaveLength(1000);
    expect(u.pendingRows).toBe(1500);
    await vi.advanceTimersByTimeAsync(1000);
    expect(written).toHaveLength(2500);
    expect(new Set(written.map((r) => r.issuer)).size).toBe(2500);
  });

  it("a batch refused for the request itself (401, 5xx) is kept whole for the next write, never split", async () => {
    vi.useFakeTimers();
    let calls = 0;
    const u = new UsageRecorder({
      sink: () => {
        calls++;
        return Promise.reject(new Error("record_key_usage answered 401"));
      },
      intervalMs: 1000,
    });
    for (let i = 0; i < 8; i++) u.record(`w-${i}`, "k", false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(1);
    expect(u.pendingRows).toBe(8);
  });

  it("a token without kid is counted, logged and forwarded under the kid of the key that verified it", async () => {
    const w = await writer("one-key-service");
    const h = harness([w], { usage: { flushIntervalMs: 1 } });
    const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w), { kid: undefined })));
    expect(res.status).toBe(200);
    expect((await outboundClaims(h.project.calls[0]!)).writer_kid).toBe(w.keys.kid);
    expect(h.logs.find((l) => l.event === "request")?.kid).toBe(w.keys.kid);
    await vi.waitFor(() => expect(h.project.usageBatches.length).toBeGreaterThan(0));
    expect((h.project.usageBatches.flat() as UsageRow[]).map((r) => r.kid)).toEqual([w.keys.kid]);
  });

  it("the gateway records verified requests only, and an outage of the usage write never fails a request", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: { flushIntervalMs: 1 } });
    h.project.usageMode = "down";
    const token = await rawToken(w, goodClaims(w));
    for (let i = 0; i < 3; i++) expect((await h.handler(request("/rest/widgets", token))).status).toBe(200);
    expect((await h.handler(request("/rest/widgets", null))).status).toBe(401); // unverified: not counted
    await vi.waitFor(() => expect(h.logs.map((l) => l.event)).toContain("usage_flush_failed"));
    expect((await h.handler(request("/rest/widgets", token))).status).toBe(200);
    h.project.usageMode = "ok";
    await vi.waitFor(() => expect(h.project.usageBatches.length).toBeGreaterThan(0));
    const rows = h.project.usageBatches.flat() as UsageRow[];
    expect(rows.every((r) => r.issuer === "widgets-service" && r.kid === w.keys.kid)).toBe(true);
    expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(4);
  });
});

describe("rate limit", () => {
  it("token bucket: burst, then one per 1/rate seconds; Retry-After in whole seconds", () => {
    let t = 0;
    const rl = new RateLimiter({ now: () => t });
    const limit = { perSecond: 0.5, burst: 2 };
    expect([rl.take("a", limit), rl.take("a", limit), rl.take("a", limit)]).toEqual([0, 0, 2]);
    t = 1000;
    expect(rl.take("a", limit)).toBe(1);
    t = 2000;
    expect(rl.take("a", limit)).toBe(0);
    expect(rl.take("b", limit)).toBe(0); // buckets are per issuer
  });

  it("a flood from one issuer gets 429 rate_limited while another issuer keeps every 2xx", async () => {
    const flood = await writer("flood-service", "ES256", { rate_limit_per_second: 1, rate_limit_burst: 3 }, 0);
    const calm = await writer("calm-service", "ES256", {}, 1);
    const clock = Date.now(); // frozen: no refill during the burst, so the outcome is exact
    const h = harness([flood, calm], { usage: false, now: () => clock });
    const floodToken = await rawToken(flood, goodClaims(flood));
    const calmToken = await rawToken(calm, goodClaims(calm));
    const outcomes = { flood: [] as number[], calm: [] as number[] };
    for (let i = 0; i < 10; i++) {
      const f = await h.handler(request("/rest/widgets", floodToken));
      outcomes.flood.push(f.status);
      if (f.status === 429) {
        expect((await f.json()).code).toBe("rate_limited");
        expect(Number(f.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
      outcomes.calm.push((await h.handler(request("/rest/widgets", calmToken))).status);
    }
    expect(outcomes.flood.filter((s) => s === 200)).toHaveLength(3);
    expect(outcomes.flood.filter((s) => s === 429)).toHaveLength(7);
    expect(outcomes.calm).toEqual(Array(10).fill(200));
    expect(h.project.calls).toHaveLength(13);
    expect(h.logs.filter((l) => l.reason === "rate_limited")).toHaveLength(7);
  });
  it("a request the rate limit refuses writes nothing: its jti is not consumed, and it can be sent again later", async () => {
    // require_jti + a limit of 1 with burst 1: the second token is refused by the limit before its jti is
    // recorded, so once the bucket refills the same token goes through (a consumed jti would be token_replayed).
    const w = await writer("one-time-service", "ES256", { require_jti: true, rate_limit_per_second: 1, rate_limit_burst: 1 });
    let clock = Date.now();
    const h = harness([w], { usage: false, now: () => clock });
    const first = await rawToken(w, goodClaims(w));
    const second = await rawToken(w, goodClaims(w));
    expect((await h.handler(request("/rest/widgets", first))).status).toBe(200);
    const consumedBefore = h.project.consumed.size;
    expect(await codeOf(await h.handler(request("/rest/widgets", second)))).toEqual({ status: 429, code: "rate_limited" });
    expect(h.project.consumed.size).toBe(consumedBefore);
    clock += 1000;
    expect((await h.handler(request("/rest/widgets", second))).status).toBe(200);
    expect(h.project.calls).toHaveLength(2);
  });
});

describe("rate limits shared by instances", () => {
  afterEach(() => vi.useRealTimers());

  it("an instance refills at its share of the project's limit, as the database reports it", async () => {
    const w = await writer("shared-service", "ES256", { rate_limit_per_second: 4, rate_limit_burst: 4 });
    let clock = Date.now();
    const h = harness([w], { usage: false, now: () => clock });
    // The database says: over the window this instance saw a quarter of the writer's requests.
    h.project.limitAnswer = () => ({ "shared-service": { seen: 400, mine: 100 } });
    const token = await rawToken(w, goodClaims(w));
    const send = async () => (await h.handler(request("/rest/widgets", token))).status;
    expect(await send()).toBe(200); // no answer yet: the instance's own bucket (full: 4)
    await vi.waitFor(() => expect(h.project.limitReports.length).toBeGreaterThan(0)); // a new writer is reported at once
    expect(h.project.limitReports[0]!.p_counts).toEqual([{ issuer: "shared-service", second: expect.any(String), seen: 1, admitted: 1 }]);
    await new Promise((r) => setTimeout(r, 10));
    // Share 0.25: the bucket holds 1 (burst 4 × 0.25) and refills at 1/s.
    const first = [await send(), await send(), await send()];
    expect(first).toEqual([200, 429, 429]);
    clock += 1000;
    expect([await send(), await send()]).toEqual([200, 429]);
  });

  it("under the limit an instance gets its own rate plus an even part of the unused rest; over it, its proportion", async () => {
    let answer = { w: { seen: 20, mine: 2, instances: 4 } }; // 2/s project-wide of 10/s, 0.2/s of it here
    const limits = new SharedLimits({ sink: () => Promise.resolve(answer) });
    limits.observe("w", true);
    await limits.sync();
    expect(limits.share("w", 10)).toBeCloseTo((0.2 + (10 - 2) / 4) / 10); // 2.2/s of 10/s: 11 × what it asks
    answer = { w: { seen: 400, mine: 50, instances: 4 } }; // 40/s project-wide: 5/s here is an eighth
    limits.observe("w", true);
    await limits.sync();
    expect(limits.share("w", 10)).toBeCloseTo(1 / 8);
  });

  it("when the database does not answer, each instance limits on its own (fail open for limits), said once", async () => {
    vi.useFakeTimers();
    const logs: Array<Record<string, unknown>> = [];
    let up = false;
    const limits = new SharedLimits({
      sink: () => (up ? Promise.resolve({ w: { seen: 10, mine: 5 } }) : Promise.reject(new Error("record_rate_windows answered 503"))),
      log: (e) => logs.push(e),
    });
    for (let i = 0; i < 3; i++) {
      limits.observe("w", true);
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(limits.share("w", 1)).toBe(1);
    expect(logs.map((l) => l.event)).toEqual(["limit_sync_failed"]);
    up = true;
    limits.observe("w", true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(limits.share("w", 1)).toBe(0.5);
    expect(logs.map((l) => l.event)).toEqual(["limit_sync_failed", "limit_sync_recovered"]);
    up = false;
    await vi.advanceTimersByTimeAsync(10_000); // no fresh answer for 10 s: the share is 1 again
    expect(limits.share("w", 1)).toBe(1);
  });
});

describe("body timeout", () => {
  it("a body that does not arrive in time → 408 body_timeout, nothing forwarded", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: false, bodyTimeoutMs: 50 });
    const stalled = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"name":'));
      },
    });
    const req = new Request("http://gateway.test/rest/widgets", {
      method: "POST",
      body: stalled,
      headers: { authorization: `Bearer ${await rawToken(w, goodClaims(w))}` },
      duplex: "half",
    } as RequestInit);
    expect(await codeOf(await h.handler(req))).toEqual({ status: 408, code: "body_timeout" });
    expect(h.project.calls).toHaveLength(0);
  });
});

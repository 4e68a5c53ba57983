import { describe, expect, it } from "vitest";
import { isWellFormedRequestId, requestIdOf, uuidV7 } from "../src/request-id.ts";
import { goodClaims, harness, rawToken, request, writer } from "../src/testing.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("request ids", () => {
  it.each(["a", "0193a5f0-7c1e-7abc-8def-0123456789ab", "job-42:attempt.1_a", "x".repeat(64), "A.B_C:D-E"])(
    "a well-formed id is kept as sent: %s",
    (id) => {
      expect(isWellFormedRequestId(id)).toBe(true);
      expect(requestIdOf(new Headers({ "x-request-id": id }))).toEqual({ id, replaced: false });
    },
  );

  it.each(["", "x".repeat(65), "has space", "semi;colon", "slash/x", 'quote"', "é", "a,b", "<script>"])(
    "a malformed or oversized id is replaced by a new UUIDv7: %j",
    (sent) => {
      expect(isWellFormedRequestId(sent)).toBe(false);
      const got = requestIdOf(new Headers({ "x-request-id": sent }));
      expect(got.replaced).toBe(true);
      expect(got.id).toMatch(UUID_V7);
    },
  );

  it("two X-Request-Id headers are one malformed value (joined with a comma): replaced", () => {
    const h = new Headers();
    h.append("x-request-id", "a");
    h.append("x-request-id", "b");
    expect(requestIdOf(h).replaced).toBe(true);
  });

  it("no header: a new UUIDv7, not counted as replaced", () => {
    const got = requestIdOf(new Headers());
    expect(got.replaced).toBe(false);
    expect(got.id).toMatch(UUID_V7);
  });

  it("UUIDv7 carries the time in its first 48 bits, so ids sort by time; the rest is random", () => {
    const at = Date.parse("2026-12-07T20:00:00.123Z");
    const id = uuidV7(at);
    expect(Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(at);
    expect(uuidV7(at + 1) > id).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => uuidV7(at))).size).toBe(1000);
  });
});

describe("request ids through the gateway", () => {
  it("a writer's well-formed id: answered in X-Request-Id, in the access line, sent to PostgREST", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: false });
    const token = await rawToken(w, goodClaims(w));
    const res = await h.handler(request("/rest/widgets", token, { headers: { "X-Request-Id": "job-42:attempt.1" } }));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("job-42:attempt.1");
    expect(h.project.calls.at(-1)!.headers.get("x-request-id")).toBe("job-42:attempt.1");
    expect(h.logs).toEqual([expect.objectContaining({ event: "request", request_id: "job-42:attempt.1" })]);
  });

  it("no id: a new UUIDv7, the same in the answer, the access line and upstream; a new one per request", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: false });
    const token = await rawToken(w, goodClaims(w));
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await h.handler(request("/rest/widgets", token));
      const id = res.headers.get("x-request-id")!;
      expect(id).toMatch(UUID_V7);
      expect(h.project.calls.at(-1)!.headers.get("x-request-id")).toBe(id);
      expect(h.logs.at(-1)!.request_id).toBe(id);
      ids.push(id);
    }
    expect(ids[0]).not.toBe(ids[1]);
  });

  it.each([
    ["oversized", "a".repeat(65)],
    ["malformed", "<script>alert(1)</script>"],
    ["a log injection attempt", 'x","level":"error","event":"forged'],
  ])("an %s id is replaced, never refused, never logged as sent", async (_what, sent) => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: false });
    const token = await rawToken(w, goodClaims(w));
    const res = await h.handler(request("/rest/widgets", token, { headers: { "x-request-id": sent } }));
    expect(res.status).toBe(200);
    const id = res.headers.get("x-request-id")!;
    expect(id).toMatch(UUID_V7);
    expect(h.project.calls.at(-1)!.headers.get("x-request-id")).toBe(id);
    expect(h.logs.at(-1)!.request_id).toBe(id);
    expect(JSON.stringify(h.logs)).not.toContain(sent);
  });

  it("refusals carry it too: before a token is read, on a bad token, on a misconfigured gateway", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: false });
    const refusals = [
      await h.handler(new Request("http://gateway.test/rest/widgets", { method: "OPTIONS", headers: { "x-request-id": "r-options" } })),
      await h.handler(request("/rest/../auth/v1/user", null, { headers: { "x-request-id": "r-path" } })),
      await h.handler(request("/rest/widgets", "not.a.token", { headers: { "x-request-id": "r-token" } })),
      await harness([w], { usage: false, signingKey: undefined }).handler(
        request("/rest/widgets", null, { headers: { "x-request-id": "r-config" } }),
      ),
    ];
    expect(refusals.map((r) => [r.status, r.headers.get("x-request-id")])).toEqual([
      [405, "r-options"],
      [404, "r-path"],
      [401, "r-token"],
      [503, "r-config"],
    ]);
    expect(h.logs.filter((l) => l.event === "request_rejected").map((l) => l.request_id)).toEqual(["r-options", "r-path", "r-token"]);
    expect(h.project.calls).toEqual([]);
  });

  it("PostgREST's side cannot choose the id the writer sees", async () => {
    const w = await writer("widgets-service");
    const h = harness([w], { usage: false });
    h.project.upstreamResponse = () => new Response("[]", { status: 200, headers: { "x-request-id": "from-upstream" } });
    const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w)), { headers: { "x-request-id": "mine" } }));
    expect(res.headers.get("x-request-id")).toBe("mine");
  });
});

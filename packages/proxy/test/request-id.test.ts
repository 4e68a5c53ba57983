import { describe, expect, it } from "vitest";
import { isWellFormedRequestId, requestIdOf, uuidV7 } from "../src/request-id.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("request ids", () => {
  it.each(["a", "0193a5f0-7c1e-7abc-8def-0123456789ab", "job-42:attempt.1_a", "x".repeat(64), "A.B_C:D-E"])(
    "a well-formed id is kept as sent: %s",
    (id) => {
      expect(isWellFormedRequestId(id)).toBe(true);
      expect(requestIdOf(new Headers({ "x-request-id": id }))).toEqual({ id, replaced: false });
    },
  );

  it.each(["", "x".repeat(65), "has space", "semi;colon", "slash/x", "quote\"", "é", "a,b", "<script>"])(
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

import { describe, expect, it } from "vitest";
import { formatOutcomes } from "../src/report.ts";
import type { Outcome } from "../src/writer.ts";

const base = { action: "insert into orders", status: 201, message: "msg" };

function line(o: Outcome): string {
  const lines = formatOutcomes("title", [o]).split("\n");
  expect(lines).toHaveLength(2);
  return lines[1] as string;
}

describe("formatOutcomes", () => {
  it("puts the title first and one line per outcome, in order", () => {
    const text = formatOutcomes("orders-service (supabase-js)", [
      { ...base, action: "first", expected: "allowed", ok: true },
      { ...base, action: "second", expected: "denied", ok: false, status: 403, code: "42501" },
    ]);
    const lines = text.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe("orders-service (supabase-js)");
    expect(lines[1]).toContain("first");
    expect(lines[2]).toContain("second");
  });

  it("marks an allowed action that went through with ✓", () => {
    const l = line({ ...base, expected: "allowed", ok: true });
    expect(l).toMatch(/^\s*✓ /);
    expect(l).toContain("201");
    expect(l).toContain("allowed");
    expect(l).not.toContain("✗");
  });

  it("marks a denied action that was refused with ✓, its code and that the policy intends it", () => {
    const l = line({ ...base, expected: "denied", ok: false, status: 403, code: "42501", message: "permission denied" });
    expect(l).toMatch(/^\s*✓ /);
    expect(l).toContain("403");
    expect(l).toContain("denied (42501)");
    expect(l).toContain("as the policy intends");
    expect(l).toContain("permission denied");
  });

  it("marks an allowed action that was refused with ✗ and shows its code", () => {
    const l = line({ ...base, expected: "allowed", ok: false, status: 401, code: "PGRST301" });
    expect(l).toMatch(/^\s*✗ /);
    expect(l).toContain("denied (PGRST301)");
    expect(l).not.toContain("as the policy intends");
  });

  it("marks a denied action that went through with ✗ and does not call it intended", () => {
    const l = line({ ...base, expected: "denied", ok: true, status: 204, message: "deleted" });
    expect(l).toMatch(/^\s*✗ /);
    expect(l).toContain("allowed");
    expect(l).not.toContain("as the policy intends");
  });

  it("shows ? for a refusal without a code", () => {
    const l = line({ ...base, expected: "allowed", ok: false, status: 500 });
    expect(l).toMatch(/^\s*✗ /);
    expect(l).toContain("denied (?)");
  });
});

// What `fedjwt rotate --public-key` prints: the rest of the rotation in docs/key-rotation.md's order (3. switch after
// the gateway's key cache, 4. retire after the overlap), with times and a retire command that is accepted then.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { rotationPlan } from "../src/commands/rotate.ts";

const base = {
  issuer: "orders-service",
  newKid: "NEW",
  alg: "ES256",
  created: true,
  oldKids: ["OLD"],
  maxLifetimeSeconds: 300,
  connectionFlags: ["--local"],
  now: Date.parse("2026-12-07T12:00:00Z"),
};

describe("rotationPlan", () => {
  it("numbers its steps as the doc does, switch before retire, with UTC times", () => {
    const { text } = rotationPlan(base);
    const steps = [...text.matchAll(/^ {2}(\d)\. /gm)].map((m) => m[1]);
    expect(steps).toEqual(["2", "3", "4"]);
    expect(text).toContain("3. from 12:00:05 on (5 s from now");
    expect(text).toContain("not seen it for 305 s");
    expect(text).toContain("12:05:10 after a switch now:");
    expect(text).toContain(
      "an hour after its last use (13:00:05 after a switch now):\n       fedjwt rotate --issuer orders-service --retire OLD --local",
    );
  });

  it("prints a retire command with the overlap as its window and the connection the rotation used", () => {
    const { text, json } = rotationPlan(base);
    expect(text).toContain("fedjwt rotate --issuer orders-service --retire OLD --seen-within 305s --local");
    expect(json.retireCommands).toEqual(["fedjwt rotate --issuer orders-service --retire OLD --seen-within 305s --local"]);
    expect(json).toMatchObject({ switchAfterSeconds: 5, overlapSeconds: 305 });
    expect(rotationPlan({ ...base, connectionFlags: ["--url", "https://x.supabase.co"] }).text).toContain(
      "--retire OLD --seen-within 305s --url https://x.supabase.co",
    );
  });

  it("with no old key there is nothing to retire", () => {
    expect(rotationPlan({ ...base, oldKids: [] }).text).not.toContain("4.");
  });

  it("docs/key-rotation.md gives the same order: wait for the cache, switch, then retire with the overlap window", () => {
    const doc = readFileSync(fileURLToPath(new URL("../../../docs/key-rotation.md", import.meta.url)), "utf8");
    const cache = doc.indexOf("# 3. wait for the gateway to see it");
    const retire = doc.indexOf("# 4.");
    expect(cache).toBeGreaterThan(0);
    expect(retire).toBeGreaterThan(cache);
    expect(doc.slice(retire)).toMatch(/rotate --issuer orders-service --retire <old kid> --seen-within 305s/);
  });
});

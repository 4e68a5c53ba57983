// What `fedjwt register` prints: one truthful first line for the key and the issuer's policy together.
import { describe, expect, it } from "vitest";
import { registerSummary } from "../src/commands/register.ts";
import type { IssuerRow } from "../src/registry-client.ts";

const row: IssuerRow = {
  issuer: "orders-service",
  description: null,
  db_role: "federated_writer",
  allowed_roles: ["orders_writer"],
  max_token_lifetime_seconds: 300,
  require_jti: false,
  is_active: true,
  created_at: "2026-12-04T00:00:00Z",
};
const key = { kid: "k1", jwks_uri: null, alg: "ES256" };

describe("registerSummary", () => {
  it.each([
    [true, "created", 'Registered key k1 (ES256) for issuer "orders-service" (new issuer).'],
    [true, "updated", 'Registered key k1 (ES256) for issuer "orders-service" (issuer\'s policy updated).'],
    [false, "unchanged", 'Key k1 of issuer "orders-service" was already registered; nothing to do.'],
    [false, "updated", 'Key k1 of issuer "orders-service" was already registered; updated the issuer\'s policy.'],
  ] as const)("key created %s, issuer %s → %s", (created, action, first) => {
    const lines = registerSummary("orders-service", key, created, action, row).split("\n");
    expect(lines[0]).toBe(first);
    expect(lines[1]).toBe("  issuer: db_role=federated_writer allowed_roles=[orders_writer] max_lifetime=300s require_jti=false");
    expect(lines).toHaveLength(2);
  });

  it("never says nothing to do when something changed", () => {
    for (const action of ["created", "updated"] as const)
      expect(registerSummary("orders-service", key, false, action, row)).not.toContain("nothing to do");
  });
});

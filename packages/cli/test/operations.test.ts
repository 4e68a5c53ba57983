// Usage-aware commands without a project: flag checks (exit 2, one line, before any request), help text,
// how a JWKS registration's usage is summed, and the doctor's keys check over a faked project.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { doctor } from "../src/doctor.ts";
import { auditQuery } from "../src/commands/audit.ts";
import { parseDuration, usageOf } from "../src/usage.ts";
import { BIN, fedjwt, tempDir, type Run } from "./helpers.ts";

function refused(r: Run, pattern: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

const conn = ["--url", "http://127.0.0.1:9", "--service-role-key", "sb_secret_x"];

describe("flags", () => {
  it("bad --rate-limit / --rate-burst are refused before any request", () => {
    const dir = tempDir();
    expect(fedjwt(["keygen", "--issuer", "rl-service", "--target", "local", "--out", dir]).code).toBe(0);
    const pub = `${dir}/rl-service-local.pub`;
    const register = (...extra: string[]) => fedjwt(["register", "--issuer", "rl-service", "--public-key", pub, ...conn, ...extra]);
    refused(register("--rate-limit", "fast"), /--rate-limit must be a number of requests per second above 0/);
    refused(register("--rate-limit", "0"), /--rate-limit must be a number/);
    refused(register("--rate-limit", "5", "--rate-burst", "1.5"), /--rate-burst must be a whole number from 1 to 100000/);
    refused(register("--rate-limit", "none", "--rate-burst", "3"), /--rate-burst does not go with --rate-limit none/);
  });

  it("durations are checked: --usage-window, --seen-within", () => {
    refused(fedjwt(["list", "--usage-window", "5x", ...conn]), /--usage-window "5x" is not a duration such as 30m, 24h or 7d/);
    refused(
      fedjwt(["rotate", "--issuer", "a", "--retire", "k", "--seen-within", "soon", ...conn]),
      /--seen-within "soon" is not a duration/,
    );
    refused(fedjwt(["deactivate", "--issuer", "a", "--force", ...conn]), /--force applies to --kid only/);
    expect(parseDuration("90s", "--x")).toBe(90_000);
    expect(parseDuration("7d", "--x")).toBe(7 * 86_400_000);
  });

  it("help tells what the new flags do", () => {
    expect(fedjwt(["register", "--help"]).stdout).toMatch(
      /--rate-limit <per-second>\s+requests per second for the project \(all gateway instances together\)/,
    );
    expect(fedjwt(["list", "--help"]).stdout).toMatch(/--usage-window <duration>\s+count requests and errors over this window/);
    expect(fedjwt(["rotate", "--help"]).stdout).toMatch(
      /--seen-within <duration>\s+refuse \(unless --force\) when the gateway saw the key/,
    );
    expect(fedjwt(["deactivate", "--help"]).stdout).toMatch(/--force\s+with --kid: deactivate even if the gateway saw the key recently/);
  });
});

describe("audit flags", () => {
  it("bad --request-id, --table, --limit, --since and --writer are refused before any request", () => {
    refused(fedjwt(["audit", "--request-id", "a b", ...conn]), /--request-id must be 1 to 64 of A-Z a-z 0-9 \. _ : -/);
    refused(fedjwt(["audit", "--request-id", "x".repeat(65), ...conn]), /--request-id must be 1 to 64/);
    refused(fedjwt(["audit", "--table", "orders; drop", ...conn]), /--table "orders; drop" is not a table name/);
    refused(fedjwt(["audit", "--limit", "0", ...conn]), /--limit "0" must be a whole number from 1 to 1000/);
    refused(fedjwt(["audit", "--limit", "1001", ...conn]), /--limit "1001" must be a whole number/);
    refused(fedjwt(["audit", "--since", "yesterday", ...conn]), /--since "yesterday" is not a duration/);
    refused(fedjwt(["audit", "--writer", "a\nb", ...conn]), /--writer must be a name of 1 to 200 printable characters/);
  });

  it("the flags become write_audit_rows' arguments (one row more than the limit, to tell a cut answer)", () => {
    const now = Date.parse("2026-12-07T12:00:00Z");
    expect(
      auditQuery(
        {
          writer: "orders-service",
          table: "orders",
          "request-id": "r-1",
          since: "1h",
          limit: "20",
        },
        now,
      ),
    ).toEqual({ p_writer: "orders-service", p_table: "orders", p_request_id: "r-1", p_since: "2026-12-07T11:00:00.000Z", p_limit: 21 });
    expect(
      auditQuery({
        writer: undefined,
        table: undefined,
        "request-id": undefined,
        since: undefined,
        limit: "100",
      }),
    ).toEqual({ p_limit: 101 });
  });
});

describe("usage per registry key", () => {
  const usage = new Map([
    ["a\nk1", { last_seen_at: "2026-12-04T10:00:00Z", requests: 5, errors: 1 }],
    ["a\nj1", { last_seen_at: "2026-12-04T11:00:00Z", requests: 2, errors: 0 }],
    ["a\nj2", { last_seen_at: "2026-12-04T09:00:00Z", requests: 3, errors: 3 }],
    ["b\nj1", { last_seen_at: "2026-12-04T12:00:00Z", requests: 7, errors: 0 }],
  ]);

  it("a static key is its kid; a JWKS row sums the issuer's other kids; unseen is null", () => {
    expect(usageOf(usage, "a", "k1", ["k1"])).toEqual({ last_seen_at: "2026-12-04T10:00:00Z", requests: 5, errors: 1 });
    expect(usageOf(usage, "a", null, ["k1"])).toEqual({ last_seen_at: "2026-12-04T11:00:00Z", requests: 5, errors: 3 });
    expect(usageOf(usage, "a", "k9", ["k1", "k9"])).toEqual({ last_seen_at: null, requests: 0, errors: 0 });
  });
});

describe("doctor's keys check", () => {
  const now = Date.parse("2026-12-04T12:00:00Z");
  function project(keys: unknown[], usage: unknown[]): typeof fetch {
    return (input) => {
      const url = new URL(String(input));
      const json = (body: unknown) => Promise.resolve(Response.json(body, { headers: { date: new Date(now).toUTCString() } }));
      if (url.pathname.startsWith("/functions/")) return Promise.resolve(new Response("{}", { status: 502 }));
      if (url.pathname === "/rest/v1/rpc/key_usage_summary") return json(usage);
      if (url.pathname === "/rest/v1/jwt_public_keys" && url.searchParams.get("is_active") === "is.true") return json(keys);
      return json([]);
    };
  }
  const run = (keys: unknown[], usage: unknown[]) =>
    doctor({ url: "https://project.test", serviceKey: "sb_secret_x", fetch: project(keys, usage), now: () => now });

  it("warns of active keys never seen and keys expiring within 7 days; the exit code is not touched by it", async () => {
    const report = await run(
      [
        { issuer: "a", kid: "used", is_active: true, expires_at: null },
        { issuer: "a", kid: "idle", is_active: true, expires_at: null },
        { issuer: "b", kid: "soon", is_active: true, expires_at: "2026-12-06T00:00:00Z" },
      ],
      [
        { issuer: "a", kid: "used", last_seen_at: "2026-12-04T11:59:00Z", requests: 3, errors: 0 },
        { issuer: "b", kid: "soon", last_seen_at: "2026-12-04T11:00:00Z", requests: 1, errors: 0 },
      ],
    );
    const keys = report.checks.find((c) => c.id === "keys")!;
    expect(keys.status).toBe("warn");
    expect(keys.message).toBe("never seen by the gateway: a/idle; expiring within 7 days: b/soon (2026-12-06T00:00:00Z)");
  });

  it("is ok when every active key was seen and none expires soon", async () => {
    const report = await run(
      [{ issuer: "a", kid: "used", is_active: true, expires_at: "2027-06-01T00:00:00Z" }],
      [{ issuer: "a", kid: "used", last_seen_at: "2026-12-04T11:59:00Z", requests: 3, errors: 0 }],
    );
    expect(report.checks.find((c) => c.id === "keys")!.status).toBe("ok");
  });
});

describe("list on a registry from before usage was recorded", () => {
  it("still lists, shows usage as unknown and says how to get it", async () => {
    const server = createServer((req, res) => {
      const path = new URL(req.url!, "http://x").pathname;
      res.setHeader("content-type", "application/json");
      if (path === "/rest/v1/rpc/key_usage_summary") {
        res.statusCode = 404;
        res.end(JSON.stringify({ code: "PGRST202", message: "Could not find the function public.key_usage_summary" }));
      } else if (path === "/rest/v1/jwt_issuers") {
        res.end(
          JSON.stringify([
            {
              issuer: "old-service",
              db_role: "federated_writer",
              allowed_roles: [],
              max_token_lifetime_seconds: 300,
              require_jti: false,
              is_active: true,
            },
          ]),
        );
      } else res.end(JSON.stringify([{ issuer: "old-service", kid: "k1", alg: "ES256", jwks_uri: null, is_active: true }]));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await new Promise<Run>((resolve) => {
        const child = spawn(process.execPath, [BIN, "list", "--url", url, "--service-role-key", "sb_secret_x"]);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/old-service\s+k1\s+ES256\s+public key\s+yes\s+\?\s+\?\s+\?\s+federated_writer/);
      expect(r.stderr).toMatch(/^Usage unknown \(\?\): .* has no key usage yet; apply the template's latest migrations/);
    } finally {
      server.close();
    }
  });
});

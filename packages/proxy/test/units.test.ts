import { afterEach, describe, expect, it, vi } from "vitest";
import { isWriterDbRoleName } from "../src/db-role.ts";
import { UpstreamDeadlines } from "../src/deadlines.ts";
import { proxyOptionsFromEnv } from "../src/env.ts";
import { ProxyError } from "../src/errors.ts";
import { LruMap } from "../src/lru.ts";
import { consoleLogger } from "../src/log.ts";
import { inWindow } from "../src/verify.ts";
import { isAllowedJwksUri } from "../src/jwks.ts";
import { resolveTarget } from "../src/paths.ts";
import { isJwtKey } from "../src/registry.ts";
import { bearerToken, parseToken } from "../src/token.ts";
import { isUuid, uuidV5 } from "../src/uuid.ts";

describe("resolveTarget", () => {
  it.each([
    ["http://h/rest/widgets", "widgets", ""],
    ["http://h/rest/widgets?select=*", "widgets", "?select=*"],
    ["http://h/rest/rest/v1/widgets?a=1&a=2", "widgets", "?a=1&a=2"],
    ["http://h/functions/v1/rest/rpc/do_it?x=%20y", "rpc/do_it", "?x=%20y"],
    ["http://h/rest/widgets?q=a/../b", "widgets", "?q=a/../b"],
  ])("%s → %s %s", (url, path, query) => {
    expect(resolveTarget(url, "rest")).toEqual({ path, query });
  });

  // Raw strings, as a runtime that does not normalise URLs would hand them over.
  it.each([
    "http://h/rest/../auth/v1/user",
    "http://h/rest/./widgets",
    "http://h/rest/%2e%2e/auth",
    "http://h/rest/%2E./auth",
    "http://h/rest/widgets%2Fx",
    "http://h/rest/..\\auth",
    "http://h/rest\\widgets",
    "http://h/rest//widgets",
    "http://h/rest/widgets/",
    "http://h/rest/1widgets",
    "http://h/rest/rpc/",
    "http://h/rest/rpc/a/b",
    "http://h/rest/auth",
    "http://h/rest/graphql",
    "http://h/restx/widgets",
    "http://h/functions/v1/other/widgets",
    "http://h/",
    "/rest/widgets%00",
  ])("refuses %s", (url) => {
    expect(() => resolveTarget(url, "rest")).toThrow(ProxyError);
    try {
      resolveTarget(url, "rest");
    } catch (e) {
      expect((e as ProxyError).reason).toBe("path_not_allowed");
    }
  });

  it("serves another function name when configured", () => {
    expect(resolveTarget("http://h/gateway/widgets", "gateway")).toEqual({ path: "widgets", query: "" });
    expect(() => resolveTarget("http://h/rest/widgets", "gateway")).toThrow(ProxyError);
  });
});

describe("uuidV5", () => {
  it("matches the RFC 9562 test vector", async () => {
    expect(await uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2");
  });

  it("is a valid, deterministic UUID", async () => {
    const a = await uuidV5("svc\nworker-1");
    expect(isUuid(a)).toBe(true);
    expect(a[14]).toBe("5");
    expect(await uuidV5("svc\nworker-1")).toBe(a);
    expect(await uuidV5("svc\nworker-2")).not.toBe(a);
  });

  it.each(["", "worker-1", "123e4567-e89b-12d3-a456-42661417400", "{123e4567-e89b-12d3-a456-426614174000}"])("%j is not a UUID", (v) => {
    expect(isUuid(v)).toBe(false);
  });
});

describe("small rules", () => {
  it("bearer tokens", () => {
    expect(bearerToken("Bearer a.b.c")).toBe("a.b.c");
    expect(bearerToken("bearer   a.b.c")).toBe("a.b.c");
    for (const bad of ["Basic a", "Bearer", "Bearer a b", "a.b.c"]) expect(() => bearerToken(bad)).toThrow(ProxyError);
    expect(() => bearerToken(null)).toThrow(expect.objectContaining({ reason: "token_missing" }));
  });

  it("JWKS URLs: https, or http on loopback only", () => {
    expect(isAllowedJwksUri("https://writer.example/jwks.json")).toBe(true);
    expect(isAllowedJwksUri("http://127.0.0.1:8787/jwks.json")).toBe(true);
    expect(isAllowedJwksUri("http://localhost/jwks.json")).toBe(true);
    expect(isAllowedJwksUri("http://writer.example/jwks.json")).toBe(false);
    expect(isAllowedJwksUri("http://169.254.169.254/latest")).toBe(false);
    expect(isAllowedJwksUri("file:///etc/passwd")).toBe(false);
    expect(isAllowedJwksUri("not a url")).toBe(false);
  });

  it("legacy JWT keys get a Bearer, new sb_ keys do not", () => {
    expect(isJwtKey("eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig")).toBe(true);
    expect(isJwtKey("sb_secret_abc")).toBe(false);
  });
});

describe("parseToken on a token that is not a writer's", () => {
  const token = (header: object) => `${Buffer.from(JSON.stringify(header)).toString("base64url")}.e30.c2ln`;
  const details = (header: object) => {
    try {
      parseToken(token(header));
    } catch (e) {
      return { code: (e as ProxyError).reason, details: (e as ProxyError).details };
    }
    return null;
  };

  it("names an HS* token as the project's own key or session (the gateway's anon JWT when only the apikey was sent)", () => {
    expect(details({ alg: "HS256", typ: "JWT" })).toEqual({
      code: "alg_not_allowed",
      details: 'alg "HS256" is not allowed (a Supabase API key or user session, not a writer token: send the writer\'s token as Bearer)',
    });
  });

  it("does not say so of other refused algorithms", () => {
    expect(details({ alg: "none" })).toEqual({ code: "alg_not_allowed", details: 'alg "none" is not allowed' });
  });
});

describe("parseToken's one-spelling rule", () => {
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const header = Buffer.from(JSON.stringify({ alg: "ES256" })).toString("base64url");

  it("refuses exactly the signature spellings whose decoding does not encode back to them", () => {
    // Every last character after 1, 2 and 3 characters of a 4-character group (6, 4 or 2 spare bits):
    // the check on the last character's unused bits must agree with decode → encode.
    const disagreements: string[] = [];
    for (const body of ["AAAA", "AAAAA", "AAAAAA", "AAAAAAA"]) {
      for (const last of ALPHABET) {
        const sig = `${body.slice(0, -1)}${last}`;
        // Node decodes a 1-character remainder leniently; no encoding ends with one.
        const roundTrip = sig.length % 4 !== 1 && Buffer.from(sig, "base64url").toString("base64url") === sig;
        let accepted = true;
        try {
          parseToken(`${header}.e30.${sig}`);
        } catch (e) {
          accepted = false;
          expect((e as ProxyError).reason).toBe("token_malformed");
        }
        if (accepted !== roundTrip) disagreements.push(`${sig}: parseToken ${accepted}, round trip ${roundTrip}`);
      }
    }
    expect(disagreements).toEqual([]);
  });

  it("hands back the signed bytes and the decoded signature", () => {
    const sig = Buffer.from([1, 2, 3, 250]).toString("base64url");
    const parsed = parseToken(`${header}.e30.${sig}`);
    expect(new TextDecoder().decode(parsed.signingInput)).toBe(`${header}.e30`);
    expect([...parsed.signature]).toEqual([1, 2, 3, 250]);
  });
});

describe("LruMap", () => {
  it("evicts the least recently used entry, not everything", () => {
    const m = new LruMap<string, number>(3);
    m.set("a", 1);
    m.set("b", 2);
    m.set("c", 3);
    expect(m.get("a")).toBe(1); // a is now the most recent
    m.set("d", 4);
    expect([m.has("a"), m.has("b"), m.has("c"), m.has("d")]).toEqual([true, false, true, true]);
    expect(m.size).toBe(3);
  });
});

describe("key windows", () => {
  const t = Date.parse("2026-06-01T00:00:00Z");
  it.each([
    [{ not_before: null, expires_at: null }, true],
    [{ not_before: "2026-01-01T00:00:00Z", expires_at: "2027-01-01T00:00:00Z" }, true],
    [{ not_before: null, expires_at: "2026-01-01T00:00:00Z" }, false],
    [{ not_before: "2027-01-01T00:00:00Z", expires_at: null }, false],
    [{ not_before: null, expires_at: "infinity" }, false],
    [{ not_before: null, expires_at: "-infinity" }, false],
    [{ not_before: "infinity", expires_at: null }, false],
    [{ not_before: "-infinity", expires_at: null }, false],
    [{ not_before: "", expires_at: null }, false],
  ])("%j → %s", (row, expected) => {
    expect(inWindow(row, t)).toBe(expected);
  });
});

describe("writer db_role names the gateway accepts", () => {
  it.each(["federated_writer", "orders_service", "reporting_writer"])("%s is accepted", (r) => expect(isWriterDbRoleName(r)).toBe(true));
  it.each([
    "authenticated",
    "anon",
    "service_role",
    "authenticator",
    "postgres",
    "supabase_admin",
    "supabase_auth_admin",
    "pg_read_all_data",
    "pgsodium_keyholder",
    "Upper",
    "a-b",
    "",
  ])("%s is refused", (r) => expect(isWriterDbRoleName(r)).toBe(false));
});

describe("FEDJWT_ALLOWED_SCHEMAS", () => {
  const base: Record<string, string> = {
    SUPABASE_URL: "http://x.test",
    SUPABASE_SERVICE_ROLE_KEY: "k",
    SUPABASE_ANON_KEY: "a",
    FEDJWT_AUDIENCE: "aud",
    FEDJWT_LEGACY_JWT_SECRET: "s".repeat(32),
  };
  it("defaults to public (unset), takes a list, and refuses a bad one", () => {
    expect(proxyOptionsFromEnv((n) => base[n]).allowedSchemas).toBeUndefined();
    expect(proxyOptionsFromEnv((n) => ({ ...base, FEDJWT_ALLOWED_SCHEMAS: "public, api" })[n]).allowedSchemas).toEqual(["public", "api"]);
    expect(proxyOptionsFromEnv((n) => ({ ...base, FEDJWT_ALLOWED_SCHEMAS: "public;drop" })[n]).configProblems).toEqual([
      "FEDJWT_ALLOWED_SCHEMAS must be a comma-separated list of schema names",
    ]);
  });
});

describe("consoleLogger", () => {
  it("writes one JSON line with the time first, then the entry's fields in order", () => {
    const lines: string[] = [];
    const original = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      consoleLogger({ level: "info", event: "request", status: 200, issuer: 'a"b\n', kid: null });
    } finally {
      console.log = original;
    }
    expect(lines).toHaveLength(1);
    const parsed = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(["time", "level", "event", "status", "issuer", "kid"]);
    expect(parsed).toMatchObject({ level: "info", event: "request", status: 200, issuer: 'a"b\n', kid: null });
    expect(Number.isNaN(Date.parse(parsed.time as string))).toBe(false);
  });
});

describe("UpstreamDeadlines", () => {
  afterEach(() => vi.useRealTimers());

  it("aborts a request still waiting after the timeout (within one slot), never one released before it", async () => {
    vi.useFakeTimers();
    const d = new UpstreamDeadlines(1000);
    const slow = d.start();
    const answered = d.start();
    answered.release();
    await vi.advanceTimersByTimeAsync(999);
    expect(slow.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(101);
    expect(slow.signal.aborted).toBe(true);
    expect((slow.signal.reason as Error).name).toBe("TimeoutError");
    expect(answered.signal.aborted).toBe(false);
    expect(d.pending).toEqual({ requests: 0, timers: 0 });
  });

  it("requests starting together share one timer, cleared when the last is answered", () => {
    vi.useFakeTimers();
    const d = new UpstreamDeadlines(10_000);
    const all = Array.from({ length: 50 }, () => d.start());
    expect(d.pending).toEqual({ requests: 50, timers: 1 });
    for (const r of all) r.release();
    expect(d.pending).toEqual({ requests: 0, timers: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });
});

import { describe, expect, it } from "vitest";
import { ProxyError } from "../src/errors.ts";
import { isAllowedJwksUri } from "../src/jwks.ts";
import { resolveTarget } from "../src/paths.ts";
import { isJwtKey } from "../src/registry.ts";
import { bearerToken } from "../src/token.ts";
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

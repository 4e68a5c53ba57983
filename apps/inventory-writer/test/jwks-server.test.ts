import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPair, type Jwks, toJwks } from "@fedjwt/signer";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { serveJwks } from "../src/jwks-server.ts";

let jwks: Jwks;
let rotated: Jwks;
beforeAll(async () => {
  jwks = await toJwks([(await generateKeyPair()).publicJwk]);
  rotated = await toJwks([(await generateKeyPair()).publicJwk]);
});

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function serve(keys: () => Jwks = () => jwks) {
  const s = await serveJwks(keys, 0);
  open.push(s);
  return s;
}

describe("serveJwks", () => {
  it("serves the JWKS at /.well-known/jwks.json with a one-minute public cache", async () => {
    const s = await serve();
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json$/);
    expect(s.url).not.toMatch(/:0\//);
    const res = await fetch(s.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("cache-control")).toBe("public, max-age=60");
    expect(await res.json()).toEqual(jwks);
  });

  it("serves what the callback returns now, so a rotated key is published without a restart", async () => {
    let current = jwks;
    const s = await serve(() => current);
    expect(await (await fetch(s.url)).json()).toEqual(jwks);
    current = rotated;
    const after = (await (await fetch(s.url)).json()) as Jwks;
    expect(after).toEqual(rotated);
    expect(after.keys[0]?.kid).not.toBe(jwks.keys[0]?.kid);
  });

  it.each(["/", "/jwks.json", "/.well-known/jwks.json/", "/.well-known/openid-configuration", "/.well-known/JWKS.json"])(
    "answers 404 without keys for GET %s",
    async (path) => {
      const s = await serve();
      const res = await fetch(new URL(path, s.url));
      expect(res.status).toBe(404);
      expect(await res.text()).toBe("");
    },
  );

  it.each(["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])("answers 404 to %s on the JWKS path", async (method) => {
    const s = await serve();
    const res = await fetch(s.url, { method, ...(method === "GET" || method === "HEAD" ? {} : { body: "{}" }) });
    expect(res.status).toBe(404);
    expect(res.headers.get("cache-control")).toBeNull();
    expect(await res.text()).toBe("");
  });

  it("refuses a port already in use with a clear error naming the port", async () => {
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, "127.0.0.1", () => r()));
    const { port } = squatter.address() as AddressInfo;
    try {
      await expect(serveJwks(() => jwks, port)).rejects.toThrow(`port ${port} is in use`);
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });

  it("stops answering after close()", async () => {
    const s = await serveJwks(() => jwks, 0);
    await s.close();
    await expect(fetch(s.url)).rejects.toThrow();
  });
});

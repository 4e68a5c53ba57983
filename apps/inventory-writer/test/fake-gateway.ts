// Copied in both sample apps on purpose: each sample stands alone, so either can be lifted out with its tests.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect } from "vitest";

/** One request as the fake gateway received it. */
export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Reply {
  status: number;
  body: unknown;
}

/**
 * A local HTTP server on port 0 that records every request and answers like PostgREST: JSON, by default
 * `[]` with 200. `reply` may answer per request instead.
 */
export async function fakeGateway(reply: (req: Recorded) => Reply = () => ({ status: 200, body: [] })) {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rec: Recorded = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(rec);
      const { status, body } = reply(rec);
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A `fakeGateway` starter for the calling test file: every gateway it starts is closed after each test. */
export function useFakeGateways(): typeof fakeGateway {
  const servers: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (reply) => {
    const g = await fakeGateway(reply);
    servers.push(g);
    return g;
  };
}

/** The bearer token a recorded request carried (the test fails when it carried none). */
export function bearer(r: Recorded): string {
  const auth = r.headers.authorization ?? "";
  expect(auth).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  return auth.slice("Bearer ".length);
}

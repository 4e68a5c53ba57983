import { createServer } from "node:http";
import type { Jwks } from "@fedjwt/signer";

/** Default port for the sample JWKS endpoint (next to the local stack's ports). */
export const JWKS_PORT = 54340;
export const JWKS_PATH = "/.well-known/jwks.json";

/** Serves this service's public keys at /.well-known/jwks.json, cacheable for a minute. */
export async function serveJwks(jwks: () => Jwks, port = JWKS_PORT, host = "127.0.0.1"): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === JWKS_PATH) {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=60" });
      res.end(JSON.stringify(jwks()));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "EADDRINUSE" ? new Error(`port ${port} is in use: another JWKS server (or another program) holds it`) : e),
    );
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${actual}${JWKS_PATH}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

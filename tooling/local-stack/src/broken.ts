// Functions that failed to load: the local stack keeps serving the others and answers for these with their load
// error, as `supabase functions serve` reports a function that fails to boot when it is called.
import { createServer, type Server } from "node:http";

/** A function the stack could not load, and why (Deno's own words). */
export interface BrokenFunction {
  name: string;
  error: string;
}

/**
 * The readable part of why Deno did not serve a function: from its first `error:` line on (Deno prints the module
 * it could not load and where it was imported), else the end of what it printed; at most 1000 characters.
 */
export function loadError(e: unknown): string {
  const text = String((e as Error)?.message ?? e);
  const at = text.search(/(^|\s)error: /);
  const from = at >= 0 ? text.slice(at).trimStart() : text;
  const clean = from
    .split("\n")
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .join("\n");
  return clean.length > 1000 ? `${clean.slice(0, 1000)}…` : clean;
}

/** The body a broken function answers with (HTTP 500): the Edge Runtime's BOOT_ERROR code, with the load error. */
export function bootErrorBody(fn: BrokenFunction): { code: string; message: string; error: string } {
  return {
    code: "BOOT_ERROR",
    message: `function ${fn.name} failed to load; fix it and restart the stack (its log says the same)`,
    error: fn.error,
  };
}

/**
 * One loopback server that answers every request for the broken functions with 500 and bootErrorBody. The gateway
 * routes `/functions/v1/<name>/…` to `<url>/<name>/…`, as it does for a function that loaded.
 */
export async function serveBrokenFunctions(broken: readonly BrokenFunction[]): Promise<{ url: string; close(): Promise<void> }> {
  const byName = new Map(broken.map((b) => [b.name, b]));
  const server: Server = createServer((req, res) => {
    req.resume();
    const name = decodeURIComponent((req.url ?? "/").split("?")[0]!.split("/")[1] ?? "");
    const fn = byName.get(name) ?? { name, error: "unknown function" };
    res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
    res.end(JSON.stringify(bootErrorBody(fn)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

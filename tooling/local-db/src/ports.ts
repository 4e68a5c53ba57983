import { createServer } from "node:net";

// Ports handed out later are bound seconds after they are chosen (Postgres after initdb, Deno after its
// start). A port from the kernel's ephemeral range (listen(0); 32768–60999 on Linux, 49152+ on macOS and
// Windows) can be taken meanwhile by any outgoing connection or listen(0) on the machine. Ports below that
// range are never handed out by the kernel, so only another caller of this function could race for one.
const LOW = 20_000;
const HIGH = 32_767;
const handedOut = new Set<number>();

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * Resolves to a TCP port on 127.0.0.1 that is free right now, chosen at random below the kernel's ephemeral
 * range (and never twice by one process), so it stays free until its owner binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (handedOut.has(port)) continue;
    if (await tryListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port on 127.0.0.1 between ${LOW} and ${HIGH} after 200 tries`);
}

/** Throws a clear error when `port` on 127.0.0.1 is already taken. */
export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === "EADDRINUSE"
            ? `port ${port} (${what}) is already in use — stop whatever holds it (a running \`supabase start\`? run: ss -ltnp 'sport = :${port}') or choose another port`
            : `cannot bind port ${port} (${what}): ${e.message}`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

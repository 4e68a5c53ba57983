import { createServer } from "node:net";

// Ports handed out later are bound seconds after they are chosen (Postgres after initdb, Deno after its
// start). A port from the kernel's ephemeral range (listen(0); 32768–60999 on Linux, 49152+ on macOS and
// Windows) can be taken meanwhile by any outgoing connection or listen(0) on the machine. Ports below that
// range are never handed out by the kernel, so only another caller of this function could race for one.
const LOW = 20_000;
const HIGH = 32_767;
const handedOut = new Set<number>();

/** Binds `port` on 127.0.0.1 and closes it again: null when it was free, else why it could not be bound. */
function probe(port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", (e: NodeJS.ErrnoException) => resolve(e));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(null)));
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
    if ((await probe(port)) === null) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port on 127.0.0.1 between ${LOW} and ${HIGH} after 200 tries`);
}

/** Throws a clear error when `port` on 127.0.0.1 is already taken. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  const e = await probe(port);
  if (!e) return;
  throw new Error(
    e.code === "EADDRINUSE"
      ? `port ${port} (${what}) is already in use — stop whatever holds it (a running \`supabase start\`? run: ss -ltnp 'sport = :${port}') or choose another port`
      : `cannot bind port ${port} (${what}): ${e.message}`,
  );
}

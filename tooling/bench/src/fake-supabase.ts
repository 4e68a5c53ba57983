// An instant stand-in for a Supabase project's HTTP API, for runs of the rest function on its own: the key
// registry (jwt_registry rows per issuer, the issuer-name list cut at db-max-rows as hosted PostgREST cuts it,
// record_key_usage) and an instant data answer for everything else. It counts registry reads per issuer, so
// a run can say how often the function went back to the registry.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPair, type GeneratedKeyPair } from "@fedjwt/signer";
import type { IssuerPolicy, RegistryKey } from "@fedjwt/proxy";
import { registryRow } from "@fedjwt/proxy/testing";

/** A registered writer of a run: its issuer name and its own key pair. */
export interface BenchWriter {
  issuer: string;
  keys: GeneratedKeyPair;
}

/** The policy every bench writer gets: federated_writer, application role "orders_writer", tokens ≤ 300 s. */
export const BENCH_POLICY: IssuerPolicy = {
  db_role: "federated_writer",
  db_role_valid: true,
  allowed_roles: ["orders_writer"],
  max_token_lifetime_seconds: 300,
  require_jti: false,
};

/** `count` writers named `<prefix>-00000`…, each with its own ES256 key pair (generated `batch` at a time). */
export async function benchWriters(prefix: string, count: number, batch = 200): Promise<BenchWriter[]> {
  const out: BenchWriter[] = [];
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    const keys = await Promise.all(Array.from({ length: n }, () => generateKeyPair()));
    keys.forEach((k, j) => out.push({ issuer: `${prefix}-${String(i + j).padStart(5, "0")}`, keys: k }));
  }
  return out;
}

/** A running fake project. */
export interface FakeSupabase {
  url: string;
  /** Registry reads (jwt_registry?issuer=eq.…) per issuer since the last reset. */
  readsByIssuer: Map<string, number>;
  /** Reads of the issuer-name list since the last reset. */
  listReads(): number;
  /** Data requests answered since the last reset. */
  dataRequests(): number;
  /** Zeroes the counters. */
  reset(): void;
  close(): Promise<void>;
}

/** Serves the registry of `writers` and an instant data answer on a loopback port. */
export async function startFakeSupabase(writers: BenchWriter[], options: { maxRows?: number } = {}): Promise<FakeSupabase> {
  const maxRows = options.maxRows ?? 1000;
  const rows = new Map<string, string>(
    writers.map((w) => [w.issuer, JSON.stringify([registryRow({ issuer: w.issuer, keys: w.keys, policy: BENCH_POLICY }) as RegistryKey])]),
  );
  const names = writers.map((w) => ({ issuer: w.issuer }));
  const readsByIssuer = new Map<string, number>();
  let listReads = 0;
  let data = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let status = 200;
    let body: string | null = '[{"id":1,"quantity":1}]';
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (url.pathname === "/rest/v1/jwt_registry") {
      const issuer = (url.searchParams.get("issuer") ?? "").replace(/^eq\./, "");
      readsByIssuer.set(issuer, (readsByIssuer.get(issuer) ?? 0) + 1);
      body = rows.get(issuer) ?? "[]";
    } else if (url.pathname === "/rest/v1/jwt_issuers") {
      listReads++;
      const page = names.slice(0, maxRows);
      body = JSON.stringify(page);
      headers["content-range"] = page.length === 0 ? `*/${names.length}` : `0-${page.length - 1}/${names.length}`;
    } else if (url.pathname === "/rest/v1/rpc/record_key_usage") {
      status = 204;
      body = null;
    } else {
      data++;
    }
    req.resume();
    req.on("end", () => res.writeHead(status, headers).end(body ?? undefined));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    readsByIssuer,
    listReads: () => listReads,
    dataRequests: () => data,
    reset() {
      readsByIssuer.clear();
      listReads = 0;
      data = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The environment the rest function needs in front of a fake project at `url`. */
export function fakeProjectEnv(url: string): Record<string, string> {
  return {
    SUPABASE_URL: url,
    SUPABASE_SERVICE_ROLE_KEY: "sb_secret_bench",
    SUPABASE_ANON_KEY: "sb_publishable_bench",
    FEDJWT_AUDIENCE: url,
    FEDJWT_LEGACY_JWT_SECRET: "bench-secret-bench-secret-bench-secret-bench",
  };
}

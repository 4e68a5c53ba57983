import { createSigner } from "@fedjwt/signer";
import { PostgrestClient } from "@supabase/postgrest-js";

/** How the inventory service reaches the target project. */
export interface WriterConfig {
  apiUrl: string;
  /** The project's anon/publishable key (sent as apikey; grants nothing by itself). */
  anonKey: string;
  audience: string;
  issuer: string;
  /** PKCS#8 PEM of the key whose public half this service publishes in its JWKS. */
  privateKeyPem: string;
  functionName?: string;
}

/** One attempted write or read and what happened. */
export interface Outcome {
  action: string;
  expected: "allowed" | "denied";
  ok: boolean;
  status: number;
  code?: string;
  message: string;
  rows?: unknown[];
}

/** The application roles this service asks for (registered as its allowed_roles). */
export const INVENTORY_ROLES = ["inventory_writer", "orders_reader"];

/**
 * A postgrest-js client for the inventory service: unchanged postgrest-js pointed at the gateway, with a
 * fetch that mints a fresh 60-second token for every request (postgrest-js's hook for dynamic auth).
 */
export async function inventoryClient(config: WriterConfig): Promise<PostgrestClient> {
  const signer = await createSigner({ privateKey: config.privateKeyPem, issuer: config.issuer, audience: config.audience });
  return new PostgrestClient(`${config.apiUrl}/functions/v1/${config.functionName ?? "rest"}`, {
    headers: { apikey: config.anonKey },
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${await signer.sign({ roles: INVENTORY_ROLES })}`);
      return fetch(input, { ...init, headers });
    },
  });
}

/** Restocks an item (allowed), reads every order (allowed) and tries to place an order (denied by the policy). */
export async function runInventoryWriter(config: WriterConfig): Promise<Outcome[]> {
  const db = await inventoryClient(config);
  const out: Outcome[] = [];

  const restock = await db.from("stock_levels").update({ quantity: 75 }).eq("sku", "WIDGET-RED").select("sku, quantity, updated_by");
  out.push({
    action: "update stock_levels",
    expected: "allowed",
    ok: !restock.error && (restock.data?.length ?? 0) === 1,
    status: restock.status,
    ...(restock.error ? { code: restock.error.code } : {}),
    message: restock.error
      ? restock.error.message
      : restock.data.map((r) => `${r.sku} → ${r.quantity} (updated_by=${r.updated_by})`).join(", "),
    ...(restock.data ? { rows: restock.data } : {}),
  });

  const orders = await db.from("orders").select("id, sku, quantity, writer_issuer, writer_sub").order("created_at");
  out.push({
    action: "select orders",
    expected: "allowed",
    ok: !orders.error,
    status: orders.status,
    ...(orders.error ? { code: orders.error.code } : {}),
    message: orders.error ? orders.error.message : ordersSummary(orders.data),
    ...(orders.data ? { rows: orders.data } : {}),
  });

  const sneaky = await db.from("orders").insert({ sku: "WIDGET-RED", quantity: 1 });
  out.push({
    action: "insert into orders",
    expected: "denied",
    ok: !sneaky.error,
    status: sneaky.status,
    ...(sneaky.error ? { code: sneaky.error.code } : {}),
    message: sneaky.error ? sneaky.error.message : "inserted",
  });
  return out;
}

/**
 * What the orders read shows, in words a newcomer reads right: how many rows each writer wrote through the gateway,
 * and how many are sample rows from supabase/seed.sql (writer_sub "seed"; their writer_issuer is sample text, not a
 * registered writer).
 */
export function ordersSummary(rows: ReadonlyArray<{ writer_issuer: string; writer_sub?: string | null }>): string {
  const seeded = rows.filter((o) => o.writer_sub === "seed").length;
  const written = new Map<string, number>();
  for (const o of rows) if (o.writer_sub !== "seed") written.set(o.writer_issuer, (written.get(o.writer_issuer) ?? 0) + 1);
  const parts = [...written].map(([issuer, n]) => `${n} written by ${issuer}`);
  if (seeded > 0) parts.push(`${seeded} sample row${seeded === 1 ? "" : "s"} from supabase/seed.sql`);
  return `${rows.length} orders readable${parts.length ? `: ${parts.join(", ")}` : ""}`;
}

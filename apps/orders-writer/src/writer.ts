import { createSigner } from "@fedjwt/signer";
import { createClient } from "@supabase/supabase-js";

/** How the orders service reaches the target project. */
export interface WriterConfig {
  /** The project URL, e.g. http://127.0.0.1:54321 or https://<ref>.supabase.co. */
  apiUrl: string;
  /** The project's anon/publishable key (sent as apikey; grants nothing by itself). */
  anonKey: string;
  /** The audience the gateway expects (FEDJWT_AUDIENCE). */
  audience: string;
  issuer: string;
  /** PKCS#8 PEM of this service's private key for this target. */
  privateKeyPem: string;
  /** The gateway function's name (default "rest"). */
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
export const ORDERS_ROLES = ["orders_writer", "stock_reader"];

/**
 * A Supabase client for the orders service: unchanged supabase-js pointed at the gateway, with an
 * accessToken callback that hands out a 60-second token, reused for its first 30 s (signer.token()).
 */
export async function ordersClient(config: WriterConfig) {
  const signer = await createSigner({ privateKey: config.privateKeyPem, issuer: config.issuer, audience: config.audience });
  return createClient(`${config.apiUrl}/functions/v1/${config.functionName ?? "rest"}`, config.anonKey, {
    accessToken: () => signer.token({ roles: ORDERS_ROLES }),
  });
}

/** Places an order (allowed), reads stock (allowed) and tries to delete its order (denied by the policy). */
export async function runOrdersWriter(config: WriterConfig): Promise<Outcome[]> {
  const supabase = await ordersClient(config);
  const out: Outcome[] = [];

  const placed = await supabase
    .from("orders")
    .insert({ sku: "WIDGET-BLUE", quantity: 2 })
    .select("id, sku, quantity, status, writer_issuer, writer_sub")
    .single();
  out.push({
    action: "insert into orders",
    expected: "allowed",
    ok: !placed.error,
    status: placed.status,
    ...(placed.error ? { code: placed.error.code } : {}),
    message: placed.error
      ? placed.error.message
      : `order ${placed.data.id} for ${placed.data.quantity} × ${placed.data.sku}, writer_issuer=${placed.data.writer_issuer}`,
    ...(placed.data ? { rows: [placed.data] } : {}),
  });

  const stock = await supabase.from("stock_levels").select("sku, quantity").order("sku");
  out.push({
    action: "select stock_levels",
    expected: "allowed",
    ok: !stock.error,
    status: stock.status,
    ...(stock.error ? { code: stock.error.code } : {}),
    message: stock.error ? stock.error.message : stock.data.map((r) => `${r.sku}=${r.quantity}`).join(", "),
    ...(stock.data ? { rows: stock.data } : {}),
  });

  const id = placed.data?.id ?? "00000000-0000-0000-0000-000000000000";
  const removed = await supabase.from("orders").delete().eq("id", id);
  out.push({
    action: "delete from orders",
    expected: "denied",
    ok: !removed.error,
    status: removed.status,
    ...(removed.error ? { code: removed.error.code } : {}),
    message: removed.error ? removed.error.message : "deleted",
  });
  return out;
}

// The sample writers through the whole chain: writer → gateway → rest (Deno) → PostgREST → Postgres + RLS,
// each with supabase-js and with postgrest-js, checking what lands in the database.
import { readFileSync } from "node:fs";
import { ORDERS_ROLES, ordersClient, runOrdersWriter } from "@fedjwt/orders-writer";
import { INVENTORY_ROLES, inventoryClient, runInventoryWriter } from "@fedjwt/inventory-writer";
import { serveJwks } from "@fedjwt/inventory-writer/jwks-server";
import { uuidV5 } from "@fedjwt/proxy";
import { createSigner, toJwks } from "@fedjwt/signer";
import { PostgrestClient } from "@supabase/postgrest-js";
import { createClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyDir, keygen, register, serviceRead, useTarget, viaGateway } from "./target.ts";

const target = useTarget();
let orders: Awaited<ReturnType<typeof keygen>>;
let inventory: Awaited<ReturnType<typeof keygen>>;
let widgets: Awaited<ReturnType<typeof keygen>>;
let jwks: Awaited<ReturnType<typeof serveJwks>> | undefined;
const base = () => ({ apiUrl: target().apiUrl, anonKey: target().anonKey, audience: target().audience });

beforeAll(async () => {
  const t = target();
  const dir = keyDir();
  orders = await keygen(t, dir, "orders-service", "ES256");
  inventory = await keygen(t, dir, "inventory-service", "EdDSA");
  widgets = await keygen(t, dir, "widgets-service", "RS256");
  await register(t, [
    "--issuer",
    "orders-service",
    "--public-key",
    orders.publicKey,
    "--allowed-role",
    "orders_writer",
    "--allowed-role",
    "stock_reader",
  ]);
  await register(t, ["--issuer", "widgets-service", "--public-key", widgets.publicKey, "--allowed-role", "widgets_writer"]);
  // inventory-service by its public JWK on an external stack, by a JWKS served here on the local one.
  let inventorySource = ["--public-key", inventory.jwk];
  if (!t.external) {
    const set = await toJwks([JSON.parse(readFileSync(inventory.jwk, "utf8"))]);
    jwks = await serveJwks(() => set, 0);
    inventorySource = ["--jwks-uri", jwks.url, "--alg", "EdDSA"];
  }
  await register(t, [
    "--issuer",
    "inventory-service",
    ...inventorySource,
    "--allowed-role",
    "inventory_writer",
    "--allowed-role",
    "orders_reader",
    "--db-role",
    "inventory_service",
  ]);
});
afterAll(async () => {
  await jwks?.close();
});

describe("orders-service (registered by public key file)", () => {
  it("supabase-js: places an order and reads stock; deleting is denied by the policy (42501)", async () => {
    const outcomes = await runOrdersWriter({ ...base(), issuer: "orders-service", privateKeyPem: readFileSync(orders.privateKey, "utf8") });
    expect(outcomes.map((o) => [o.action, o.ok, o.status, o.code ?? null])).toEqual([
      ["insert into orders", true, 201, null],
      ["select stock_levels", true, 200, null],
      ["delete from orders", false, 403, "42501"],
    ]);
    const id = (outcomes[0]!.rows![0] as { id: string }).id;
    const [row] = await serviceRead<Array<Record<string, unknown>>>(
      target(),
      `orders?id=eq.${id}&select=sku,quantity,status,writer_issuer,writer_sub`,
    );
    expect(row).toEqual({
      sku: "WIDGET-BLUE",
      quantity: 2,
      status: "pending",
      writer_issuer: "orders-service",
      writer_sub: "orders-service",
    });
  });

  it("postgrest-js: the same writer and rules with the other client", async () => {
    const signer = await createSigner({
      privateKey: readFileSync(orders.privateKey, "utf8"),
      issuer: "orders-service",
      audience: target().audience,
    });
    const db = new PostgrestClient(`${target().apiUrl}/functions/v1/rest`, {
      headers: { apikey: target().anonKey },
      fetch: async (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set("authorization", `Bearer ${await signer.sign({ roles: ORDERS_ROLES })}`);
        return fetch(input, { ...init, headers });
      },
    });
    const placed = await db.from("orders").insert({ sku: "GADGET-1", quantity: 5 }).select("writer_issuer").single();
    expect([placed.status, placed.data]).toEqual([201, { writer_issuer: "orders-service" }]);
    const restock = await db.from("stock_levels").update({ quantity: 1 }).eq("sku", "GADGET-1").select();
    // orders-service may read stock, not change it: its role (federated_writer) holds no column grant on it.
    expect([restock.status, restock.error?.code]).toEqual([403, "42501"]);
    const removed = await db.from("orders").delete().eq("sku", "GADGET-1");
    expect({ status: removed.status, code: removed.error?.code }).toEqual({ status: 403, code: "42501" });
  });

  it("cannot write an order in another issuer's name (the owner column comes from the token)", async () => {
    const client = await ordersClient({ ...base(), issuer: "orders-service", privateKeyPem: readFileSync(orders.privateKey, "utf8") });
    const { status, error } = await client.from("orders").insert({ sku: "WIDGET-RED", quantity: 1, writer_issuer: "inventory-service" });
    expect({ status, code: error?.code }).toEqual({ status: 403, code: "42501" });
  });
});

describe("inventory-service (serves its own JWKS, registered by jwks_uri)", () => {
  it("postgrest-js: restocks and reads every order; placing an order is denied by the policy (42501)", async () => {
    const outcomes = await runInventoryWriter({
      ...base(),
      issuer: "inventory-service",
      privateKeyPem: readFileSync(inventory.privateKey, "utf8"),
    });
    expect(outcomes.map((o) => [o.action, o.ok, o.status, o.code ?? null])).toEqual([
      ["update stock_levels", true, 200, null],
      ["select orders", true, 200, null],
      ["insert into orders", false, 403, "42501"],
    ]);
    const [row] = await serviceRead<Array<Record<string, unknown>>>(target(), "stock_levels?sku=eq.WIDGET-RED&select=quantity,updated_by");
    expect(row).toEqual({ quantity: 75, updated_by: "inventory-service" });
  });

  it("supabase-js: the same writer and rules with the other client; only quantity may change", async () => {
    const signer = await createSigner({
      privateKey: readFileSync(inventory.privateKey, "utf8"),
      issuer: "inventory-service",
      audience: target().audience,
    });
    const supabase = createClient(`${target().apiUrl}/functions/v1/rest`, target().anonKey, {
      accessToken: () => signer.sign({ roles: INVENTORY_ROLES }),
    });
    const ok = await supabase.from("stock_levels").update({ quantity: 80 }).eq("sku", "WIDGET-BLUE").select("quantity").single();
    expect([ok.status, ok.data]).toEqual([200, { quantity: 80 }]);
    const column = await supabase.from("stock_levels").update({ location: "elsewhere" }).eq("sku", "WIDGET-BLUE");
    expect({ status: column.status, code: column.error?.code }).toEqual({ status: 403, code: "42501" });
    const order = await supabase.from("orders").insert({ sku: "WIDGET-BLUE", quantity: 1 });
    expect({ status: order.status, code: order.error?.code }).toEqual({ status: 403, code: "42501" });
  });

  it("a client from inventoryClient() reads every writer's orders (orders_reader)", async () => {
    const db = await inventoryClient({ ...base(), issuer: "inventory-service", privateKeyPem: readFileSync(inventory.privateKey, "utf8") });
    const { data } = await db.from("orders").select("writer_issuer");
    // At least these two (other test files' writers may have written too, when they share one external stack).
    expect([...new Set((data ?? []).map((r) => r.writer_issuer))]).toEqual(expect.arrayContaining(["orders-service", "another-service"]));
  });
});

describe("identity through the chain", () => {
  it("a non-UUID sub reaches Postgres as a deterministic UUIDv5: auth.uid() works in a column default", async () => {
    const signer = await createSigner({
      privateKey: readFileSync(widgets.privateKey, "utf8"),
      issuer: "widgets-service",
      audience: target().audience,
    });
    const r = await viaGateway(
      target(),
      "widgets?select=name,owner_issuer,created_by",
      await signer.sign({ roles: ["widgets_writer"], subject: "worker-7" }),
      {
        method: "POST",
        headers: { "content-type": "application/json", prefer: "return=representation" },
        body: JSON.stringify({ name: "from e2e" }),
      },
    );
    expect(r.status).toBe(201);
    expect(r.body).toEqual([{ name: "from e2e", owner_issuer: "widgets-service", created_by: await uuidV5("widgets-service\nworker-7") }]);
  });
});

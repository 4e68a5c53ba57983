import { type GeneratedKeyPair, generateKeyPair } from "@fedjwt/signer";
import { decodeJwt, importSPKI, jwtVerify } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { INVENTORY_ROLES, inventoryClient, runInventoryWriter, type WriterConfig } from "../src/writer.ts";
import { bearer, useFakeGateways, type Recorded, type Reply } from "./fake-gateway.ts";

const AUDIENCE = "https://target.example";
const ANON = "anon-key-for-tests";

let keys: GeneratedKeyPair;
let stranger: GeneratedKeyPair;
beforeAll(async () => {
  keys = await generateKeyPair();
  stranger = await generateKeyPair();
});

const gateway = useFakeGateways();

function config(apiUrl: string, extra: Partial<WriterConfig> = {}): WriterConfig {
  return { apiUrl, anonKey: ANON, audience: AUDIENCE, issuer: "inventory-service", privateKeyPem: keys.privateKeyPem, ...extra };
}

describe("inventoryClient", () => {
  it("sends postgrest-js requests under /functions/v1/rest with the anon key as apikey", async () => {
    const g = await gateway();
    const db = await inventoryClient(config(g.url));
    const res = await db.from("stock_levels").select("sku, quantity");
    expect(res.error).toBeNull();
    expect(g.requests).toHaveLength(1);
    const [r] = g.requests as [Recorded];
    const url = new URL(r.url, g.url);
    expect(url.pathname).toBe("/functions/v1/rest/stock_levels");
    expect(url.searchParams.get("select")).toBe("sku,quantity");
    expect(r.headers.apikey).toBe(ANON);
  });

  it("honours functionName, and then sends nothing to /functions/v1/rest", async () => {
    const g = await gateway();
    const db = await inventoryClient(config(g.url, { functionName: "gateway-v2" }));
    await db.from("orders").select("id");
    expect(g.requests.map((r) => new URL(r.url, g.url).pathname)).toEqual(["/functions/v1/gateway-v2/orders"]);
  });

  it("authorizes with a token from the writer's key: its issuer, the configured audience, INVENTORY_ROLES, at most 60 s", async () => {
    const g = await gateway();
    const db = await inventoryClient(config(g.url));
    await db.from("orders").select("id");
    const { payload, protectedHeader } = await jwtVerify(bearer(g.requests[0] as Recorded), await importSPKI(keys.publicKeyPem, keys.alg), {
      issuer: "inventory-service",
      audience: AUDIENCE,
    });
    expect(protectedHeader.kid).toBe(keys.kid);
    expect(payload.roles).toEqual(INVENTORY_ROLES);
    const lifetime = (payload.exp as number) - (payload.iat as number);
    expect(lifetime).toBeGreaterThan(0);
    expect(lifetime).toBeLessThanOrEqual(60);
  });

  it("does not send the anon key as the bearer, nor a token another key verifies", async () => {
    const g = await gateway();
    const db = await inventoryClient(config(g.url));
    await db.from("orders").select("id");
    const token = bearer(g.requests[0] as Recorded);
    expect(token).not.toBe(ANON);
    await expect(jwtVerify(token, await importSPKI(stranger.publicKeyPem, stranger.alg))).rejects.toThrow(/signature/i);
  });

  it("mints a fresh token for every request", async () => {
    const g = await gateway();
    const db = await inventoryClient(config(g.url));
    await db.from("orders").select("id");
    await db.from("orders").select("id");
    const [a, b] = g.requests.map(bearer) as [string, string];
    expect(b).not.toBe(a);
    expect(decodeJwt(b).jti).not.toBe(decodeJwt(a).jti);
  });

  it("keeps postgrest-js's own headers and body beside the token it adds", async () => {
    const g = await gateway(() => ({ status: 201, body: [] }));
    const db = await inventoryClient(config(g.url));
    await db.from("orders").insert({ sku: "WIDGET-RED", quantity: 1 }).select("id");
    const r = g.requests[0] as Recorded;
    expect(r.method).toBe("POST");
    expect(r.headers.apikey).toBe(ANON);
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    expect(r.headers.prefer).toContain("return=representation");
    expect(JSON.parse(r.body)).toEqual({ sku: "WIDGET-RED", quantity: 1 });
    bearer(r);
  });

  it("refuses an invalid issuer before sending anything", async () => {
    const g = await gateway();
    await expect(inventoryClient(config(g.url, { issuer: "Inventory Service" }))).rejects.toThrow(/issuer/);
    expect(g.requests).toHaveLength(0);
  });

  it("refuses an empty audience before sending anything", async () => {
    const g = await gateway();
    await expect(inventoryClient(config(g.url, { audience: " " }))).rejects.toThrow(/audience/);
    expect(g.requests).toHaveLength(0);
  });
});

describe("runInventoryWriter", () => {
  const DENIED = { status: 403, body: { code: "42501", message: "permission denied for table orders" } };
  const ORDERS = [
    { id: "a", sku: "WIDGET-BLUE", quantity: 2, writer_issuer: "orders-service" },
    { id: "b", sku: "WIDGET-RED", quantity: 1, writer_issuer: "orders-service" },
    { id: "c", sku: "WIDGET-RED", quantity: 1, writer_issuer: "another-service", writer_sub: "seed" },
  ];
  function answering(updated: unknown[]) {
    return (r: Recorded): Reply => {
      if (r.method === "PATCH") return { status: 200, body: updated };
      if (r.method === "POST") return DENIED;
      return { status: 200, body: ORDERS };
    };
  }

  it("reports a one-row restock, the orders read and the refused insert as the policy intends", async () => {
    const g = await gateway(answering([{ sku: "WIDGET-RED", quantity: 75, updated_by: "inventory-service" }]));
    const out = await runInventoryWriter(config(g.url));
    expect(out.map((o) => [o.action, o.expected, o.ok, o.status, o.code])).toEqual([
      ["update stock_levels", "allowed", true, 200, undefined],
      ["select orders", "allowed", true, 200, undefined],
      ["insert into orders", "denied", false, 403, "42501"],
    ]);
    // A seed row's writer_issuer is sample text, not a writer: it is counted as a sample row.
    expect(out[1]?.message).toBe("3 orders readable: 2 written by orders-service, 1 sample row from supabase/seed.sql");
    const patch = g.requests[0] as Recorded;
    expect(new URL(patch.url, g.url).searchParams.get("sku")).toBe("eq.WIDGET-RED");
    expect(JSON.parse(patch.body)).toEqual({ quantity: 75 });
  });

  it("does not count a restock that changed no row as done", async () => {
    const g = await gateway(answering([]));
    const out = await runInventoryWriter(config(g.url));
    expect(out[0]).toMatchObject({ action: "update stock_levels", expected: "allowed", ok: false, status: 200 });
    expect(out[0]).not.toHaveProperty("code");
  });

  it("does not count a restock that changed two rows as done", async () => {
    const row = { sku: "WIDGET-RED", quantity: 75, updated_by: "inventory-service" };
    const g = await gateway(answering([row, row]));
    const out = await runInventoryWriter(config(g.url));
    expect(out[0]).toMatchObject({ action: "update stock_levels", ok: false });
  });

  it("reports a refused restock as not ok, with its code and message", async () => {
    const g = await gateway((r) => (r.method === "PATCH" ? DENIED : { status: 200, body: [] }));
    const out = await runInventoryWriter(config(g.url));
    expect(out[0]).toMatchObject({ ok: false, status: 403, code: "42501", message: "permission denied for table orders" });
    expect(out[0]).not.toHaveProperty("rows");
  });

  it("reports an order insert the gateway lets through as ok, so the caller can see the policy failed", async () => {
    const g = await gateway((r) => (r.method === "POST" ? { status: 201, body: [] } : { status: 200, body: [] }));
    const out = await runInventoryWriter(config(g.url));
    expect(out[2]).toMatchObject({ action: "insert into orders", expected: "denied", ok: true, message: "inserted" });
  });
});

import { type GeneratedKeyPair, generateKeyPair } from "@fedjwt/signer";
import { decodeJwt, importSPKI, jwtVerify } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ORDERS_ROLES, ordersClient, runOrdersWriter, type WriterConfig } from "../src/writer.ts";
import { bearer, useFakeGateways, type Recorded } from "./fake-gateway.ts";

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
  return { apiUrl, anonKey: ANON, audience: AUDIENCE, issuer: "orders-service", privateKeyPem: keys.privateKeyPem, ...extra };
}

describe("ordersClient", () => {
  it("sends supabase-js's /rest/v1 requests under /functions/v1/rest with the anon key as apikey", async () => {
    const g = await gateway();
    const supabase = await ordersClient(config(g.url));
    const res = await supabase.from("orders").select("id, sku");
    expect(res.error).toBeNull();
    expect(res.data).toEqual([]);
    expect(g.requests).toHaveLength(1);
    const [r] = g.requests as [Recorded];
    expect(r.method).toBe("GET");
    const url = new URL(r.url, g.url);
    expect(url.pathname).toBe("/functions/v1/rest/rest/v1/orders");
    expect(url.searchParams.get("select")).toBe("id,sku");
    expect(r.headers.apikey).toBe(ANON);
  });

  it("honours functionName, and then sends nothing to /functions/v1/rest", async () => {
    const g = await gateway();
    const supabase = await ordersClient(config(g.url, { functionName: "gateway-v2" }));
    await supabase.from("stock_levels").select("sku");
    expect(g.requests.map((r) => new URL(r.url, g.url).pathname)).toEqual(["/functions/v1/gateway-v2/rest/v1/stock_levels"]);
  });

  it("authorizes with a token from the writer's key: its issuer, the configured audience, ORDERS_ROLES, at most 60 s", async () => {
    const g = await gateway();
    const supabase = await ordersClient(config(g.url));
    await supabase.from("orders").select("id");
    const token = bearer(g.requests[0] as Recorded);
    const { payload, protectedHeader } = await jwtVerify(token, await importSPKI(keys.publicKeyPem, keys.alg), {
      issuer: "orders-service",
      audience: AUDIENCE,
    });
    expect(protectedHeader.kid).toBe(keys.kid);
    expect(payload.roles).toEqual(ORDERS_ROLES);
    expect(payload.iat).toBeTypeOf("number");
    expect(payload.exp).toBeTypeOf("number");
    const lifetime = (payload.exp as number) - (payload.iat as number);
    expect(lifetime).toBeGreaterThan(0);
    expect(lifetime).toBeLessThanOrEqual(60);
  });

  it("does not send the anon key as the bearer, nor a token another key verifies", async () => {
    const g = await gateway();
    const supabase = await ordersClient(config(g.url));
    await supabase.from("orders").select("id");
    const token = bearer(g.requests[0] as Recorded);
    expect(token).not.toBe(ANON);
    await expect(jwtVerify(token, await importSPKI(stranger.publicKeyPem, stranger.alg))).rejects.toThrow(/signature/i);
  });

  it("does not put the apiUrl in the audience when a different audience is configured", async () => {
    const g = await gateway();
    const supabase = await ordersClient(config(g.url));
    await supabase.from("orders").select("id");
    const payload = decodeJwt(bearer(g.requests[0] as Recorded));
    expect(payload.aud).toBe(AUDIENCE);
    expect(payload.aud).not.toBe(g.url);
  });

  it("reuses the same token for a second request", async () => {
    const g = await gateway();
    const supabase = await ordersClient(config(g.url));
    await supabase.from("orders").select("id");
    await supabase.from("stock_levels").select("sku");
    expect(g.requests).toHaveLength(2);
    const [first, second] = g.requests.map(bearer);
    expect(second).toBe(first);
  });

  it("refuses an invalid issuer before sending anything", async () => {
    const g = await gateway();
    await expect(ordersClient(config(g.url, { issuer: "Orders Service" }))).rejects.toThrow(/issuer/);
    expect(g.requests).toHaveLength(0);
  });

  it("refuses a private key that is not a key", async () => {
    const g = await gateway();
    await expect(
      ordersClient(config(g.url, { privateKeyPem: "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n" })),
    ).rejects.toThrow();
    expect(g.requests).toHaveLength(0);
  });
});

describe("runOrdersWriter", () => {
  const ORDER = {
    id: "11111111-2222-3333-4444-555555555555",
    sku: "WIDGET-BLUE",
    quantity: 2,
    status: "placed",
    writer_issuer: "orders-service",
    writer_sub: "orders-service",
  };

  it("reports each outcome against the policy and deletes the order it placed", async () => {
    const g = await gateway((r) => {
      // .single() asks for one object (Accept: application/vnd.pgrst.object+json), as PostgREST then answers.
      if (r.method === "POST") return { status: 201, body: r.headers.accept?.includes("vnd.pgrst.object") ? ORDER : [ORDER] };
      if (r.method === "DELETE") return { status: 403, body: { code: "42501", message: "permission denied for table orders" } };
      return { status: 200, body: [{ sku: "WIDGET-BLUE", quantity: 10 }] };
    });
    const out = await runOrdersWriter(config(g.url));
    expect(out.map((o) => [o.action, o.expected, o.ok, o.status, o.code])).toEqual([
      ["insert into orders", "allowed", true, 201, undefined],
      ["select stock_levels", "allowed", true, 200, undefined],
      ["delete from orders", "denied", false, 403, "42501"],
    ]);
    expect(JSON.parse((g.requests[0] as Recorded).body)).toEqual({ sku: "WIDGET-BLUE", quantity: 2 });
    const del = g.requests[2] as Recorded;
    expect(del.method).toBe("DELETE");
    expect(new URL(del.url, g.url).searchParams.get("id")).toBe(`eq.${ORDER.id}`);
  });

  it("reports a refused insert as not ok, with its code, and then deletes no real order", async () => {
    const g = await gateway((r) =>
      r.method === "GET" ? { status: 200, body: [] } : { status: 401, body: { code: "PGRST301", message: "JWT could not be verified" } },
    );
    const out = await runOrdersWriter(config(g.url));
    expect(out[0]).toMatchObject({
      action: "insert into orders",
      ok: false,
      status: 401,
      code: "PGRST301",
      message: "JWT could not be verified",
    });
    expect(out[0]).not.toHaveProperty("rows");
    const del = g.requests[2] as Recorded;
    expect(new URL(del.url, g.url).searchParams.get("id")).toBe("eq.00000000-0000-0000-0000-000000000000");
  });

  it("reports a delete the gateway lets through as ok, so the caller can see the policy failed", async () => {
    const g = await gateway((r) => (r.method === "POST" ? { status: 201, body: ORDER } : { status: 200, body: [] }));
    const out = await runOrdersWriter(config(g.url));
    expect(out[2]).toMatchObject({ action: "delete from orders", expected: "denied", ok: true, message: "deleted" });
  });
});

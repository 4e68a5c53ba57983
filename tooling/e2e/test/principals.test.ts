// Writers are principals of their own, through the whole chain (writer → gateway → Deno `rest` function →
// PostgREST stand-in → Postgres): whatever `sub` and claims a writer signs, it never acts as a Supabase Auth
// user, another writer or the platform. `user_notes` is owned by Auth users with Supabase's canonical
// policies (supabase/migrations/…000600_example_user_notes.sql, two notes seeded).
import { readFileSync } from "node:fs";
import { createSigner, type Signer } from "@fedjwt/signer";
import { uuidV5 } from "@fedjwt/proxy";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { keyDir, keygen, register, serviceRead, useTarget, viaGateway } from "./target.ts";

const target = useTarget();

/** The seeded notes' owners, ids as GoTrue issues them. */
const USER_1 = "8d0fd2b3-9ca1-4a58-8b0c-000000000001";
const USER_2 = "8d0fd2b3-9ca1-4a58-8b0c-000000000002";

/** The sample writers, registered as `pnpm dev` registers them: app roles, and db_role when not the default. */
const WRITERS = {
  "orders-service": ["orders_writer", "stock_reader"],
  "inventory-service": ["inventory_writer", "orders_reader"],
  "widgets-service": ["widgets_writer"],
} as const;
const DB_ROLE: Record<string, string> = { "inventory-service": "inventory_service" };
const signers: Record<string, Signer> = {};

/** A token shaped like the ones Supabase Auth (GoTrue) issues: HS256 with the project's JWT secret. */
function authUserToken(sub: string, extra: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: `${target().apiUrl}/auth/v1`,
    sub,
    aud: "authenticated",
    role: "authenticated",
    aal: "aal1",
    amr: [{ method: "password", timestamp: now }],
    session_id: crypto.randomUUID(),
    is_anonymous: false,
    email: "user@example.test",
    app_metadata: { provider: "email" },
    user_metadata: {},
    ...extra,
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(target().jwtSecret));
}

/** A Data API request with an Auth user's token, as supabase-js sends it (apikey + Bearer). */
async function asUser(path: string, token: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const headers = new Headers(init.headers);
  headers.set("apikey", target().anonKey);
  headers.set("authorization", `Bearer ${token}`);
  const res = await fetch(`${target().apiUrl}/rest/v1/${path}`, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const notesCount = async () => (await serviceRead<unknown[]>(target(), "user_notes?select=id")).length;
let seededNotes = 0;

beforeAll(async () => {
  const dir = keyDir();
  for (const [issuer, roles] of Object.entries(WRITERS)) {
    const keys = await keygen(target(), dir, issuer);
    const dbRole = DB_ROLE[issuer];
    await register(target(), [
      "--issuer",
      issuer,
      "--public-key",
      keys.publicKey,
      ...roles.flatMap((r) => ["--allowed-role", r]),
      ...(dbRole ? ["--db-role", dbRole] : []),
    ]);
    signers[issuer] = await createSigner({ privateKey: readFileSync(keys.privateKey, "utf8"), issuer, audience: target().audience });
  }
  seededNotes = await notesCount();
}, 60_000);

describe("every sample writer reads 0 and writes 0 rows of a table owned by Auth users", () => {
  const SUBJECTS = async () => [USER_1, await uuidV5(`widgets-service\nworker-1`), "worker-1"];
  const FORGED = { user_role: "admin", is_super_admin: true, tenant_id: "t-1" };

  it.each(Object.keys(WRITERS))(
    "%s, signing an Auth user's id, another writer's subject or its own, with forged claims",
    async (issuer) => {
      const roles = [...WRITERS[issuer as keyof typeof WRITERS]];
      for (const sub of await SUBJECTS()) {
        const token = () => signers[issuer]!.sign({ subject: sub, roles, claims: FORGED });
        const attempts = [
          await viaGateway(target(), "user_notes?select=*", await token()),
          await viaGateway(target(), `user_notes?select=*&user_id=eq.${USER_1}`, await token()),
          await viaGateway(target(), "user_notes", await token(), {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ user_id: USER_1, body: "forged" }),
          }),
          await viaGateway(target(), "user_notes", await token(), {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ body: "forged" }),
          }),
          await viaGateway(target(), `user_notes?user_id=eq.${USER_1}`, await token(), {
            method: "PATCH",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ body: "changed" }),
          }),
          await viaGateway(target(), `user_notes?user_id=eq.${USER_2}`, await token(), { method: "DELETE" }),
        ];
        for (const a of attempts) expect([a.status, (a.body as { code?: string }).code], `${issuer} sub=${sub}`).toEqual([403, "42501"]);
      }
      expect(await notesCount()).toBe(seededNotes);
      const untouched = await serviceRead<{ body: string }[]>(target(), `user_notes?select=body&user_id=eq.${USER_1}`);
      expect(untouched.map((n) => n.body)).not.toContain("changed");
    },
  );

  it("the database sees the writer as itself: its writer role, its derived subject, its claims nested", async () => {
    const r = await viaGateway(
      target(),
      "rpc/federation_whoami",
      await signers["orders-service"]!.sign({ subject: USER_1, roles: ["orders_writer"], claims: { user_role: "admin" } }),
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      },
    );
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      db_role: "federated_writer",
      is_writer_request: true,
      issuer: "orders-service",
      writer_sub: USER_1,
      writer_uid: await uuidV5(`orders-service\n${USER_1}`),
      app_roles: ["orders_writer"],
      writer_claims: { user_role: "admin" },
    });
  });
});

describe("a Supabase Auth user's token", () => {
  it("still works on the table it owns (Supabase's canonical policies), straight to the Data API", async () => {
    const token = await authUserToken(USER_1);
    const read = await asUser("user_notes?select=user_id,body", token);
    expect(read.status).toBe(200);
    expect((read.body as { user_id: string }[]).map((n) => n.user_id)).toEqual([USER_1]);
    const write = await asUser("user_notes", token, {
      method: "POST",
      headers: { "content-type": "application/json", prefer: "return=representation" },
      body: JSON.stringify({ body: "mine" }),
    });
    expect(write.status).toBe(201);
    expect(write.body).toEqual([expect.objectContaining({ user_id: USER_1, body: "mine" })]);
    const other = await asUser("user_notes", token, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: USER_2, body: "not mine" }),
    });
    expect([other.status, (other.body as { code: string }).code]).toEqual([403, "42501"]);
  });

  it("fails every federation.* helper, even carrying writer-looking claims", async () => {
    for (const extra of [
      {},
      { iss: "orders-service", app_roles: ["orders_writer"], fedjwt_gateway: 1, writer_sub: "x", writer_claims: { user_role: "admin" } },
    ]) {
      const r = await asUser("rpc/federation_whoami", await authUserToken(USER_1, extra), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(r).toEqual({
        status: 200,
        body: {
          db_role: "authenticated",
          is_writer_request: false,
          issuer: null,
          writer_sub: null,
          writer_uid: null,
          app_roles: null,
          writer_claims: null,
        },
      });
    }
  });

  it("cannot reach the writers' tables, forged app_roles or not", async () => {
    const token = await authUserToken(USER_1, { app_roles: ["orders_writer"] });
    for (const table of ["orders", "stock_levels", "widgets"]) {
      const r = await asUser(`${table}?select=*`, token);
      expect([r.status, (r.body as { code: string }).code], table).toEqual([403, "42501"]);
    }
  });

  it("is refused by the gateway: it is not a writer token", async () => {
    const r = await viaGateway(target(), "user_notes?select=*", await authUserToken(USER_1));
    expect([r.status, (r.body as { code: string }).code]).toEqual([401, "alg_not_allowed"]);
  });
});

describe("through the whole chain, a writer", () => {
  it("cannot switch to graphql_public (Content-Profile) to reach pg_graphql → 406 schema_not_allowed", async () => {
    const r = await viaGateway(target(), "rpc/graphql", await signers["orders-service"]!.sign({ roles: ["orders_writer"] }), {
      method: "POST",
      headers: { "content-type": "application/json", "content-profile": "graphql_public" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect([r.status, (r.body as { code: string }).code]).toEqual([406, "schema_not_allowed"]);
  });

  it("runs as its per-writer role when registered with one (inventory-service → inventory_service)", async () => {
    const r = await viaGateway(
      target(),
      "rpc/federation_whoami",
      await signers["inventory-service"]!.sign({ roles: ["inventory_writer"] }),
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      },
    );
    expect(r.body).toMatchObject({ db_role: "inventory_service", issuer: "inventory-service", is_writer_request: true });
    const stock = await viaGateway(
      target(),
      "stock_levels?sku=eq.GADGET-1",
      await signers["inventory-service"]!.sign({ roles: ["inventory_writer"] }),
      {
        method: "PATCH",
        headers: { "content-type": "application/json", prefer: "return=representation" },
        body: JSON.stringify({ quantity: 3 }),
      },
    );
    expect([stock.status, stock.body]).toEqual([
      200,
      [expect.objectContaining({ sku: "GADGET-1", quantity: 3, updated_by: "inventory-service" })],
    ]);
  });

  it("cannot change stock unless its role holds the column grant (orders-service → 403 42501)", async () => {
    const r = await viaGateway(
      target(),
      "stock_levels?sku=eq.GADGET-1",
      await signers["orders-service"]!.sign({ roles: ["stock_reader"] }),
      {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ quantity: 999 }),
      },
    );
    expect([r.status, (r.body as { code: string }).code]).toEqual([403, "42501"]);
  });

  it("still does its allowed writes as a writer role", async () => {
    const r = await viaGateway(target(), "orders", await signers["orders-service"]!.sign({ subject: USER_1, roles: ["orders_writer"] }), {
      method: "POST",
      headers: { "content-type": "application/json", prefer: "return=representation" },
      body: JSON.stringify({ sku: "WIDGET-BLUE", quantity: 1 }),
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual([expect.objectContaining({ writer_issuer: "orders-service", writer_sub: USER_1 })]);
  });
});

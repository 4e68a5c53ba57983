// The PostgREST stand-in, one documented PostgREST behaviour per test (docs.postgrest.org: API,
// Authentication, Errors). Real database, real HTTP, and postgrest-js for the requests it makes.
import { PostgrestClient } from "@supabase/postgrest-js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_ANON_KEY, LOCAL_JWT_SECRET, LOCAL_SERVICE_ROLE_KEY } from "@fedjwt/local-db";
import { startPostgrestStandIn, type RunningStandIn } from "../src/server.ts";
import { authenticatorUrl, caller, startStandIn } from "./http.ts";
import { useSupabaseDb } from "@fedjwt/local-db/testing";

const { db } = useSupabaseDb();
let rest: RunningStandIn;
let rest2: RunningStandIn | undefined;
const secret = new TextEncoder().encode(LOCAL_JWT_SECRET);
const token = (claims: Record<string, unknown>, exp = Math.floor(Date.now() / 1000) + 60) =>
  new SignJWT({ ...claims, exp }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
const writerClaims = {
  role: "authenticated",
  iss: "orders-service",
  sub: "7c1f3c2e-0f59-4d41-9d0b-3ad0a1cbf1a4",
  app_roles: ["orders_writer", "stock_reader"],
};

beforeAll(async () => {
  const c = new pg.Client({ connectionString: db().url });
  await c.connect();
  await c.query(`
    create table public.items (
      id int primary key, name text unique not null, qty int not null default 0 check (qty >= 0), note text,
      parent int references public.items (id), meta jsonb
    );
    grant select, insert, update, delete on public.items to authenticated, service_role;
    create function public.echo_request() returns json language sql stable as $$
      select json_build_object('role', current_user, 'claims', current_setting('request.jwt.claims', true)::json,
        'method', current_setting('request.method', true), 'path', current_setting('request.path', true),
        'headers', current_setting('request.headers', true)::json)
    $$;
    create function public.add(a int, b int default 1) returns int language sql immutable as $$ select a + b $$;
    create function public.items_over(n int) returns setof public.items language sql stable as $$ select * from public.items where qty > n order by id $$;
    create function public.bump(item int) returns void language sql as $$ update public.items set qty = qty + 1 where id = item $$;
    grant execute on function public.echo_request(), public.add(int, int), public.items_over(int), public.bump(int) to anon, authenticated;
    insert into public.items (id, name, qty, note) values (1, 'alpha', 5, null), (2, 'beta', 0, 'b note'), (3, 'Gamma', 12, 'x'), (4, 'delta', 7, null);
    update public.items set meta = '{"a": {"b": 1}}' where id = 1;
    create table public.rows12 (id int primary key, tag text);
    insert into public.rows12 (id) select generate_series(1, 12);
    grant select, insert, update, delete on public.rows12 to service_role;
    create function public.nums(n int default 12) returns setof int language sql stable as $$ select generate_series(1, n) $$;
    create function public.set_status() returns int language sql stable as $$ select set_config('response.status', '202', true)::int $$;
    create function public.delete_row(row_id int) returns setof public.rows12 language sql as $$ delete from public.rows12 where id = row_id returning * $$;
    grant execute on function public.nums(int), public.set_status(), public.delete_row(int) to service_role;
  `);
  await c.end();
  rest = await startStandIn(db().url);
});
afterAll(async () => {
  await rest?.close();
});

const call = caller(() => rest);
const svc = { bearer: LOCAL_SERVICE_ROLE_KEY };

describe("authentication (docs: Authentication)", () => {
  it("no token → the anon role (which has no grant on orders: 401 42501)", async () => {
    const r = await call("/orders");
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ code: "42501", message: "permission denied for table orders" });
  });

  it("the role claim becomes the database role; claims are in request.jwt.claims", async () => {
    const r = await call("/rpc/echo_request", { bearer: await token(writerClaims), headers: { "x-probe": "1" } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      role: "authenticated",
      method: "GET",
      path: "/rpc/echo_request",
      claims: { iss: "orders-service", app_roles: ["orders_writer", "stock_reader"] },
      headers: { "x-probe": "1" },
    });
    expect(r.body.headers).not.toHaveProperty("authorization");
  });

  it("request.headers has lower-cased names and the values as sent (X-Request-Id reaches SQL as x-request-id)", async () => {
    const r = await call("/rpc/echo_request", { bearer: await token(writerClaims), headers: { "X-Request-Id": "Req-AB.1:2_3" } });
    expect(r.status).toBe(200);
    expect(r.body.headers["x-request-id"]).toBe("Req-AB.1:2_3");
    expect(Object.keys(r.body.headers).filter((k: string) => k !== k.toLowerCase())).toEqual([]);
  });

  it("a token without a role claim runs as anon, and counts as unauthenticated (42501 → 401)", async () => {
    const r = await call("/rpc/echo_request", { bearer: await token({ sub: "x" }) });
    expect(r.body.role).toBe("anon");
    expect((await call("/orders", { bearer: await token({ sub: "x" }) })).status).toBe(401);
    expect((await call("/orders", { bearer: LOCAL_ANON_KEY })).status).toBe(403);
  });

  it("42501 as a token holder → 403", async () => {
    const r = await call("/jwt_issuers", { bearer: await token(writerClaims) });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("42501");
  });

  it("a role the authenticator may not become (postgres) is refused by Postgres itself", async () => {
    const r = await call("/items", { bearer: await token({ role: "postgres" }) });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("42501");
    expect(r.body.message).toMatch(/permission denied to set role/);
  });

  it("service_role bypasses RLS (reads the registry)", async () => {
    const r = await call("/jwt_issuers?select=issuer", svc);
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body)).toBe(true);
  });

  it("a bad signature → 401 PGRST301 with WWW-Authenticate", async () => {
    const forged = await new SignJWT({ role: "service_role" })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("x".repeat(40)));
    const r = await call("/items", { bearer: forged });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe("PGRST301");
    expect(r.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
  });

  it("an expired token → 401 PGRST303", async () => {
    const r = await call("/items", { bearer: await token({ role: "service_role" }, Math.floor(Date.now() / 1000) - 10) });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ code: "PGRST303", message: "JWT expired" });
  });

  it("asymmetric signing keys (a JWKS) are trusted beside the secret only when configured", async () => {
    const trusted = await generateKeyPair("ES256", { extractable: true });
    const other = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(trusted.publicKey)), kid: "signing-key-1", alg: "ES256" };
    const withKeys = await startPostgrestStandIn({
      dbUrl: authenticatorUrl(db().url),
      jwtSecret: LOCAL_JWT_SECRET,
      jwks: { keys: [jwk] },
    });
    const sign = (key: CryptoKey, kid: string) =>
      new SignJWT({ role: "authenticated", sub: writerClaims.sub, exp: Math.floor(Date.now() / 1000) + 60 })
        .setProtectedHeader({ alg: "ES256", kid })
        .sign(key);
    const good = await sign(trusted.privateKey, "signing-key-1");
    try {
      const as = async (base: string, bearer: string) =>
        (await fetch(`${base}/rpc/echo_request`, { headers: { authorization: `Bearer ${bearer}` } })).status;
      expect(await as(withKeys.url, good)).toBe(200);
      expect(await as(withKeys.url, await sign(other.privateKey, "signing-key-1"))).toBe(401);
      expect(await as(withKeys.url, LOCAL_SERVICE_ROLE_KEY)).toBe(200); // the legacy secret keeps working
      expect(await as(rest.url, good)).toBe(401); // no JWKS configured: HS256 only
    } finally {
      await withKeys.close();
    }
  });

  it("the well-known local keys verify with the local secret and carry their roles", async () => {
    expect((await call("/rpc/echo_request", { bearer: LOCAL_ANON_KEY })).body.role).toBe("anon");
    expect((await call("/rpc/echo_request", svc)).body.role).toBe("service_role");
  });
});

describe("reading (docs: Tables and Views)", () => {
  it.each([
    ["id=eq.1", [1]],
    ["id=neq.1", [2, 3, 4]],
    ["qty=gt.5", [3, 4]],
    ["qty=gte.5", [1, 3, 4]],
    ["qty=lt.5", [2]],
    ["qty=lte.5", [1, 2]],
    ["id=in.(1,3)", [1, 3]],
    ["note=is.null", [1, 4]],
    ["note=not.is.null", [2, 3]],
    ["name=like.*ta", [2, 4]],
    ["name=ilike.g*", [3]],
    ["id=not.eq.1", [2, 3, 4]],
    ["or=(id.eq.1,qty.gt.10)", [1, 3]],
    ["or=(id.eq.2,and(qty.gt.5,name.eq.delta))", [2, 4]],
    ["qty=gt.0&note=is.null", [1, 4]],
  ])("filter %s", async (q, ids) => {
    const r = await call(`/items?select=id&order=id&${q}`, svc);
    expect(r.status).toBe(200);
    expect(r.body.map((x: { id: number }) => x.id)).toEqual(ids);
  });

  it("order, limit and offset; Content-Range on every read", async () => {
    const r = await call("/items?select=id,qty&order=qty.desc&limit=2&offset=1", svc);
    expect(r.body).toEqual([
      { id: 4, qty: 7 },
      { id: 1, qty: 5 },
    ]);
    expect(r.headers.get("content-range")).toBe("1-2/*");
  });

  it("Prefer: count=exact gives the total in Content-Range; Range header pages", async () => {
    const r = await call("/items?select=id&order=id", { ...svc, headers: { prefer: "count=exact", range: "0-1" } });
    expect(r.body).toEqual([{ id: 1 }, { id: 2 }]);
    expect(r.headers.get("content-range")).toBe("0-1/4");
  });

  it("application/vnd.pgrst.object+json returns one object, or 406 PGRST116", async () => {
    const one = await call("/items?select=name&id=eq.1", { ...svc, headers: { accept: "application/vnd.pgrst.object+json" } });
    expect(one.body).toEqual({ name: "alpha" });
    const many = await call("/items?select=name", { ...svc, headers: { accept: "application/vnd.pgrst.object+json" } });
    expect(many.status).toBe(406);
    expect(many.body).toMatchObject({ code: "PGRST116", details: "The result contains 4 rows" });
  });

  it("an unknown table → 404 PGRST205; an unknown column → 400 42703; a bad operator → 400 PGRST100", async () => {
    expect((await call("/nope", svc)).body.code).toBe("PGRST205");
    expect((await call("/nope", svc)).status).toBe(404);
    const col = await call("/items?select=nope", svc);
    expect([col.status, col.body.code]).toEqual([400, "42703"]);
    const op = await call("/items?id=approx.1", svc);
    expect([op.status, op.body.code]).toEqual([400, "PGRST100"]);
  });

  it("a schema outside the exposed ones → 406 PGRST106", async () => {
    const r = await call("/jti_replay", { ...svc, headers: { "accept-profile": "federation" } });
    expect([r.status, r.body.code]).toEqual([406, "PGRST106"]);
  });

  it("embedding follows foreign keys: to-one by the FK column, to-many by the table, !inner drops empty ones", async () => {
    const one = await call("/items?select=id,parent(name)&id=in.(1,2)&order=id", svc);
    expect(one.status).toBe(200);
    expect(one.body).toEqual([
      { id: 1, parent: null },
      { id: 2, parent: null },
    ]);
    const c = new pg.Client({ connectionString: db().url });
    await c.connect();
    try {
      await c.query("begin");
      await c.query("update public.items set parent = 1 where id in (2, 3)");
      await c.query("commit");
      const many = await call("/items?select=name,children:items!parent(name)&children.order=name&id=eq.1", svc);
      expect(many.body).toEqual([{ name: "alpha", children: [{ name: "Gamma" }, { name: "beta" }] }]);
      const inner = await call("/items?select=id,items!parent!inner(id)&order=id", svc);
      expect(inner.body).toEqual([{ id: 1, items: [{ id: 2 }, { id: 3 }] }]);
      const child = await call("/items?select=id,parent(name)&id=eq.3", svc);
      expect(child.body).toEqual([{ id: 3, parent: { name: "alpha" } }]);
    } finally {
      await c.query("update public.items set parent = null");
      await c.end();
    }
  });

  it("an embedding no foreign key supports → 400 PGRST200", async () => {
    const r = await call("/items?select=id,orders(*)", svc);
    expect([r.status, r.body.code]).toEqual([400, "PGRST200"]);
  });

  it("zero silent answers: what the stand-in does not implement is refused with a 4xx naming it", async () => {
    const pref = await call("/items?select=id", { ...svc, headers: { prefer: "timezone=UTC" } });
    expect([pref.status, pref.body.code]).toEqual([400, "PGRST122"]);
    expect(pref.body.details).toMatch(/timezone=UTC/);
    const geo = await call("/items", { ...svc, headers: { accept: "application/geo+json" } });
    expect([geo.status, geo.body.code]).toEqual([406, "PGRST107"]);
    const options = await call("/items", { ...svc, method: "OPTIONS" });
    expect(options.status).toBe(400);
    expect(options.body.message).toMatch(/OPTIONS requests is not supported by the local PostgREST stand-in/);
    const scalar = await call("/rpc/add?a=1&select=x", svc);
    expect(scalar.status).toBe(400);
    expect(scalar.body.message).toMatch(/on a function that returns a scalar is not supported/);
  });

  it("identifiers are checked and values bound: injection attempts change nothing", async () => {
    const evil = await call(`/items?select=id&name=eq.${encodeURIComponent("x'; drop table public.items; --")}`, svc);
    expect(evil.body).toEqual([]);
    const col = await call(`/items?select=${encodeURIComponent('id"; drop table public.items; --')}`, svc);
    expect(col.status).toBe(400);
    expect((await call("/items?select=id", svc)).body).toHaveLength(4);
  });
});

describe("writing (docs: Tables and Views, Prefer header)", () => {
  const json = { "content-type": "application/json" };

  it("insert with return=representation → 201 and the rows; return=minimal → 201 and no body", async () => {
    const rep = await call("/items?select=id,name,qty", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "return=representation,tx=rollback" },
      body: JSON.stringify({ id: 10, name: "ten" }),
    });
    expect(rep.status).toBe(201);
    expect(rep.body).toEqual([{ id: 10, name: "ten", qty: 0 }]); // column default applied
    const min = await call("/items", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "return=minimal,tx=rollback" },
      body: JSON.stringify({ id: 10, name: "ten" }),
    });
    expect(min.status).toBe(201);
    expect(min.body).toBeNull();
  });

  it("Prefer: tx=rollback leaves nothing behind", async () => {
    await call("/items", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "tx=rollback" },
      body: JSON.stringify({ id: 11, name: "gone" }),
    });
    expect((await call("/items?id=eq.11", svc)).body).toEqual([]);
  });

  it("bulk insert; keys must match (PGRST102) unless ?columns= names them", async () => {
    const bad = await call("/items", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "tx=rollback" },
      body: JSON.stringify([{ id: 12, name: "a" }, { id: 13 }]),
    });
    expect([bad.status, bad.body.code]).toEqual([400, "PGRST102"]);
    const ok = await call(`/items?columns=${encodeURIComponent('"id","name"')}&select=id,name`, {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "return=representation,tx=rollback" },
      body: JSON.stringify([
        { id: 12, name: "a" },
        { id: 13, name: "b", ignored: 1 },
      ]),
    });
    expect(ok.body).toEqual([
      { id: 12, name: "a" },
      { id: 13, name: "b" },
    ]);
    const unknown = await call("/items", { ...svc, method: "POST", headers: json, body: JSON.stringify({ id: 14, nope: 1 }) });
    expect([unknown.status, unknown.body.code]).toEqual([400, "PGRST204"]);
  });

  it("upsert: resolution=merge-duplicates with on_conflict updates; ignore-duplicates keeps", async () => {
    const merged = await call("/items?on_conflict=name&select=id,name,qty", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "resolution=merge-duplicates,return=representation,tx=rollback" },
      body: JSON.stringify({ id: 1, name: "alpha", qty: 99 }),
    });
    expect(merged.body).toEqual([{ id: 1, name: "alpha", qty: 99 }]);
    const kept = await call("/items?select=id", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "resolution=ignore-duplicates,return=representation,tx=rollback" },
      body: JSON.stringify({ id: 1, name: "alpha", qty: 99 }),
    });
    expect(kept.body).toEqual([]);
  });

  it.each([
    [{ id: 1, name: "dup" }, 409, "23505"],
    [{ id: 20, name: "child", parent: 999 }, 409, "23503"],
    [{ id: 21, name: "neg", qty: -1 }, 400, "23514"],
    [{ id: 22 }, 400, "23502"],
    [{ id: "not-a-number", name: "x" }, 400, "22P02"],
  ])("constraint errors map to PostgREST's statuses: %j → %i %s", async (row, status, code) => {
    const r = await call("/items", { ...svc, method: "POST", headers: json, body: JSON.stringify(row) });
    expect([r.status, r.body.code]).toEqual([status, code]);
    expect(Object.keys(r.body).sort()).toEqual(["code", "details", "hint", "message"]);
  });

  it("update with filters: 200 with representation, 204 when minimal", async () => {
    const rep = await call("/items?id=eq.2&select=id,qty", {
      ...svc,
      method: "PATCH",
      headers: { ...json, prefer: "return=representation,tx=rollback" },
      body: JSON.stringify({ qty: 3 }),
    });
    expect([rep.status, rep.body]).toEqual([200, [{ id: 2, qty: 3 }]]);
    const min = await call("/items?id=eq.2", {
      ...svc,
      method: "PATCH",
      headers: { ...json, prefer: "tx=rollback" },
      body: JSON.stringify({ qty: 3 }),
    });
    expect(min.status).toBe(204);
  });

  it("delete with filters returns the deleted rows on request", async () => {
    const r = await call("/items?id=eq.4&select=name", {
      ...svc,
      method: "DELETE",
      headers: { prefer: "return=representation,tx=rollback" },
    });
    expect(r.body).toEqual([{ name: "delta" }]);
  });

  it("one transaction per request: a failing row undoes the rows before it", async () => {
    const r = await call("/items", {
      ...svc,
      method: "POST",
      headers: json,
      body: JSON.stringify([
        { id: 30, name: "ok" },
        { id: 31, name: "ok" },
      ]),
    });
    expect([r.status, r.body.code]).toEqual([409, "23505"]);
    expect((await call("/items?id=in.(30,31)", svc)).body).toEqual([]);
  });
});

describe("what the stand-in used to get wrong (issue: conformance with postgrest-js)", () => {
  const json = { "content-type": "application/json" };

  it("an upsert that updates an existing row answers 200; one that inserts, 201", async () => {
    const r = await call("/items?on_conflict=id&select=id,name", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "resolution=merge-duplicates,return=representation,tx=rollback" },
      body: JSON.stringify({ id: 1, name: "alpha" }),
    });
    expect([r.status, r.body]).toEqual([200, [{ id: 1, name: "alpha" }]]);
    const fresh = await call("/items?select=id", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "resolution=merge-duplicates,return=representation,tx=rollback" },
      body: JSON.stringify({ id: 50, name: "fifty" }),
    });
    expect(fresh.status).toBe(201);
  });

  it("rpc honours select=, filters, order and count; a void function answers 204", async () => {
    const r = await call("/rpc/items_over?n=0&id=gt.2&select=id&order=id.desc", { ...svc, headers: { prefer: "count=exact" } });
    expect([r.status, r.body, r.headers.get("content-range")]).toEqual([200, [{ id: 4 }, { id: 3 }], "0-1/2"]);
    const v = await call("/rpc/bump", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "tx=rollback" },
      body: JSON.stringify({ item: 1 }),
    });
    expect([v.status, v.body]).toEqual([204, null]);
  });

  it("count=planned gives the planner's estimate, a number (filters bound in the EXPLAIN too)", async () => {
    const r = await call("/items?select=id&qty=gte.0", { ...svc, headers: { prefer: "count=planned" } });
    expect(r.headers.get("content-range")).toMatch(/^0-3\/\d+$/);
    const estimate = Number(/\/(\d+)$/.exec(r.headers.get("content-range")!)![1]);
    expect(r.status).toBe(estimate > 4 ? 206 : 200); // a partial range when the estimate exceeds the rows sent
  });

  it("max-affected with handling=strict: PGRST124 and nothing changes", async () => {
    const r = await call("/items?qty=gte.0", {
      ...svc,
      method: "PATCH",
      headers: { ...json, prefer: "handling=strict,max-affected=2" },
      body: JSON.stringify({ note: "touched" }),
    });
    expect([r.status, r.body.code, r.body.details]).toEqual([400, "PGRST124", "The query affects 4 rows"]);
    expect((await call("/items?note=eq.touched", svc)).body).toEqual([]);
  });

  it("missing=default gives column defaults to keys a row lacks", async () => {
    const r = await call("/items?columns=id,name,qty&select=id,qty", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "missing=default,return=representation,tx=rollback" },
      body: JSON.stringify([
        { id: 60, name: "sixty" },
        { id: 61, name: "sixty-one", qty: 3 },
      ]),
    });
    expect([r.status, r.body]).toEqual([
      201,
      [
        { id: 60, qty: 0 },
        { id: 61, qty: 3 },
      ],
    ]);
  });

  it("text/csv and stripped nulls", async () => {
    const csv = await fetch(`${rest.url}/items?select=id,name,note&id=lte.2&order=id`, {
      headers: { authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}`, accept: "text/csv" },
    });
    expect(await csv.text()).toBe('id,name,note\n1,alpha,\n2,beta,"b note"');
    const stripped = await call("/items?select=id,note&id=eq.1", {
      ...svc,
      headers: { accept: "application/vnd.pgrst.array+json;nulls=stripped" },
    });
    expect(stripped.body).toEqual([{ id: 1 }]);
  });

  it("refuses instead of ignoring: unknown embedding paths, aggregates and plans (off by default), misplaced parameters", async () => {
    const path = await call("/items?select=id&parent.id=eq.1", svc);
    expect([path.status, path.body.code]).toEqual([400, "PGRST108"]);
    const agg = await call("/items?select=qty.sum()", svc);
    expect([agg.status, agg.body.code]).toEqual([400, "PGRST123"]);
    const plan = await call("/items", { ...svc, headers: { accept: "application/vnd.pgrst.plan+json" } });
    expect([plan.status, plan.body.code]).toEqual([406, "PGRST107"]);
    const cols = await call("/items?id=eq.1&columns=qty", { ...svc, method: "DELETE" });
    expect(cols.status).toBe(400);
    expect(cols.body.message).toMatch(/columns= on DELETE/);
    const lenient = await call("/items?id=eq.1", {
      ...svc,
      method: "PATCH",
      headers: { ...json, prefer: "max-affected=1" },
      body: JSON.stringify({ qty: 1 }),
    });
    expect(lenient.status).toBe(400);
  });
});

describe("in-database PostgREST settings (role settings of the authenticator)", () => {
  const json = { "content-type": "application/json" };

  it("db-tx-end=commit: Prefer: tx is refused rather than ignored; aggregates once enabled are served", async () => {
    const c = new pg.Client({ connectionString: db().url });
    await c.connect();
    try {
      await c.query("alter role authenticator set pgrst.db_tx_end to 'commit'");
      await c.query("alter role authenticator set pgrst.db_aggregates_enabled to 'true'");
      rest2 = await startPostgrestStandIn({
        dbUrl: authenticatorUrl(db().url),
        jwtSecret: LOCAL_JWT_SECRET,
      });
      const tx = await fetch(`${rest2.url}/items`, {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}`, prefer: "tx=rollback" },
        body: JSON.stringify({ id: 70, name: "seventy" }),
      });
      expect([tx.status, ((await tx.json()) as { code: string }).code]).toEqual([400, "PGRST122"]);
      const agg = await fetch(`${rest2.url}/items?select=total:qty.sum()`, {
        headers: { authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}` },
      });
      expect(await agg.json()).toEqual([{ total: 24 }]);
    } finally {
      await rest2?.close();
      await c.query("alter role authenticator reset pgrst.db_tx_end");
      await c.query("alter role authenticator reset pgrst.db_aggregates_enabled");
      await c.end();
    }
  });
});

describe("identifiers checked, values bound, in the newer grammar too", () => {
  it("JSON paths select and filter by key; the output is named after the last key", async () => {
    const r = await call("/items?select=id,meta->a->>b,inner:meta->a&meta->a->>b=eq.1", svc);
    expect(r.body).toEqual([{ id: 1, b: "1", inner: { b: 1 } }]);
  });

  it("casts, JSON path keys, hints, orders and operators cannot carry SQL", async () => {
    const before = (await call("/items?select=id", svc)).body.length;
    const cast = await call(`/items?select=${encodeURIComponent("id::text);drop table public.items;--")}`, svc);
    expect(cast.status).toBe(400);
    const path = await call(`/items?select=id,meta->>${encodeURIComponent("x'; drop table public.items; --")}&id=eq.1`, svc);
    expect([path.status, path.body]).toEqual([200, [{ id: 1, "x'; drop table public.items; --": null }]]);
    const hint = await call(`/items?select=id,items!${encodeURIComponent('parent"; drop table public.items; --')}(id)`, svc);
    expect([hint.status, hint.body.code]).toEqual([400, "PGRST100"]); // not a name the grammar accepts
    const order = await call(`/items?select=id&order=${encodeURIComponent("id;drop table public.items")}`, svc);
    expect(order.status).toBe(400);
    const fts = await call(`/items?select=id&name=fts(${encodeURIComponent("english'); drop table public.items; --")}).x`, svc);
    expect(fts.status).toBe(400); // not a text search configuration: the value was bound and cast, never spliced
    expect((await call("/items?select=id", svc)).body.length).toBe(before);
  });
});

describe("functions (docs: Functions as RPC)", () => {
  it("a scalar function returns a JSON scalar; defaults apply; GET passes arguments in the query", async () => {
    expect(
      (
        await call("/rpc/add", {
          ...svc,
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ a: 2, b: 3 }),
        })
      ).body,
    ).toBe(5);
    expect((await call("/rpc/add?a=2", svc)).body).toBe(3);
  });

  it("a scalar function that returns NULL answers 200 with the body null, as PostgREST does (not an empty body)", async () => {
    const res = await fetch(`${rest.url}/rpc/add`, {
      method: "POST",
      headers: { authorization: `Bearer ${svc.bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ a: null, b: 1 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.text()).toBe("null");
  });

  it("a set-returning function returns rows", async () => {
    expect((await call("/rpc/items_over?n=6", svc)).body.map((r: { id: number }) => r.id)).toEqual([3, 4]);
  });

  it('"Perhaps you meant" hints as PostgREST\'s fuzzy search gives them', async () => {
    expect((await call("/itemz", svc)).body.hint).toBe("Perhaps you meant the table 'public.items'");
    expect((await call("/rpc/items_ovr?n=1", svc)).body.hint).toBe("Perhaps you meant to call the function public.items_over");
    const params = await call("/rpc/add?a=1&c=2", svc);
    expect([params.status, params.body.code, params.body.hint]).toEqual([
      404,
      "PGRST202",
      "Perhaps you meant to call the function public.add(a, b)",
    ]);
    expect((await call("/zzzzzz", svc)).body.hint).toBeNull();
  });

  it("an unknown function → 404 PGRST202", async () => {
    const r = await call("/rpc/nope", { ...svc, method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect([r.status, r.body.code]).toEqual([404, "PGRST202"]);
  });

  it("GET runs read-only: a function that writes fails with 25006 → 405", async () => {
    const r = await call("/rpc/bump?item=1", svc);
    expect([r.status, r.body.code]).toEqual([405, "25006"]);
  });

  it("consume_jwt_id answers true then false (service_role only)", async () => {
    const args = JSON.stringify({ p_issuer: "s", p_jti: crypto.randomUUID(), p_expires_at: new Date(Date.now() + 60_000).toISOString() });
    const post = () => call("/rpc/consume_jwt_id", { ...svc, method: "POST", headers: { "content-type": "application/json" }, body: args });
    expect((await post()).body).toBe(true);
    expect((await post()).body).toBe(false);
    const asWriter = await call("/rpc/consume_jwt_id", {
      bearer: await token(writerClaims),
      method: "POST",
      headers: { "content-type": "application/json" },
      body: args,
    });
    expect([asWriter.status, asWriter.body.code]).toEqual([403, "42501"]);
  });
});

describe("the requests postgrest-js makes", () => {
  const client = () => new PostgrestClient(rest.url, { headers: { authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}` } });

  it("select with filters, order, range and count", async () => {
    const { data, error, count } = await client()
      .from("items")
      .select("id, name", { count: "exact" })
      .gt("qty", 0)
      .order("id", { ascending: false })
      .range(0, 1);
    expect(error).toBeNull();
    expect(data).toEqual([
      { id: 4, name: "delta" },
      { id: 3, name: "Gamma" },
    ]);
    expect(count).toBe(3);
  });

  it("insert().select().single(), update().eq(), upsert(), delete().in()", async () => {
    const c = client();
    const ins = await c.from("items").insert({ id: 40, name: "forty" }).select("id, qty").single();
    expect(ins.data).toEqual({ id: 40, qty: 0 });
    const upd = await c.from("items").update({ qty: 4 }).eq("id", 40).select("qty");
    expect(upd.data).toEqual([{ qty: 4 }]);
    const ups = await c
      .from("items")
      .upsert(
        [
          { id: 40, name: "forty", qty: 8 },
          { id: 41, name: "forty-one", qty: 1 },
        ],
        { onConflict: "id" },
      )
      .select("id, qty");
    expect(ups.data).toEqual([
      { id: 40, qty: 8 },
      { id: 41, qty: 1 },
    ]);
    const del = await c.from("items").delete().in("id", [40, 41]).select("id");
    expect(del.data?.map((r) => r.id).sort()).toEqual([40, 41]);
  });

  it("rpc() and error objects", async () => {
    const c = client();
    expect((await c.rpc("add", { a: 40, b: 2 })).data).toBe(42);
    const { error, status } = await c.from("items").insert({ id: 1, name: "alpha" });
    expect(status).toBe(409);
    expect(error).toMatchObject({ code: "23505" });
  });
});

describe("PostgREST's checks, made before the commit (audit of silent answers)", () => {
  const json = { "content-type": "application/json" };
  const object = "application/vnd.pgrst.object+json";
  const ids = (r: { body: Array<{ id: number }> }) => r.body.map((x) => x.id);

  it("a single object on DELETE: 3 rows → 406 PGRST116 and the 3 rows are still there", async () => {
    const r = await call("/rows12?id=in.(1,2,3)", { ...svc, method: "DELETE", headers: { accept: object } });
    expect([r.status, r.body.code, r.body.details]).toEqual([406, "PGRST116", "The result contains 3 rows"]);
    expect(ids(await call("/rows12?select=id&id=in.(1,2,3)&order=id", svc))).toEqual([1, 2, 3]);
  });

  it("a single object on PATCH: 0 rows → 406; 2 rows → 406 and unchanged (with or without representation)", async () => {
    const none = await call("/rows12?id=eq.99", { ...svc, method: "PATCH", headers: { ...json, accept: object }, body: '{"tag":"x"}' });
    expect([none.status, none.body.code, none.body.details]).toEqual([406, "PGRST116", "The result contains 0 rows"]);
    const empty = await call("/rows12?id=eq.1", { ...svc, method: "PATCH", headers: { ...json, accept: object }, body: "{}" });
    expect([empty.status, empty.body.code]).toEqual([406, "PGRST116"]);
    for (const prefer of ["return=minimal", "return=representation"]) {
      const two = await call("/rows12?id=in.(4,5)", {
        ...svc,
        method: "PATCH",
        headers: { ...json, accept: object, prefer },
        body: '{"tag":"x"}',
      });
      expect([two.status, two.body.code, two.body.details]).toEqual([406, "PGRST116", "The result contains 2 rows"]);
    }
    expect((await call("/rows12?tag=eq.x", svc)).body).toEqual([]);
  });

  it("a single object on POST and rpc: 2 rows → 406 and nothing kept; exactly 1 → the change and the object", async () => {
    const two = await call("/rows12", { ...svc, method: "POST", headers: { ...json, accept: object }, body: '[{"id":50},{"id":51}]' });
    expect([two.status, two.body.code]).toEqual([406, "PGRST116"]);
    expect((await call("/rows12?id=gte.50", svc)).body).toEqual([]);
    const none = await call("/rpc/delete_row", { ...svc, method: "POST", headers: { ...json, accept: object }, body: '{"row_id":99}' });
    expect([none.status, none.body.code]).toEqual([406, "PGRST116"]);
    const rpcMany = await call("/rpc/nums", { ...svc, headers: { accept: object } });
    expect([rpcMany.status, rpcMany.body.code, rpcMany.body.details]).toEqual([406, "PGRST116", "The result contains 12 rows"]);
    const scalar = await call("/rpc/add?a=1", { ...svc, headers: { accept: object } });
    expect([scalar.status, scalar.body]).toEqual([200, 2]);

    const patch = await call("/rows12?id=eq.6&select=id,tag", {
      ...svc,
      method: "PATCH",
      headers: { ...json, accept: object, prefer: "return=representation" },
      body: '{"tag":"six"}',
    });
    expect([patch.status, patch.body]).toEqual([200, { id: 6, tag: "six" }]);
    const minimal = await call("/rows12?id=eq.6", { ...svc, method: "PATCH", headers: { ...json, accept: object }, body: '{"tag":null}' });
    expect(minimal.status).toBe(204);
    const del = await call("/rpc/delete_row", { ...svc, method: "POST", headers: { ...json, accept: object }, body: '{"row_id":12}' });
    expect([del.status, del.body]).toEqual([200, { id: 12, tag: null }]);
    const ins = await call("/rows12", { ...svc, method: "POST", headers: { ...json, accept: object }, body: '{"id":12}' });
    expect(ins.status).toBe(201);
    const gone = await call("/rows12?id=eq.7", { ...svc, method: "DELETE", headers: { accept: object, prefer: "return=representation" } });
    expect([gone.status, gone.body]).toEqual([200, { id: 7, tag: null }]);
    await call("/rows12", { ...svc, method: "POST", headers: json, body: '{"id":7}' });
    expect(ids(await call("/rows12?select=id&order=id", svc))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it("the Range header is intersected with offset/limit (PostgREST's rangeIntersection)", async () => {
    const a = await call("/rows12?select=id&order=id&offset=5", { ...svc, headers: { range: "0-9" } });
    expect([a.status, ids(a), a.headers.get("content-range")]).toEqual([200, [6, 7, 8, 9, 10], "5-9/*"]);
    const b = await call("/rows12?select=id&order=id&offset=2", { ...svc, headers: { range: "5-6" } });
    expect([ids(b), b.headers.get("content-range")]).toEqual([[6, 7], "5-6/*"]);
    const c = await call("/rows12?select=id&order=id&offset=2&limit=3", { ...svc, headers: { range: "3-", prefer: "count=exact" } });
    expect([c.status, ids(c), c.headers.get("content-range")]).toEqual([206, [4, 5], "3-4/12"]);
    // limit=0 wins over the header; an otherwise empty intersection is 416 PGRST103, as PostgREST answers.
    expect((await call("/rows12?select=id&limit=0", { ...svc, headers: { range: "3-5" } })).body).toEqual([]);
    const disjoint = await call("/rows12?select=id&offset=8", { ...svc, headers: { range: "0-4" } });
    expect([disjoint.status, disjoint.body.code]).toEqual([416, "PGRST103"]);
    const reversed = await call("/rows12?select=id", { ...svc, headers: { range: "5-3" } });
    expect([reversed.status, reversed.body.details]).toEqual([
      416,
      "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
    ]);
    expect((await call("/rows12?select=id&offset=5&limit=0", svc)).status).toBe(416);
  });

  it("the Range header is read on GET only: other methods and malformed headers are refused, not ignored", async () => {
    for (const [method, path] of [
      ["HEAD", "/rows12"],
      ["POST", "/rpc/nums"],
      ["DELETE", "/rows12?id=eq.99"],
    ] as const) {
      const r = await fetch(`${rest.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}`, range: "0-1", ...(method === "POST" ? json : {}) },
        ...(method === "POST" ? { body: "{}" } : {}),
      });
      expect([method, r.status]).toEqual([method, 400]);
    }
    const items = await call("/rows12", { ...svc, headers: { range: "items=0-1" } });
    expect([items.status, items.body.code]).toEqual([400, "PGRST127"]);
  });

  it("a set-returning scalar function honours limit, offset, Range, count and max-rows", async () => {
    const r = await call("/rpc/nums?offset=2", { ...svc, headers: { range: "0-4", prefer: "count=exact" } });
    expect([r.status, r.body, r.headers.get("content-range")]).toEqual([206, [3, 4, 5], "2-4/12"]);
    expect((await call("/rpc/nums?limit=2", svc)).body).toEqual([1, 2]);
    const beyond = await call("/rpc/nums?offset=20", { ...svc, headers: { prefer: "count=exact" } });
    expect([beyond.status, beyond.body.code]).toEqual([416, "PGRST103"]);
    const big = await call("/rpc/nums?n=1500", svc);
    expect([big.body.length, big.headers.get("content-range")]).toEqual([1000, "0-999/*"]);
    const one = await call("/rpc/add?a=1", { ...svc, headers: { range: "1-" } });
    expect([one.status, one.body.code]).toEqual([400, "PGRST127"]);
  });

  it("a function with a side effect runs once, even when counted", async () => {
    const r = await call("/rpc/delete_row", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "count=exact, tx=rollback" },
      body: '{"row_id":3}',
    });
    expect([r.status, r.body, r.headers.get("content-range")]).toEqual([200, [{ id: 3, tag: null }], "0-0/1"]);
  });

  it("a repeated preference takes its first value, as PostgREST's Preferences module; Preference-Applied as PostgREST", async () => {
    const r = await call("/rows12?id=eq.8", {
      ...svc,
      method: "PATCH",
      headers: { ...json, prefer: "return=minimal, return=representation, count=exact, count=planned, tx=rollback" },
      body: '{"tag":"eight"}',
    });
    expect([r.status, r.body, r.headers.get("content-range")]).toEqual([204, null, "0-0/1"]);
    expect(r.headers.get("preference-applied")).toBe("return=minimal, count=exact, tx=rollback");
    const read = await call("/rows12?select=id&id=eq.8", { ...svc, headers: { prefer: "return=representation" } });
    expect(read.headers.get("preference-applied")).toBeNull();
    const del = await call("/rows12?id=eq.99", { ...svc, method: "DELETE", headers: { prefer: "count=exact" } });
    expect(del.headers.get("content-range")).toBe("*/0");
  });

  it("Accept as PostgREST orders it: by q, then by specificity; q=0 only orders last (wai-extra's parseHttpAccept)", async () => {
    const zero = await call("/rows12?select=id&id=eq.1", { ...svc, headers: { accept: "application/json;q=0" } });
    expect([zero.status, zero.body]).toEqual([200, [{ id: 1 }]]);
    const specific = await call("/rows12?select=id&id=eq.1", { ...svc, headers: { accept: `*/*, ${object}` } });
    expect(specific.body).toEqual({ id: 1 });
    const csv = await fetch(`${rest.url}/rows12?select=id&id=eq.1`, {
      headers: { authorization: `Bearer ${LOCAL_SERVICE_ROLE_KEY}`, accept: "application/json;q=0.5, text/csv" },
    });
    expect(await csv.text()).toBe("id\n1");
    const geo = await call("/rows12", { ...svc, headers: { accept: "application/geo+json, application/json" } });
    expect([geo.status, geo.body.code]).toEqual([406, "PGRST107"]);
    const wildcard = await call("/rows12", { ...svc, headers: { accept: "application/*" } });
    expect([wildcard.status, wildcard.body.code]).toEqual([406, "PGRST107"]);
  });

  it("response.status or response.headers set from SQL is refused, not dropped", async () => {
    const r = await call("/rpc/set_status", svc);
    expect([r.status, r.body.code]).toEqual([400, "PGRST127"]);
    expect(r.body.message).toMatch(/response\.status/);
  });
});

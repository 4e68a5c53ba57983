// The stand-in's former gaps, each as PostgREST does it (its QueryParams, Plan, QueryBuilder and MainTx modules):
// commas inside {} "" and () in logic trees, PUT (single-row upsert), columns= on POST and PATCH, and a write's
// representation that reads only the selected columns (a writer with column-level SELECT).
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_JWT_SECRET, LOCAL_SERVICE_ROLE_KEY } from "@fedjwt/local-db";
import { useSupabaseDb } from "@fedjwt/local-db/testing";
import type { RunningStandIn } from "../src/server.ts";
import { caller, startStandIn } from "./http.ts";

const { db, client } = useSupabaseDb();
let rest: RunningStandIn;
const svc = { bearer: LOCAL_SERVICE_ROLE_KEY };
const json = { "content-type": "application/json" };
let writer: { bearer: string };

beforeAll(async () => {
  await client().query(`
    create table public.tickets (
      id int primary key, title text not null, tags text[], status text default 'open', secret text, meta jsonb
    );
    create table public.comments (id int primary key, ticket_id int references public.tickets (id), body text);
    create table public.loose (a int, b text);
    create view public.ticket_titles as select id as ref, title as label from public.tickets;
    create function public.shout(t public.tickets) returns text language sql stable as $$ select upper(t.title) $$;
    grant select, insert, update, delete on public.tickets, public.comments, public.loose, public.ticket_titles to service_role;
    grant execute on function public.shout(public.tickets) to service_role;
    insert into public.tickets (id, title, tags, status, secret, meta) values
      (1, 'alpha', '{is:open,priority:high}', 'open', 's1', '{"k": "a,b"}'),
      (2, 'a,b (c)', '{x}', 'closed', 's2', null),
      (3, 'say "hi"', '{y}', 'open', 's3', null),
      (4, 'delta', '{is:open}', 'open', 's4', null),
      (5, '"a"b', '{z}', 'open', 's5', null);
    insert into public.comments values (1, 1, 'first'), (2, 1, 'x,y'), (3, 2, 'other');
    create role tickets_writer nologin;
    grant tickets_writer to authenticator;
    grant usage on schema public to tickets_writer;
    grant insert (id, title, status) on public.tickets to tickets_writer;
    grant select (id, title) on public.tickets to tickets_writer;
  `);
  writer = {
    bearer: await new SignJWT({ role: "tickets_writer", exp: Math.floor(Date.now() / 1000) + 600 })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(LOCAL_JWT_SECRET)),
  };
  rest = await startStandIn(db().url);
});
afterAll(async () => {
  await rest?.close();
});

const call = caller(() => rest);
const ids = (body: Array<{ id: number }>) => body.map((r) => r.id);
const q = encodeURIComponent;

describe("logic trees split as PostgREST's pLogicTree does", () => {
  it.each([
    ["or=(id.in.(1,4),tags.cs.{is:open,priority:high})", [1, 4]],
    ["or=(tags.cs.{is:open,priority:high},id.eq.3)", [1, 3]],
    ['or=(title.eq."a,b (c)",id.eq.3)', [2, 3]],
    ['or=(title.eq."say \\"hi\\"",id.eq.4)', [3, 4]],
    ['or=(title.in.("a,b (c)",delta),id.eq.1)', [1, 2, 4]],
    ['or=(id.in.(1,"4"),id.eq.2)', [1, 2, 4]],
    ['or=(title.eq."a"b,id.eq.1)', [1, 5]],
    ["or=( id.eq.1 ,\tid.eq.2 )", [1, 2]],
    ["and=(or(id.eq.1,id.eq.2,id.eq.4),not.or(tags.cs.{x},id.eq.4))", [1]],
    ["not.or=(tags.cs.{is:open},id.in.(2,3))", [5]],
    ['or=(meta->>k.eq."a,b",id.eq.5)', [1, 5]],
    ["or=(tags.ov.{x,y},status.is.NULL)", [2, 3]],
    ["or=(id.eq(any).{1,3},title.like(all).{d*,*a})", [1, 3, 4]],
  ])("%s", async (filter, expected) => {
    const r = await call(`/tickets?select=id&order=id&${filter.replace(/[ \t"\\{}]/g, (c) => q(c))}`, svc);
    expect(r.status).toBe(200);
    expect(ids(r.body)).toEqual(expected);
  });

  it("on an embedded level too", async () => {
    const r = await call(`/tickets?select=id,comments(id)&id=eq.1&comments.or=${q('(body.eq."x,y",id.eq.9)')}`, svc);
    expect(r.body).toEqual([{ id: 1, comments: [{ id: 2 }] }]);
  });

  it.each([
    ["(id.eq.1,)", 12],
    ["(id.in.1,2)", 10],
    ["(tags.cs.{x}y,id.eq.1)", 15],
    ["()", 4],
  ])("or=%s is 400 PGRST100 at the column PostgREST reports", async (tree, column) => {
    const r = await call(`/tickets?select=id&or=${q(tree)}`, svc);
    expect([r.status, r.body.code]).toEqual([400, "PGRST100"]);
    expect(r.body.message).toBe(`"failed to parse logic tree (${tree})" (line 1, column ${column})`);
  });

  it("text after the tree, which PostgREST ignores, is refused", async () => {
    const r = await call(`/tickets?select=id&or=${q("(id.eq.1)x")}`, svc);
    expect([r.status, r.body.code]).toEqual([400, "PGRST100"]);
    expect(r.body.message).toBe('"failed to parse logic tree ((id.eq.1)x)" (line 1, column 12)');
  });
});

describe("PUT: a single-row upsert whose filters are the primary key with eq", () => {
  it("inserts (201), then replaces (200), and 204 without representation; no Content-Range", async () => {
    const put = (title: string, prefer: string) =>
      call("/tickets?id=eq.20&select=id,title,status", {
        ...svc,
        method: "PUT",
        headers: { ...json, prefer },
        body: JSON.stringify({ id: 20, title, status: "new" }),
      });
    const created = await put("twenty", "return=representation");
    expect([created.status, created.body]).toEqual([201, [{ id: 20, title: "twenty", status: "new" }]]);
    expect(created.headers.get("content-range")).toBeNull();
    expect(created.headers.get("preference-applied")).toBe("return=representation");
    const replaced = await put("TWENTY", "return=representation");
    expect([replaced.status, replaced.body]).toEqual([200, [{ id: 20, title: "TWENTY", status: "new" }]]);
    const minimal = await put("again", "return=minimal");
    expect([minimal.status, minimal.body]).toEqual([204, null]);
    expect((await call("/tickets?id=eq.20&select=title", svc)).body).toEqual([{ title: "again" }]);
  });

  it("on a view, the key of the table it exposes (as PostgREST infers it)", async () => {
    const r = await call("/ticket_titles?ref=eq.60&select=ref,label", {
      ...svc,
      method: "PUT",
      headers: { ...json, prefer: "return=representation,tx=rollback" },
      body: JSON.stringify({ ref: 60, label: "sixty" }),
    });
    expect([r.status, r.body]).toEqual([201, [{ ref: 60, label: "sixty" }]]);
  });

  it("a payload whose key differs from the URL's: 400 PGRST115, nothing written", async () => {
    const r = await call("/tickets?id=eq.21", { ...svc, method: "PUT", headers: json, body: JSON.stringify({ id: 22, title: "x" }) });
    expect([r.status, r.body.code, r.body.message]).toEqual([400, "PGRST115", "Payload values do not match URL in primary key column(s)"]);
    expect((await call("/tickets?id=in.(21,22)&select=id", svc)).body).toEqual([]);
  });

  it.each([["title=eq.x"], ["id=gt.1"], ["id=not.eq.1"], ["id=eq(any).{1}"], ["id=eq.1&title=eq.x"], ["id=eq.1&or=(id.eq.1)"], [""]])(
    "filters ?%s are not the primary key with eq: 405 PGRST105",
    async (filters) => {
      const r = await call(`/tickets?${filters}`, { ...svc, method: "PUT", headers: json, body: JSON.stringify({ id: 1, title: "x" }) });
      expect([r.status, r.body.code]).toEqual([405, "PGRST105"]);
      expect(r.body.message).toBe("Filters must include all and only primary key columns with 'eq' operators");
    },
  );

  it("a table without a primary key: 405 PGRST105; limit or offset: 400 PGRST114", async () => {
    const loose = await call("/loose?a=eq.1", { ...svc, method: "PUT", headers: json, body: JSON.stringify({ a: 1 }) });
    expect([loose.status, loose.body.code]).toEqual([405, "PGRST105"]);
    const limited = await call("/tickets?id=eq.1&limit=1", {
      ...svc,
      method: "PUT",
      headers: json,
      body: JSON.stringify({ id: 1, title: "x" }),
    });
    expect([limited.status, limited.body.code]).toEqual([400, "PGRST114"]);
  });

  it("a payload without the key column fails as PostgREST's SQL does (42703); unknown keys are PGRST204", async () => {
    const noKey = await call("/tickets?id=eq.1", { ...svc, method: "PUT", headers: json, body: JSON.stringify({ title: "x" }) });
    expect([noKey.status, noKey.body.code, noKey.body.message]).toEqual([400, "42703", "column pgrst_body.id does not exist"]);
    const unknown = await call("/tickets?id=eq.1", { ...svc, method: "PUT", headers: json, body: JSON.stringify({ id: 1, nope: 1 }) });
    expect([unknown.status, unknown.body.code]).toEqual([400, "PGRST204"]);
  });

  it("what PostgREST ignores on PUT is refused: missing, resolution, on_conflict, columns", async () => {
    const body = JSON.stringify({ id: 1, title: "alpha" });
    for (const [path, prefer] of [
      ["/tickets?id=eq.1", "missing=default"],
      ["/tickets?id=eq.1", "resolution=ignore-duplicates"],
      ["/tickets?id=eq.1&on_conflict=title", ""],
      ["/tickets?id=eq.1&columns=id", ""],
    ] as const) {
      const r = await call(path, { ...svc, method: "PUT", headers: { ...json, prefer }, body });
      expect([r.status, r.body.code]).toEqual([400, "PGRST127"]);
    }
  });
});

describe("columns= on POST and PATCH: only the listed columns are read from the payload", () => {
  it("POST: extra keys ignored, missing ones NULL, or their default with missing=default", async () => {
    const insert = (prefer: string) =>
      call(`/tickets?columns=${q('id, "title",status')}&select=id,title,status,secret`, {
        ...svc,
        method: "POST",
        headers: { ...json, prefer: `return=representation,tx=rollback${prefer}` },
        body: JSON.stringify([
          { id: 30, title: "t30", secret: "ignored" },
          { id: 31, title: "t31", status: "closed" },
        ]),
      });
    expect((await insert("")).body).toEqual([
      { id: 30, title: "t30", status: null, secret: null },
      { id: 31, title: "t31", status: "closed", secret: null },
    ]);
    expect((await insert(",missing=default")).body[0]).toEqual({ id: 30, title: "t30", status: "open", secret: null });
    const unknown = await call("/tickets?columns=id,nope", { ...svc, method: "POST", headers: json, body: JSON.stringify({ id: 32 }) });
    expect([unknown.status, unknown.body.code]).toEqual([400, "PGRST204"]);
  });

  it("PATCH: only the listed columns change; a listed key the payload lacks becomes NULL, or its default", async () => {
    const patch = (columns: string, prefer = "") =>
      call(`/tickets?id=eq.4&columns=${q(columns)}&select=title,status,secret`, {
        ...svc,
        method: "PATCH",
        headers: { ...json, prefer: `return=representation,tx=rollback${prefer}` },
        body: JSON.stringify({ title: "DELTA", secret: "not listed" }),
      });
    expect((await patch("title")).body).toEqual([{ title: "DELTA", status: "open", secret: "s4" }]);
    expect((await patch('"title", status')).body).toEqual([{ title: "DELTA", status: null, secret: "s4" }]);
    const defaults = await patch("title,status", ",missing=default");
    expect(defaults.body).toEqual([{ title: "DELTA", status: "open", secret: "s4" }]);
    expect(defaults.headers.get("preference-applied")).toBe("missing=default, return=representation, tx=rollback");
    const unknown = await patch("title,nope");
    expect([unknown.status, unknown.body.code]).toEqual([400, "PGRST204"]);
    const bad = await patch("title.x");
    expect([bad.status, bad.body.code]).toEqual([400, "PGRST100"]);
    const array = await call("/tickets?id=eq.4&columns=title", {
      ...svc,
      method: "PATCH",
      headers: json,
      body: JSON.stringify([{ title: "x" }]),
    });
    expect([array.status, array.body.code]).toEqual([400, "PGRST127"]);
  });
});

describe("a write's representation reads only what select= asks (plus the key and join columns, as PostgREST)", () => {
  it("a writer with SELECT on (id, title) inserts with select=id and with return=minimal", async () => {
    const rep = await call("/tickets?select=id", {
      ...writer,
      method: "POST",
      headers: { ...json, prefer: "return=representation,tx=rollback" },
      body: JSON.stringify({ id: 40, title: "w" }),
    });
    expect([rep.status, rep.body]).toEqual([201, [{ id: 40 }]]);
    const min = await call("/tickets", {
      ...writer,
      method: "POST",
      headers: { ...json, prefer: "return=minimal,tx=rollback" },
      body: JSON.stringify({ id: 41, title: "w" }),
    });
    expect([min.status, min.body]).toEqual([201, null]);
    const secret = await call("/tickets?select=id,secret", {
      ...writer,
      method: "POST",
      headers: { ...json, prefer: "return=representation,tx=rollback" },
      body: JSON.stringify({ id: 42, title: "w" }),
    });
    expect([secret.status, secret.body.code]).toEqual([403, "42501"]);
  });

  it("embeddings and computed fields still work over the narrowed rows", async () => {
    const embed = await call("/comments?select=body,tickets(title)", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "return=representation,tx=rollback" },
      body: JSON.stringify({ id: 9, ticket_id: 2, body: "new" }),
    });
    expect(embed.body).toEqual([{ body: "new", tickets: { title: "a,b (c)" } }]);
    const computed = await call("/tickets?id=eq.4&select=id,shout", {
      ...svc,
      method: "PATCH",
      headers: { ...json, prefer: "return=representation,tx=rollback" },
      body: JSON.stringify({ title: "quiet" }),
    });
    expect(computed.body).toEqual([{ id: 4, shout: "QUIET" }]);
    const upsert = await call("/tickets?select=title", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "resolution=merge-duplicates,return=representation,tx=rollback" },
      body: JSON.stringify([
        { id: 1, title: "one" },
        { id: 50, title: "fifty" },
      ]),
    });
    expect([upsert.status, upsert.body]).toEqual([201, [{ title: "one" }, { title: "fifty" }]]);
    const updateOnly = await call("/tickets?select=id", {
      ...svc,
      method: "POST",
      headers: { ...json, prefer: "resolution=merge-duplicates,return=representation,tx=rollback" },
      body: JSON.stringify([{ id: 1, title: "one" }]),
    });
    expect([updateOnly.status, updateOnly.body]).toEqual([200, [{ id: 1 }]]);
  });
});

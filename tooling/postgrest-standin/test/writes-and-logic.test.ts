// The stand-in's former gaps, each as PostgREST does it (its QueryParams, Plan, QueryBuilder and MainTx modules):
// commas inside {} "" and () in logic trees, PUT (single-row upsert), columns= on POST and PATCH, and a write's
// representation that reads only the selected columns (a writer with column-level SELECT).
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_JWT_SECRET, LOCAL_SERVICE_ROLE_KEY } from "@fedjwt/local-db";
import { useSupabaseDb } from "@fedjwt/local-db/testing";
import { type RunningStandIn, startPostgrestStandIn } from "../src/server.ts";

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
    create function public.shout(t public.tickets) returns text language sql stable as $$ select upper(t.title) $$;
    grant select, insert, update, delete on public.tickets, public.comments, public.loose to service_role;
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
  rest = await startPostgrestStandIn({
    dbUrl: db().url.replace("postgres:postgres@", "authenticator:postgres@"),
    jwtSecret: LOCAL_JWT_SECRET,
  });
});
afterAll(async () => {
  await rest?.close();
});

async function call(path: string, init: RequestInit & { bearer?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.bearer) headers.set("authorization", `Bearer ${init.bearer}`);
  const res = await fetch(`${rest.url}${path}`, { ...init, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}
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

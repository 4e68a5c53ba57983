// The RLS matrix: every example table × operation × principal, executed as PostgREST executes a request
// (one transaction, SET LOCAL ROLE, request.jwt.claims), each case rolled back (Prefer: tx=rollback).
// "denied" is either a Postgres error (code asserted) or, for update/delete filtered by a USING clause,
// zero rows affected — which is what PostgREST returns in that case too.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { RequestContext } from "../src/sql-as.ts";
import { anon, authUser, run, useSupabaseDb, writer, type Outcome } from "../src/testing.ts";

// As on hosted Supabase: migrations applied by a non-superuser postgres, writer roles without the auth schema.
const { client } = useSupabaseDb({ hostedLayout: true });

const SUB = {
  widgets: randomUUID(),
  orders: randomUUID(),
  inventory: randomUUID(),
  plain: randomUUID(),
};

/** A Supabase Auth user who owns a seeded note (supabase/seed.sql). */
const AUTH_USER = "8d0fd2b3-9ca1-4a58-8b0c-000000000001";

// Writers run as writer roles: federated_writer, or a per-writer role made by federation.create_writer_role
// (inventory_service, made by the example migration), never as authenticated. `stolenSub` is a writer whose `sub` is an Auth user's id —
// what the gateway makes impossible (it always derives sub) — to show the role alone still keeps it out.
const PRINCIPALS = {
  widgets: writer("widgets-service", ["widgets_writer"], SUB.widgets),
  orders: writer("orders-service", ["orders_writer", "stock_reader"], SUB.orders),
  inventory: writer("inventory-service", ["inventory_writer", "orders_reader"], SUB.inventory, "inventory_service"),
  plain: writer("plain-service", [], SUB.plain),
  stolenSub: writer("plain-service", [], AUTH_USER),
  user: authUser(AUTH_USER, { app_roles: ["orders_writer", "inventory_writer", "widgets_writer"] }),
  anon,
} satisfies Record<string, RequestContext>;
type Who = keyof typeof PRINCIPALS;

/** An expected outcome: rows checked by a predicate, zero rows, or a Postgres error code. */
type Expect = { ok: (rows: Record<string, unknown>[], who: Who) => void } | { zeroRows: true } | { error: string };

const ok = (check: (rows: Record<string, unknown>[], who: Who) => void): Expect => ({ ok: check });
const zero: Expect = { zeroRows: true };
const denied = (code = "42501"): Expect => ({ error: code });

function assertOutcome(o: Outcome, e: Expect, who: Who): void {
  if ("error" in e) {
    expect("error" in o ? o.error : `rows: ${JSON.stringify(o.rows)}`).toBe(e.error);
  } else if ("zeroRows" in e) {
    expect("rows" in o ? o.rows : o).toEqual([]);
  } else {
    if ("error" in o) throw new Error(`expected success, got ${o.error}: ${o.message}`);
    e.ok(o.rows, who);
  }
}

interface Case {
  table: string;
  op: string;
  sql: string;
  expect: Record<Who, Expect>;
}

/**
 * On the writers' tables, `stolenSub` is a writer with no application role, so it gets what `plain` gets,
 * and a Supabase Auth user holds no privilege at all (the examples revoke them from authenticated), so
 * every operation is 42501 for it — even with forged app_roles in its token.
 */
function onWriterTable(c: Omit<Case, "expect"> & { expect: Omit<Record<Who, Expect>, "stolenSub" | "user"> }): Case {
  return { ...c, expect: { ...c.expect, stolenSub: c.expect.plain, user: denied() } };
}

const writersDenied = (): Record<"widgets" | "orders" | "inventory" | "plain" | "stolenSub", Expect> => ({
  widgets: denied(),
  orders: denied(),
  inventory: denied(),
  plain: denied(),
  stolenSub: denied(),
});

let ownWidget: number;
let otherWidget: number;
let ownOrder: string;
let otherOrder: string;

beforeAll(async () => {
  const w = await client().query(`select id, owner_issuer from public.widgets order by id`);
  ownWidget = w.rows.find((r) => r.owner_issuer === "widgets-service").id;
  otherWidget = w.rows.find((r) => r.owner_issuer === "another-service").id;
  const o = await client().query(`select id, writer_issuer from public.orders`);
  ownOrder = o.rows.find((r) => r.writer_issuer === "orders-service").id;
  otherOrder = o.rows.find((r) => r.writer_issuer === "another-service").id;
});

const WRITER_TABLE_CASES = () => [
  // widgets ----------------------------------------------------------------------------------------
  {
    table: "widgets",
    op: "insert (owner from the token)",
    sql: `insert into public.widgets (name) values ('w') returning *`,
    expect: {
      widgets: ok((rows) => expect(rows[0]).toMatchObject({ name: "w", owner_issuer: "widgets-service", created_by: SUB.widgets })),
      orders: denied(),
      inventory: denied(),
      plain: denied(),
      anon: denied(),
    },
  },
  {
    table: "widgets",
    op: "insert naming another owner",
    sql: `insert into public.widgets (name, owner_issuer) values ('w', 'another-service') returning *`,
    expect: { widgets: denied(), orders: denied(), inventory: denied(), plain: denied(), anon: denied() },
  },
  {
    table: "widgets",
    op: "select",
    sql: `select * from public.widgets`,
    expect: {
      widgets: ok((rows) => {
        expect(rows.length).toBeGreaterThan(0);
        expect(new Set(rows.map((r) => r.owner_issuer))).toEqual(new Set(["widgets-service"]));
      }),
      orders: zero,
      inventory: zero,
      plain: zero,
      anon: denied(),
    },
  },
  {
    table: "widgets",
    op: "update own row",
    sql: `update public.widgets set name = 'renamed' where id = $ownWidget returning *`,
    expect: {
      widgets: ok((rows) => expect(rows).toEqual([expect.objectContaining({ name: "renamed", owner_issuer: "widgets-service" })])),
      orders: zero,
      inventory: zero,
      plain: zero,
      anon: denied(),
    },
  },
  {
    table: "widgets",
    op: "update another issuer's row",
    sql: `update public.widgets set name = 'stolen' where id = $otherWidget returning *`,
    expect: { widgets: zero, orders: zero, inventory: zero, plain: zero, anon: denied() },
  },
  {
    table: "widgets",
    op: "update owner to another issuer",
    sql: `update public.widgets set owner_issuer = 'orders-service' where id = $ownWidget returning *`,
    // No writer may update owner_issuer at all (column grant), so every writer is refused, not just filtered.
    expect: { widgets: denied(), orders: denied(), inventory: denied(), plain: denied(), anon: denied() },
  },
  {
    table: "widgets",
    op: "insert naming someone else as created_by (an Auth user's id)",
    sql: `insert into public.widgets (name, created_by) values ('w', gen_random_uuid()) returning *`,
    expect: { widgets: denied(), orders: denied(), inventory: denied(), plain: denied(), anon: denied() },
  },
  {
    table: "widgets",
    op: "delete own row",
    sql: `delete from public.widgets where id = $ownWidget returning id`,
    expect: { widgets: ok((rows) => expect(rows).toHaveLength(1)), orders: zero, inventory: zero, plain: zero, anon: denied() },
  },
  {
    table: "widgets",
    op: "delete another issuer's row",
    sql: `delete from public.widgets where id = $otherWidget returning id`,
    expect: { widgets: zero, orders: zero, inventory: zero, plain: zero, anon: denied() },
  },
  // orders -----------------------------------------------------------------------------------------
  {
    table: "orders",
    op: "insert",
    sql: `insert into public.orders (sku, quantity) values ('WIDGET-BLUE', 3) returning *`,
    expect: {
      orders: ok((rows) =>
        expect(rows[0]).toMatchObject({
          writer_issuer: "orders-service",
          writer_sub: "svc-orders-service",
          status: "pending",
          quantity: 3,
        }),
      ),
      widgets: denied(),
      inventory: denied(),
      plain: denied(),
      anon: denied(),
    },
  },
  {
    table: "orders",
    op: "insert recording another writer's subject or a back-dated time",
    sql: `insert into public.orders (sku, quantity, writer_sub, created_at) values ('WIDGET-BLUE', 1, 'someone-else', '2000-01-01') returning *`,
    expect: { orders: denied(), widgets: denied(), inventory: denied(), plain: denied(), anon: denied() },
  },
  {
    table: "orders",
    op: "select",
    sql: `select * from public.orders`,
    expect: {
      orders: ok((rows) => expect(new Set(rows.map((r) => r.writer_issuer))).toEqual(new Set(["orders-service"]))),
      inventory: ok((rows) => expect(new Set(rows.map((r) => r.writer_issuer))).toEqual(new Set(["orders-service", "another-service"]))),
      widgets: zero,
      plain: zero,
      anon: denied(),
    },
  },
  {
    table: "orders",
    op: "update own order",
    sql: `update public.orders set status = 'shipped' where id = '$ownOrder' returning status`,
    expect: {
      orders: ok((rows) => expect(rows).toEqual([{ status: "shipped" }])),
      inventory: zero,
      widgets: zero,
      plain: zero,
      anon: denied(),
    },
  },
  {
    table: "orders",
    op: "update another issuer's order",
    sql: `update public.orders set status = 'cancelled' where id = '$otherOrder' returning status`,
    expect: { orders: zero, inventory: zero, widgets: zero, plain: zero, anon: denied() },
  },
  {
    table: "orders",
    op: "delete",
    sql: `delete from public.orders where id = '$ownOrder' returning id`,
    expect: { orders: denied(), inventory: denied(), widgets: denied(), plain: denied(), anon: denied() },
  },
  // stock_levels -----------------------------------------------------------------------------------
  {
    table: "stock_levels",
    op: "insert",
    sql: `insert into public.stock_levels (sku, quantity) values ('NEW-SKU', 1) returning *`,
    expect: { inventory: denied(), orders: denied(), widgets: denied(), plain: denied(), anon: denied() },
  },
  {
    table: "stock_levels",
    op: "select",
    sql: `select sku from public.stock_levels order by sku`,
    expect: {
      inventory: ok((rows) => expect(rows.map((r) => r.sku)).toEqual(["GADGET-1", "WIDGET-BLUE", "WIDGET-RED"])),
      orders: ok((rows) => expect(rows).toHaveLength(3)),
      widgets: zero,
      plain: zero,
      anon: denied(),
    },
  },
  {
    table: "stock_levels",
    op: "update quantity",
    sql: `update public.stock_levels set quantity = 99 where sku = 'WIDGET-RED' returning quantity, updated_by`,
    // Only inventory-service's own role holds the column grant: the others fail before any policy runs.
    expect: {
      inventory: ok((rows) => expect(rows).toEqual([{ quantity: 99, updated_by: "inventory-service" }])),
      orders: denied(),
      widgets: denied(),
      plain: denied(),
      anon: denied(),
    },
  },
  {
    table: "stock_levels",
    op: "update another column (no column grant)",
    sql: `update public.stock_levels set location = 'elsewhere' where sku = 'WIDGET-RED' returning sku`,
    expect: { inventory: denied(), orders: denied(), widgets: denied(), plain: denied(), anon: denied() },
  },
  {
    table: "stock_levels",
    op: "delete",
    sql: `delete from public.stock_levels where sku = 'GADGET-1' returning sku`,
    expect: { inventory: denied(), orders: denied(), widgets: denied(), plain: denied(), anon: denied() },
  },
];

// user_notes: owned by Supabase Auth users, Supabase's canonical policies. Writer roles hold no privilege
// on it (Supabase's default privileges reach anon/authenticated/service_role only): 42501 for every writer,
// whatever its sub or app roles. The Auth user still uses it as before.
const NOTES_CASES = (): Case[] => [
  {
    table: "user_notes",
    op: "insert (user_id from auth.uid())",
    sql: `insert into public.user_notes (body) values ('n') returning user_id`,
    expect: { ...writersDenied(), user: ok((rows) => expect(rows).toEqual([{ user_id: AUTH_USER }])), anon: denied() },
  },
  {
    table: "user_notes",
    op: "insert naming the Auth user",
    sql: `insert into public.user_notes (user_id, body) values ('${AUTH_USER}', 'n') returning user_id`,
    expect: { ...writersDenied(), user: ok((rows) => expect(rows).toEqual([{ user_id: AUTH_USER }])), anon: denied() },
  },
  {
    table: "user_notes",
    op: "select",
    sql: `select user_id from public.user_notes`,
    expect: { ...writersDenied(), user: ok((rows) => expect(rows).toEqual([{ user_id: AUTH_USER }])), anon: zero },
  },
  {
    table: "user_notes",
    op: "update",
    sql: `update public.user_notes set body = 'changed' returning user_id`,
    expect: { ...writersDenied(), user: ok((rows) => expect(rows).toEqual([{ user_id: AUTH_USER }])), anon: zero },
  },
  {
    table: "user_notes",
    op: "delete",
    sql: `delete from public.user_notes returning user_id`,
    expect: { ...writersDenied(), user: ok((rows) => expect(rows).toEqual([{ user_id: AUTH_USER }])), anon: zero },
  },
];

const CASES = (): Case[] => [...WRITER_TABLE_CASES().map(onWriterTable), ...NOTES_CASES()];

describe("RLS matrix", () => {
  it("covers every example table × insert/select/update/delete × principal", () => {
    const cases = CASES();
    for (const table of ["widgets", "orders", "stock_levels", "user_notes"]) {
      const ops = new Set(cases.filter((c) => c.table === table).map((c) => c.op.split(" ")[0]));
      expect([...ops].sort(), table).toEqual(["delete", "insert", "select", "update"]);
    }
    for (const c of cases) expect(Object.keys(c.expect).sort()).toEqual(Object.keys(PRINCIPALS).sort());
  });

  const rows = CASES().flatMap((c) => (Object.keys(PRINCIPALS) as Who[]).map((who) => [c.table, c.op, who, c] as const));
  it.each(rows)("%s · %s · %s", async (_t, _op, who, c) => {
    const sql = c.sql
      .replace("$ownWidget", String(ownWidget))
      .replace("$otherWidget", String(otherWidget))
      .replace("$ownOrder", ownOrder)
      .replace("$otherOrder", otherOrder);
    assertOutcome(await run(client(), PRINCIPALS[who]!, sql), c.expect[who], who);
  });
});

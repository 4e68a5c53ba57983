import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { anon, run, useSupabaseDb, writer } from "../src/testing.ts";

const { client } = useSupabaseDb();

async function value(ctx: Parameters<typeof run>[1], expr: string): Promise<unknown> {
  const o = await run(client(), ctx, `select ${expr} as v`);
  if ("error" in o) throw new Error(`${o.error}: ${o.message}`);
  return o.rows[0]!.v;
}

describe("federation helpers", () => {
  const w = writer("orders-service", ["orders_writer"]);

  it("read the writer's claims", async () => {
    expect(await value(w, "federation.issuer()")).toBe("orders-service");
    expect(await value(w, "federation.is_issuer('orders-service')")).toBe(true);
    expect(await value(w, "federation.is_issuer('inventory-service')")).toBe(false);
    expect(await value(w, "federation.has_role('orders_writer')")).toBe(true);
    expect(await value(w, "federation.has_role('inventory_writer')")).toBe(false);
    expect(await value(w, "federation.claim('aud')")).toBe("authenticated");
  });

  it("writer_sub() prefers the original subject the gateway kept", async () => {
    const uuid = randomUUID();
    const mapped = { role: "authenticated", claims: { iss: "orders-service", sub: uuid, writer_sub: "worker-7", app_roles: [] } };
    expect(await value(mapped, "federation.writer_sub()")).toBe("worker-7");
    expect(await value(writer("orders-service", [], uuid), "federation.writer_sub()")).toBe(uuid);
  });

  it("do not believe tokens whose issuer is a URL (Supabase Auth, third-party IdPs), even with app_roles", async () => {
    for (const iss of ["http://127.0.0.1:54321/auth/v1", "https://abc.supabase.co/auth/v1", "https://clerk.example.com"]) {
      const forged = { role: "authenticated", claims: { iss, sub: randomUUID(), app_roles: ["widgets_writer"], writer_sub: "x" } };
      expect(await value(forged, "federation.issuer()"), iss).toBeNull();
      expect(await value(forged, "federation.has_role('widgets_writer')"), iss).toBe(false);
      expect(await value(forged, "federation.writer_sub()"), iss).toBeNull();
      const o = await run(client(), forged, `insert into public.widgets (name, owner_issuer) values ('x', $1)`, [iss]);
      expect("error" in o && o.error).toBe("42501");
    }
  });

  it("are false, not errors, when there are no claims", async () => {
    expect(await value(anon, "federation.issuer()")).toBeNull();
    expect(await value(anon, "federation.has_role('widgets_writer')")).toBe(false);
    expect(await value(anon, "federation.is_issuer('x')")).toBe(false);
    expect(await value({ role: "authenticated", claims: { iss: "svc", app_roles: "widgets_writer" } }, "federation.has_role('widgets_writer')")).toBe(false);
  });
});

describe("auth.uid() for proxied writers", () => {
  it("works in a column default when sub is a UUID", async () => {
    const sub = randomUUID();
    const o = await run(client(), writer("widgets-service", ["widgets_writer"], sub), `insert into public.widgets (name) values ('uid') returning created_by, auth.uid() as uid`);
    expect(o).toEqual({ rows: [{ created_by: sub, uid: sub }] });
  });

  it("works inside a policy expression", async () => {
    await client().query(`
      create table if not exists public.uid_probe (id int primary key, owner uuid not null);
      alter table public.uid_probe enable row level security;
      grant select on public.uid_probe to authenticated;
      create policy own on public.uid_probe for select to authenticated using (owner = auth.uid());
    `);
    const sub = randomUUID();
    await client().query(`insert into public.uid_probe values (1, $1), (2, $2)`, [sub, randomUUID()]);
    expect(await run(client(), writer("x", [], sub), "select id from public.uid_probe")).toEqual({ rows: [{ id: 1 }] });
  });

  it("raises for a non-UUID sub — why the gateway maps such subjects to a UUIDv5", async () => {
    const o = await run(client(), writer("widgets-service", ["widgets_writer"], "worker-1"), "select auth.uid()");
    expect("error" in o && o.error).toBe("22P02");
  });
});

// Request ids and the write audit through the whole stack (gateway → Deno `rest` → stand-in → Postgres):
// a writer's insert, update and delete on an audited table each leave one audit row whose request_id is the
// response's X-Request-Id and the access line's; `fedjwt audit` lists them; the audit can be neither
// forged nor erased through the API.
import { readFileSync } from "node:fs";
import pg from "pg";
import { createSigner } from "@fedjwt/signer";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { fedjwt, keyDir, keygen, register, useTarget, type Target } from "./target.ts";

/** The function's access lines, as the stack relays its output (`functions/rest: {json}`). */
const accessLines: Array<Record<string, unknown>> = [];
const target = useTarget({
  log: (line) => {
    const json = line.indexOf('{"');
    if (!line.startsWith("functions/rest:") || json < 0) return;
    try {
      const e = JSON.parse(line.slice(json)) as Record<string, unknown>;
      if (e.event === "request" || e.event === "request_rejected") accessLines.push(e);
    } catch {
      // not a JSON line
    }
  },
});

interface AuditRow {
  op: string;
  table_name: string;
  pk: Record<string, unknown>;
  changed_columns: string[] | null;
  old_values: unknown;
  new_values: unknown;
  writer: string;
  writer_sub: string | null;
  writer_kid: string | null;
  request_id: string | null;
}

async function auditOf(t: Target, requestId: string): Promise<AuditRow[]> {
  const r = await fedjwt(t, ["audit", "--request-id", requestId, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { rows: AuditRow[] }).rows;
}

/** The access line of a request id (waiting for the function's output to arrive, bounded). */
function lineOf(requestId: string): Promise<Record<string, unknown>> {
  return vi.waitFor(
    () => {
      const found = accessLines.filter((l) => l.request_id === requestId);
      expect(found).toHaveLength(1);
      return found[0]!;
    },
    { timeout: 5000, interval: 50 },
  );
}

describe.skipIf(!!process.env.E2E_API_URL)("write audit through the stack", () => {
  let token: string;
  let kid: string;

  beforeAll(async () => {
    const t = target();
    // widgets lets its writer insert, update and delete its own rows: audit it (as its owner would, in a migration).
    const db = new pg.Client({ connectionString: t.stack!.info.DB_URL });
    await db.connect();
    await db.query("select federation.enable_write_audit('public.widgets')");
    await db.end();
    const keys = await keygen(t, keyDir(), "audit-e2e");
    kid = keys.kid;
    await register(t, [
      "--issuer",
      "audit-e2e",
      "--public-key",
      keys.publicKey,
      "--allowed-role",
      "widgets_writer",
      "--allowed-role",
      "orders_writer",
    ]);
    const signer = await createSigner({ privateKey: readFileSync(keys.privateKey, "utf8"), issuer: "audit-e2e", audience: t.audience });
    token = await signer.sign({ subject: "audit-worker", roles: ["widgets_writer", "orders_writer"], expiresIn: 300 });
  });

  const call = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${target().apiUrl}/functions/v1/rest/${path}`, {
      ...init,
      headers: { apikey: target().anonKey, authorization: `Bearer ${token}`, "content-type": "application/json", ...init.headers },
    });

  it("insert, update and delete: one audit row each, its request_id = X-Request-Id = the access line's", async () => {
    const t = target();
    // The writer's own id on the insert; none on the update (the gateway makes a UUIDv7); a malformed one on the delete.
    const inserted = await call("widgets?select=id", {
      method: "POST",
      headers: { prefer: "return=representation", "x-request-id": "audit-e2e:insert.1" },
      body: JSON.stringify({ name: "audited widget" }),
    });
    expect(inserted.status).toBe(201);
    const id = ((await inserted.json()) as Array<{ id: number }>)[0]!.id;
    const updated = await call(`widgets?id=eq.${id}`, { method: "PATCH", body: JSON.stringify({ name: "renamed widget" }) });
    expect(updated.status).toBe(204);
    const deleted = await call(`widgets?id=eq.${id}`, { method: "DELETE", headers: { "x-request-id": "not ok; 'quoted'" } });
    expect(deleted.status).toBe(204);

    const ids = [inserted, updated, deleted].map((r) => r.headers.get("x-request-id")!);
    expect(ids[0]).toBe("audit-e2e:insert.1");
    expect(ids[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[2]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const expected = [
      { op: "INSERT", changed: expect.arrayContaining(["id", "name", "owner_issuer"]) },
      { op: "UPDATE", changed: expect.arrayContaining(["name"]) },
      { op: "DELETE", changed: null },
    ];
    for (const [i, rid] of ids.entries()) {
      const rows = await auditOf(t, rid);
      expect(rows).toEqual([
        expect.objectContaining({
          op: expected[i]!.op,
          table_name: "public.widgets",
          pk: { id },
          changed_columns: expected[i]!.changed,
          old_values: null,
          new_values: null,
          writer: "audit-e2e",
          writer_sub: "audit-worker",
          writer_kid: kid,
          request_id: rid,
        }),
      ]);
      expect(await lineOf(rid)).toMatchObject({ event: "request", issuer: "audit-e2e", target: "widgets" });
    }
    // The malformed id the writer sent was replaced, and appears in no log line.
    expect(JSON.stringify(accessLines)).not.toContain("not ok;");
  });

  it("the seeded example: orders is audited; fedjwt audit finds it by writer, table and time", async () => {
    const t = target();
    const res = await call("orders", { method: "POST", body: JSON.stringify({ sku: "WIDGET-RED", quantity: 2 }) });
    expect(res.status).toBe(201);
    const rid = res.headers.get("x-request-id")!;
    const r = await fedjwt(t, ["audit", "--writer", "audit-e2e", "--table", "orders", "--since", "1h"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^AT\s+WRITER\s+KID\s+SUB\s+TABLE\s+OP\s+KEY\s+CHANGED\s+REQUEST_ID/);
    expect(r.stdout).toMatch(
      new RegExp(`audit-e2e\\s+${kid}\\s+audit-worker\\s+public\\.orders\\s+INSERT\\s+\\{"id":"[0-9a-f-]{36}"\\}\\s+\\S+\\s+${rid}`),
    );
    expect(r.stdout).not.toContain("public.widgets");
  });

  it("a refusal carries X-Request-Id and its access line does too; it writes no audit row", async () => {
    const res = await fetch(`${target().apiUrl}/functions/v1/rest/widgets`, {
      method: "POST",
      headers: { apikey: target().anonKey, authorization: "Bearer not-a-token", "x-request-id": "audit-e2e:refused" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toBe("audit-e2e:refused");
    expect(await lineOf("audit-e2e:refused")).toMatchObject({ event: "request_rejected", reason: "token_malformed" });
    expect(await auditOf(target(), "audit-e2e:refused")).toEqual([]);
  });

  it("forged: a writer cannot write, read or call the audit through the API; a request id is not an identity", async () => {
    // Another writer's name as the request id: recorded as given, the writer column stays this writer.
    const res = await call("orders", {
      method: "POST",
      headers: { "x-request-id": "orders-service" },
      body: JSON.stringify({ sku: "WIDGET-RED", quantity: 1 }),
    });
    expect(res.status).toBe(201);
    expect((await auditOf(target(), "orders-service")).map((r) => r.writer)).toEqual(["audit-e2e"]);
    // The federation schema is not reachable through the gateway; write_audit_rows is service_role only.
    const profile = await call("write_audit", {
      method: "POST",
      headers: { "content-profile": "federation" },
      body: JSON.stringify({ writer: "x" }),
    });
    expect(profile.status).toBe(406);
    expect(((await profile.json()) as { code: string }).code).toBe("schema_not_allowed");
    const rpc = await call("rpc/write_audit_rows", { method: "POST", body: "{}" });
    expect(rpc.status).toBe(403);
    expect(((await rpc.json()) as { code: string }).code).toBe("42501");
  });

  it("erased: the service key cannot delete, change or purge audit rows through the Data API", async () => {
    const t = target();
    const service = { apikey: t.serviceKey, authorization: `Bearer ${t.serviceKey}`, "content-type": "application/json" };
    const del = await fetch(`${t.apiUrl}/rest/v1/write_audit?id=gt.0`, {
      method: "DELETE",
      headers: { ...service, "content-profile": "federation" },
    });
    expect(del.status).toBe(406); // the federation schema is not exposed
    const purge = await fetch(`${t.apiUrl}/rest/v1/rpc/purge_write_audit`, {
      method: "POST",
      headers: { ...service, "content-profile": "federation" },
      body: JSON.stringify({ older_than: "1 hour" }),
    });
    expect(purge.status).toBe(406);
    const inPublic = await fetch(`${t.apiUrl}/rest/v1/write_audit?id=gt.0`, { method: "DELETE", headers: service });
    expect(inPublic.status).toBe(404);
    // Still all there.
    expect(await auditOf(t, "audit-e2e:insert.1")).toHaveLength(1);
  });
});

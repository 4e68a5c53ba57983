// Operating it through the whole stack: usage recorded by the function (list, rotate --retire, deactivate
// --kid, doctor), a flood from one writer throttled while another keeps its 2xx, and a writer role's
// statement timeout cancelling its slow query (57014) through gateway → function → stand-in → Postgres.
import { readFileSync } from "node:fs";
import pg from "pg";
import { createSigner, type Signer } from "@fedjwt/signer";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { fedjwt, keyDir, keygen, register, useTarget, viaGateway } from "./target.ts";

// Usage written every 200 ms, so the test waits for it (bounded) rather than for the default 5 s.
const target = useTarget({ functionEnv: { FEDJWT_USAGE_FLUSH_MS: "200" } });

function signer(keys: { privateKey: string }, issuer: string): Promise<Signer> {
  return createSigner({ privateKey: readFileSync(keys.privateKey, "utf8"), issuer, audience: target().audience });
}

interface Listed {
  usage_window: string;
  issuers: Array<{
    issuer: string;
    keys: Array<{ kid: string; usage: { last_seen_at: string | null; requests: number; errors: number } }>;
  }>;
}

async function listed(issuer: string): Promise<Listed["issuers"][number]["keys"]> {
  const r = await fedjwt(target(), ["list", "--issuer", issuer, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Listed).issuers[0]!.keys;
}

describe("usage: which writers wrote, how much, is key K still used", () => {
  let used: Awaited<ReturnType<typeof keygen>>;
  let idle: Awaited<ReturnType<typeof keygen>>;

  beforeAll(async () => {
    const t = target();
    used = await keygen(t, keyDir(), "ops-usage");
    idle = await keygen(t, keyDir(), "ops-usage");
    await register(t, ["--issuer", "ops-usage", "--public-key", used.publicKey, "--allowed-role", "orders_writer"]);
    await register(t, ["--issuer", "ops-usage", "--public-key", idle.publicKey]);
  });

  it("list shows LAST SEEN and the counts the function flushed; a key never used shows never", async () => {
    const w = await signer(used, "ops-usage");
    const token = await w.sign({ roles: ["orders_writer"] });
    for (let i = 0; i < 5; i++) expect((await viaGateway(target(), "orders?select=id&limit=1", token)).status).toBe(200);
    expect((await viaGateway(target(), "no_such_table", token)).status).toBe(404);
    await vi.waitFor(
      async () => {
        const k = (await listed("ops-usage")).find((x) => x.kid === used.kid)!;
        expect(k.usage).toMatchObject({ requests: 6, errors: 1 });
      },
      { timeout: 15_000, interval: 200 },
    );
    const keys = await listed("ops-usage");
    expect(Date.now() - Date.parse(keys.find((k) => k.kid === used.kid)!.usage.last_seen_at!)).toBeLessThan(120_000);
    expect(keys.find((k) => k.kid === idle.kid)!.usage).toEqual({ last_seen_at: null, requests: 0, errors: 0 });
    const human = (await fedjwt(target(), ["list", "--issuer", "ops-usage"])).stdout;
    expect(human).toMatch(/LAST SEEN\s+REQUESTS \(24h\)\s+ERRORS \(24h\)/);
    expect(human).toMatch(new RegExp(`${used.kid}\\s+ES256\\s+public key\\s+yes\\s+\\d+s ago\\s+6\\s+1\\s`));
    expect(human).toMatch(new RegExp(`${idle.kid}\\s+ES256\\s+public key\\s+yes\\s+never\\s+0\\s+0\\s`));
  });

  it("rotate --retire and deactivate --kid refuse a key seen recently unless --force; an unused key retires", async () => {
    const t = target();
    const retire = await fedjwt(t, ["rotate", "--issuer", "ops-usage", "--retire", used.kid]);
    expect({ code: retire.code, stdout: retire.stdout }).toEqual({ code: 2, stdout: "" });
    expect(retire.stderr).toMatch(
      new RegExp(`key ${used.kid} of issuer "ops-usage" was last seen \\d+s ago \\(6 requests within 1h\\): a writer still uses it`),
    );
    const deactivate = await fedjwt(t, ["deactivate", "--issuer", "ops-usage", "--kid", used.kid, "--json"]);
    expect(deactivate.code).toBe(2);
    expect(deactivate.stderr).toMatch(/was last seen .* or pass --force to deactivate it anyway/);
    // Nothing was deactivated by the refusals.
    expect(
      (await viaGateway(t, "orders?select=id&limit=1", await (await signer(used, "ops-usage")).sign({ roles: ["orders_writer"] }))).status,
    ).toBe(200);

    expect((await fedjwt(t, ["rotate", "--issuer", "ops-usage", "--retire", idle.kid])).code).toBe(0);
    const forced = await fedjwt(t, ["deactivate", "--issuer", "ops-usage", "--kid", used.kid, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
  });

  it("doctor warns of active keys never seen (exit 0)", async () => {
    const t = target();
    const fresh = await keygen(t, keyDir(), "ops-doctor");
    await register(t, ["--issuer", "ops-doctor", "--public-key", fresh.publicKey]);
    const r = await fedjwt(t, ["doctor", "--url", t.apiUrl, "--anon-key", t.anonKey, "--service-role-key", t.serviceKey, "--json"]);
    expect(r.code, r.stdout).toBe(0);
    const keys = (JSON.parse(r.stdout) as { checks: Array<{ id: string; status: string; message: string }> }).checks.find(
      (c) => c.id === "keys",
    )!;
    expect(keys.status).toBe("warn");
    expect(keys.message).toContain(`ops-doctor/${fresh.kid}`);
    expect(keys.message).not.toContain(`ops-usage/`); // retired and deactivated keys are not reported
  });
});

describe("rate limit", () => {
  it("a flood from one writer gets 429 rate_limited with Retry-After; another writer keeps every 2xx", async () => {
    const t = target();
    const flood = await keygen(t, keyDir(), "ops-flood");
    const calm = await keygen(t, keyDir(), "ops-calm");
    // The gateway hears of ops-flood before it is registered (its issuer list then says "unknown" for a
    // while): registering and flooding at once must still meet the new writer, not 401 unknown_issuer.
    const early = await (await signer(flood, "ops-flood")).sign({ roles: ["orders_writer"] });
    expect((await viaGateway(t, "orders?select=id&limit=1", early)).body).toMatchObject({ code: "unknown_issuer" });
    // 0.1 request per second with a burst of 3: however slowly this machine runs the 20 requests, few refill.
    const out = await register(t, [
      "--issuer",
      "ops-flood",
      "--public-key",
      flood.publicKey,
      "--allowed-role",
      "orders_writer",
      "--rate-limit",
      "0.1",
      "--rate-burst",
      "3",
    ]);
    expect(out).toContain("rate limit: 0.1/s for the project (shared by every gateway instance), burst 3");
    await register(t, ["--issuer", "ops-calm", "--public-key", calm.publicKey, "--allowed-role", "orders_writer"]);
    const floodToken = await (await signer(flood, "ops-flood")).sign({ roles: ["orders_writer"] });
    const calmToken = await (await signer(calm, "ops-calm")).sign({ roles: ["orders_writer"] });
    const flooded = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await fetch(`${t.apiUrl}/functions/v1/rest/orders?select=id&limit=1`, {
          headers: { apikey: t.anonKey, authorization: `Bearer ${floodToken}` },
        });
        const body = (await res.json()) as { code?: string };
        return { status: res.status, code: body.code, retryAfter: res.headers.get("retry-after") };
      }),
    );
    const calmStatuses = await Promise.all(
      Array.from({ length: 20 }, async () => (await viaGateway(t, "orders?select=id&limit=1", calmToken)).status),
    );
    const limited = flooded.filter((r) => r.status === 429);
    expect(flooded.filter((r) => r.status === 200).length).toBeLessThanOrEqual(3 + 6); // burst + at most 60 s of refill
    expect(limited.length).toBeGreaterThanOrEqual(11);
    expect(limited.every((r) => r.code === "rate_limited" && Number(r.retryAfter) >= 1)).toBe(true);
    expect(flooded.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    expect(calmStatuses).toEqual(Array(20).fill(200));
  });
});

describe.skipIf(!!process.env.E2E_API_URL)("statement timeout", () => {
  it("a writer role's slow query is cancelled (57014) through the stack; the default 8 s lets another finish", async () => {
    const t = target();
    const admin = new pg.Client({ connectionString: t.stack!.info.DB_URL });
    await admin.connect();
    try {
      await admin.query(`
        select federation.create_writer_role('ops_hasty_writer');
        alter role ops_hasty_writer set statement_timeout = '200ms';
        notify pgrst, 'reload config';
        create or replace function public.ops_nap(seconds float8) returns text language sql volatile as $$
          select pg_sleep(seconds)::text || current_setting('statement_timeout')
        $$;
        revoke execute on function public.ops_nap(float8) from public;
        grant execute on function public.ops_nap(float8) to federated_writer;`);
    } finally {
      await admin.end();
    }
    const hasty = await keygen(t, keyDir(), "ops-hasty");
    const patient = await keygen(t, keyDir(), "ops-patient");
    await register(t, ["--issuer", "ops-hasty", "--public-key", hasty.publicKey, "--db-role", "ops_hasty_writer"]);
    await register(t, ["--issuer", "ops-patient", "--public-key", patient.publicKey]);
    const nap = async (keys: { privateKey: string }, issuer: string, seconds: number) =>
      viaGateway(t, "rpc/ops_nap", await (await signer(keys, issuer)).sign(), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ seconds }),
      });
    // The stand-in's schema cache picks the new function up within its TTL, and the role's settings on the
    // reload notification (as PostgREST): wait for both, bounded.
    await vi.waitFor(async () => expect(await nap(hasty, "ops-hasty", 0)).toEqual({ status: 200, body: "200ms" }), {
      timeout: 15_000,
      interval: 250,
    });
    const cancelled = await nap(hasty, "ops-hasty", 1);
    expect({ status: cancelled.status, code: (cancelled.body as { code?: string }).code }).toEqual({ status: 500, code: "57014" });
    expect(await nap(patient, "ops-patient", 0.5)).toEqual({ status: 200, body: "8s" });
  });
});

import { describe, expect, it } from "vitest";
import { anon, authUser, run, serviceRole, useSupabaseDb, writer, type Outcome } from "../src/testing.ts";

// As on hosted Supabase: migrations applied by a non-superuser postgres, writer roles without the auth schema.
const { client } = useSupabaseDb({ hostedLayout: true });

const PEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----";

function errorCode(o: Outcome): string | undefined {
  return "error" in o ? o.error : undefined;
}

function addIssuer(issuer: string, extra: Record<string, unknown> = {}): Promise<Outcome> {
  const cols = ["issuer", ...Object.keys(extra)];
  const vals = [issuer, ...Object.values(extra)];
  return run(
    client(),
    serviceRole,
    `insert into public.jwt_issuers (${cols.join(", ")}) values (${cols.map((_, i) => `$${i + 1}`).join(", ")}) returning *`,
    vals,
    true,
  );
}

describe("registry access", () => {
  const principals = [
    ["anon", anon],
    ["a writer", writer("orders-service", ["orders_writer"])],
    ["a Supabase Auth user", authUser("8d0fd2b3-9ca1-4a58-8b0c-000000000001")],
  ] as const;

  it.each(principals)("%s cannot read jwt_issuers, jwt_public_keys, jwt_registry or the audit", async (_n, who) => {
    for (const table of ["jwt_issuers", "jwt_public_keys", "jwt_registry", "jwt_registry_audit"]) {
      const o = await run(client(), who, `select * from public.${table}`);
      expect(errorCode(o), table).toBe("42501");
    }
  });

  it.each(principals)("%s cannot insert, update or delete registry rows", async (_n, who) => {
    const statements = [
      `insert into public.jwt_issuers (issuer) values ('sneaky')`,
      `insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem) values ('x', 'k', 'ES256', '${PEM}')`,
      `update public.jwt_issuers set db_role = 'service_role'`,
      `update public.jwt_public_keys set is_active = true`,
      `delete from public.jwt_public_keys`,
      `delete from public.jwt_issuers`,
    ];
    for (const sql of statements) expect(errorCode(await run(client(), who, sql)), sql).toBe("42501");
  });

  it.each(principals)("%s cannot consume jtis or purge the replay table", async (_n, who) => {
    expect(errorCode(await run(client(), who, `select public.consume_jwt_id('a', 'b', now())`))).toBe("42501");
    expect(errorCode(await run(client(), who, `select * from federation.jti_replay`))).toBe("42501");
  });

  it("service_role manages issuers and keys, and reads the gateway's view", async () => {
    expect(errorCode(await addIssuer("svc-a", { allowed_roles: ["widgets_writer"], max_token_lifetime_seconds: 120 }))).toBeUndefined();
    const key = await run(
      client(),
      serviceRole,
      `insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem) values ('svc-a', 'k1', 'ES256', $1) returning id`,
      [PEM],
      true,
    );
    expect(errorCode(key)).toBeUndefined();
    const view = await run(client(), serviceRole, `select * from public.jwt_registry where issuer = 'svc-a'`);
    expect("rows" in view && view.rows).toEqual([
      expect.objectContaining({
        issuer: "svc-a",
        kid: "k1",
        alg: "ES256",
        usable: true,
        db_role: "federated_writer",
        db_role_valid: true,
        allowed_roles: ["widgets_writer"],
        max_token_lifetime_seconds: 120,
        require_jti: false,
      }),
    ]);
    // Deactivating the issuer makes every key unusable; deactivated_at is stamped.
    await run(client(), serviceRole, `update public.jwt_issuers set is_active = false where issuer = 'svc-a'`, [], true);
    const after = await run(client(), serviceRole, `select usable from public.jwt_registry where issuer = 'svc-a'`);
    expect("rows" in after && after.rows).toEqual([{ usable: false }]);
    const stamped = await run(
      client(),
      serviceRole,
      `select deactivated_at is not null as stamped from public.jwt_issuers where issuer = 'svc-a'`,
    );
    expect("rows" in stamped && stamped.rows).toEqual([{ stamped: true }]);
  });
});

describe("registry constraints", () => {
  it.each([
    "authenticated",
    "anon",
    "service_role",
    "postgres",
    "supabase_admin",
    "authenticator",
    "supabase_auth_admin",
    "pg_read_all_data",
    "no_such_role",
  ])("db_role %s is refused by the CHECK", async (role) => {
    const o = await addIssuer(`bad-${role.replace(/_/g, "-")}`, { db_role: role });
    expect(errorCode(o)).toBe("23514");
    expect("message" in o && o.message).toMatch(/jwt_issuers_db_role_writer/);
  });

  it("a custom role with BYPASSRLS, with SUPERUSER, one that can become service_role, or one that is not a writer role is refused", async () => {
    await client().query(`
      create role evil_bypass nologin bypassrls; grant federated_writer to evil_bypass;
      create role evil_super nologin superuser; grant federated_writer to evil_super;
      create role evil_member nologin; grant service_role, federated_writer to evil_member;
      create role evil_user nologin; grant authenticated, federated_writer to evil_user;
      create role evil_login login; grant federated_writer to evil_login;
      create role plain_role nologin;`);
    for (const role of ["evil_bypass", "evil_super", "evil_member", "evil_user", "evil_login", "plain_role"]) {
      expect(errorCode(await addIssuer(`x-${role.replace(/_/g, "-")}`, { db_role: role })), role).toBe("23514");
    }
    // A per-writer role made by federation.create_writer_role is a writer role.
    await client().query(`select federation.create_writer_role('custom_writer')`);
    expect(errorCode(await addIssuer("custom-role-writer", { db_role: "custom_writer" }))).toBeUndefined();
  });

  it("a writer role that borrows privileges or owns objects is not a writer role: predefined, service and login roles, owned table, function or schema", async () => {
    await client().query(`
      create role app_login login;
      create schema if not exists borrowed_owner_schema;`);
    const cases: Array<[string, string]> = [
      ["w_write_all", "grant pg_write_all_data to w_write_all"],
      ["w_read_all", "grant pg_read_all_data to w_read_all"],
      ["w_server_files", "grant pg_read_server_files to w_server_files"],
      ["w_auth_admin", "grant supabase_auth_admin to w_auth_admin"],
      ["w_login_member", "grant app_login to w_login_member"],
      ["w_owns_table", "create table public.w_owned (id int); alter table public.w_owned owner to w_owns_table"],
      [
        "w_owns_function",
        "create function public.w_owned_fn() returns int language sql as 'select 1'; alter function public.w_owned_fn() owner to w_owns_function",
      ],
      ["w_owns_schema", "alter schema borrowed_owner_schema owner to w_owns_schema"],
    ];
    for (const [role, grant] of cases) {
      await client().query(`select federation.create_writer_role('${role}')`);
      await client().query(grant);
      const o = await addIssuer(`x-${role.replace(/_/g, "-")}`, { db_role: role });
      expect(errorCode(o), role).toBe("23514");
      expect("message" in o && o.message, role).toMatch(/jwt_issuers_db_role_writer/);
    }
    // The same role without the extra grant is a writer role.
    await client().query(`select federation.create_writer_role('w_plain')`);
    expect(errorCode(await addIssuer("x-w-plain", { db_role: "w_plain" }))).toBeUndefined();
  });

  it.each([
    ["authenticated", "drifting_writer"],
    ["pg_write_all_data", "later_write_all"],
  ])("the view re-checks db_role at read time: a writer role granted %s afterwards is flagged", async (granted, role) => {
    const issuer = role.replace(/_/g, "-");
    await client().query(`select federation.create_writer_role('${role}')`);
    expect(errorCode(await addIssuer(issuer, { db_role: role }))).toBeUndefined();
    await run(
      client(),
      serviceRole,
      `insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem) values ($1, 'k', 'ES256', $2)`,
      [issuer, PEM],
      true,
    );
    const read = () => run(client(), serviceRole, `select db_role, db_role_valid from public.jwt_registry where issuer = $1`, [issuer]);
    expect(await read()).toEqual({ rows: [{ db_role: role, db_role_valid: true }] });
    await client().query(`grant ${granted} to ${role}`);
    expect(await read()).toEqual({ rows: [{ db_role: role, db_role_valid: false }] });
    await client().query(`revoke ${granted} from ${role}`);
    expect(await read()).toEqual({ rows: [{ db_role: role, db_role_valid: true }] });
  });

  it.each(["supabase", "supabase-demo", "my-supabase", "supabase.auth"])("the platform-like issuer name %s is refused", async (name) => {
    const o = await addIssuer(name);
    expect(errorCode(o)).toBe("23514");
    expect("message" in o && o.message).toMatch(/jwt_issuers_not_platform_issuer/);
  });

  it.each([
    ["expires_at = -infinity", "expires_at", "-infinity"],
    ["expires_at = infinity", "expires_at", "infinity"],
    ["not_before = infinity", "not_before", "infinity"],
    ["not_before = -infinity", "not_before", "-infinity"],
  ])("a key window with %s is refused", async (_label, column, value) => {
    await addIssuer("window-svc");
    const o = await run(
      client(),
      serviceRole,
      `insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem, ${column}) values ('window-svc', $1, 'ES256', $2, $3::timestamptz)`,
      [`k-${column}-${value}`, PEM, value],
      true,
    );
    expect(errorCode(o)).toBe("23514");
    expect("message" in o && o.message).toMatch(/jwt_public_keys_finite_window/);
  });

  it("usable folds the key window in at read time", async () => {
    await addIssuer("timed-svc");
    const add = (kid: string, nb: string | null, ex: string | null) =>
      run(
        client(),
        serviceRole,
        `insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem, not_before, expires_at) values ('timed-svc', $1, 'ES256', $2, $3, $4)`,
        [kid, PEM, nb, ex],
        true,
      );
    await add("past", null, "2000-01-01T00:00:00Z");
    await add("future", "2999-01-01T00:00:00Z", null);
    await add("now", "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z");
    const o = await run(client(), serviceRole, `select kid, usable from public.jwt_registry where issuer = 'timed-svc' order by kid`);
    expect(o).toEqual({
      rows: [
        { kid: "future", usable: false },
        { kid: "now", usable: true },
        { kid: "past", usable: false },
      ],
    });
  });

  it("anon and authenticated hold no privilege on the registry's sequences", async () => {
    const o = await client().query(`
      select s.relname, r.rolname, has_sequence_privilege(r.rolname, s.oid, 'USAGE,SELECT,UPDATE') as any
      from pg_class s, (values ('anon'), ('authenticated'), ('federated_writer')) r(rolname)
      where s.relkind = 'S' and s.relname in ('jwt_public_keys_id_seq', 'jwt_registry_audit_id_seq')`);
    expect(o.rows).toHaveLength(6);
    expect(o.rows.filter((r) => r.any)).toEqual([]);
  });

  it.each([
    ["an upper-case issuer", { issuer: "Orders" }],
    ["a lifetime over 3600 s", { issuer: "long-life", max_token_lifetime_seconds: 3601 }],
    ["a zero lifetime", { issuer: "zero-life", max_token_lifetime_seconds: 0 }],
    ["a bad app role name", { issuer: "bad-app-role", allowed_roles: ["has space"] }],
    ["a null app role", { issuer: "null-app-role", allowed_roles: [null] }],
  ])("refuses %s", async (_label, row) => {
    const { issuer, ...extra } = row;
    expect(errorCode(await addIssuer(issuer, extra))).toBe("23514");
  });

  it("unique (issuer, kid), and one JWKS row per issuer", async () => {
    await addIssuer("uniq-svc");
    const insert = (kid: string | null, source: string, value: string) =>
      run(
        client(),
        serviceRole,
        `insert into public.jwt_public_keys (issuer, kid, alg, ${source}) values ('uniq-svc', $1, 'ES256', $2)`,
        [kid, value],
        true,
      );
    expect(errorCode(await insert("k1", "public_key_pem", PEM))).toBeUndefined();
    expect(errorCode(await insert("k1", "public_key_pem", PEM))).toBe("23505");
    expect(errorCode(await insert("k2", "public_key_pem", PEM))).toBeUndefined();
    expect(errorCode(await insert(null, "jwks_uri", "https://writer.example/jwks.json"))).toBeUndefined();
    expect(errorCode(await insert(null, "jwks_uri", "https://writer.example/other.json"))).toBe("23505");
  });

  it.each([
    ["no key source", `null, null, null`, "k"],
    ["a PEM and a JWK", `'${PEM}', '{"kty":"EC"}'::jsonb, null`, "k"],
    ["a PEM and a JWKS URL", `'${PEM}', null, 'https://a.example/jwks'`, "k"],
    ["a JWK and a JWKS URL", `null, '{"kty":"EC"}'::jsonb, 'https://a.example/jwks'`, null],
    ["a private JWK", `null, '{"kty":"EC","d":"secret"}'::jsonb, null`, "k"],
    ["a JWKS URL with a kid", `null, null, 'https://a.example/jwks'`, "k"],
    ["a static key without a kid", `'${PEM}', null, null`, null],
    ["a plain-http JWKS URL off loopback", `null, null, 'http://a.example/jwks'`, null],
    ["a private PEM", `'-----BEGIN PRIVATE KEY-----x', null, null`, "k"],
  ])("exactly one key source holds: refuses %s", async (_label, values, kid) => {
    await addIssuer("one-of-svc");
    const o = await run(
      client(),
      serviceRole,
      `insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem, public_jwk, jwks_uri) values ('one-of-svc', $1, 'ES256', ${values})`,
      [kid],
    );
    expect(errorCode(o)).toBe("23514");
  });

  it.each(["HS256", "none", "ES384", "RS512"])("refuses alg %s", async (alg) => {
    await addIssuer("alg-svc");
    const o = await run(
      client(),
      serviceRole,
      `insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem) values ('alg-svc', 'k', $1, $2)`,
      [alg, PEM],
    );
    expect(errorCode(o)).toBe("23514");
  });

  it("a key for an unregistered issuer is refused (foreign key)", async () => {
    const o = await run(
      client(),
      serviceRole,
      `insert into public.jwt_public_keys (issuer, kid, alg, public_key_pem) values ('ghost', 'k', 'ES256', $1)`,
      [PEM],
    );
    expect(errorCode(o)).toBe("23503");
  });
});

describe("audit trail", () => {
  it("records insert, update and deactivate with the acting role, claims, old and new values", async () => {
    await addIssuer("audited-svc", { allowed_roles: ["a"] });
    const ctx = { role: "service_role", claims: { role: "service_role", sub: "ops-admin", iss: "supabase" } };
    await run(client(), ctx, `update public.jwt_issuers set allowed_roles = '{a,b}' where issuer = 'audited-svc'`, [], true);
    await run(client(), ctx, `update public.jwt_issuers set is_active = false where issuer = 'audited-svc'`, [], true);
    const { rows } = await client().query(
      `select actor_role, session_user_name, jwt_sub, operation, old_row, new_row
         from public.jwt_registry_audit where table_name = 'jwt_issuers' and coalesce(new_row, old_row) ->> 'issuer' = 'audited-svc'
        order by id`,
    );
    expect(rows.map((r) => r.operation)).toEqual(["INSERT", "UPDATE", "UPDATE"]);
    expect(rows[0]).toMatchObject({ actor_role: "service_role", session_user_name: "supabase_admin", old_row: null });
    expect(rows[1]).toMatchObject({ jwt_sub: "ops-admin" });
    expect(rows[1].old_row.allowed_roles).toEqual(["a"]);
    expect(rows[1].new_row.allowed_roles).toEqual(["a", "b"]);
    expect(rows[2].old_row.is_active).toBe(true);
    expect(rows[2].new_row.is_active).toBe(false);
    expect(rows[2].new_row.deactivated_at).not.toBeNull();
  });

  it("is append-only, even for the table owner", async () => {
    for (const sql of [
      "update public.jwt_registry_audit set actor_role = 'nobody'",
      "delete from public.jwt_registry_audit",
      "truncate public.jwt_registry_audit",
    ]) {
      await expect(client().query(sql), sql).rejects.toMatchObject({ code: "42501", message: expect.stringMatching(/append-only/) });
    }
  });

  it("service_role can read it but not write it", async () => {
    expect("rows" in (await run(client(), serviceRole, "select count(*) from public.jwt_registry_audit"))).toBe(true);
    const o = await run(
      client(),
      serviceRole,
      `insert into public.jwt_registry_audit (actor_role, session_user_name, table_name, operation) values ('x','x','x','INSERT')`,
    );
    expect(errorCode(o)).toBe("42501");
  });
});

describe("jti replay table", () => {
  it("accepts a jti once per issuer, then refuses the replay", async () => {
    const consume = (issuer: string, jti: string) =>
      run(client(), serviceRole, `select public.consume_jwt_id($1, $2, now() + interval '1 minute') as fresh`, [issuer, jti], true);
    expect(await consume("replay-svc", "j-1")).toEqual({ rows: [{ fresh: true }] });
    expect(await consume("replay-svc", "j-1")).toEqual({ rows: [{ fresh: false }] });
    expect(await consume("other-svc", "j-1")).toEqual({ rows: [{ fresh: true }] });
  });

  it("purges ids whose tokens expired", async () => {
    await run(client(), serviceRole, `select public.consume_jwt_id('purge-svc', 'old', now() - interval '1 hour')`, [], true);
    const purged = await run(client(), serviceRole, `select federation.purge_expired_jtis() as n`, [], true);
    expect("rows" in purged && (purged.rows[0]!.n as number)).toBeGreaterThanOrEqual(1);
    const left = await client().query(`select count(*)::int as n from federation.jti_replay where issuer = 'purge-svc'`);
    expect(left.rows[0].n).toBe(0);
  });
});

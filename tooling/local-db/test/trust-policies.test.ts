// The trust-policy migration, applied by the real Supabase CLI as on hosted Supabase: URL issuers and trust
// policies are service_role only, every template refusal comes with its reason, every change is audited,
// and trust_policies_for gives the gateway its read model.
import {
  MAX_URL_ISSUER_LIFETIME_SECONDS,
  PROVIDER_NAMES,
  PROVIDERS,
  type PolicyInput,
  policyProblems,
  URL_ISSUER_ALGS,
} from "@fedjwt/proxy";
import { describe, expect, it } from "vitest";
import { anon, authUser, run, serviceRole, useSupabaseDb, writer, type Outcome } from "../src/testing.ts";

const { client } = useSupabaseDb({ hostedLayout: true });

const GH = "https://token.actions.githubusercontent.com";
const OWNER = "74";
const REPO = "1296269";

function errorCode(o: Outcome): string | undefined {
  return "error" in o ? o.error : undefined;
}
function rows(o: Outcome): Record<string, unknown>[] {
  if ("error" in o) throw new Error(`${o.error} ${o.message}`);
  return o.rows;
}
function message(o: Outcome): string {
  return "message" in o ? o.message : "";
}

async function addWriter(name: string, extra = ""): Promise<void> {
  rows(
    await run(
      client(),
      serviceRole,
      `insert into public.jwt_issuers (issuer${extra ? ", allowed_roles" : ""}) values ($1${extra ? ", $2" : ""}) on conflict do nothing`,
      extra ? [name, [extra]] : [name],
      true,
    ),
  );
}

function addUrlIssuer(url: string, extra: Record<string, unknown> = {}): Promise<Outcome> {
  const row: Record<string, unknown> = { issuer_url: url, algs: ["RS256"], ...extra };
  const cols = Object.keys(row);
  const vals = Object.values(row);
  return run(
    client(),
    serviceRole,
    `insert into public.jwt_url_issuers (${cols.join(", ")}) values (${cols.map((_, i) => `$${i + 1}`).join(", ")}) on conflict do nothing returning *`,
    vals,
    true,
  );
}

function addPolicy(
  writerName: string,
  issuerUrl: string,
  provider: string,
  conditions: unknown,
  extra: Record<string, unknown> = {},
): Promise<Outcome> {
  const cols = ["writer", "issuer_url", "provider", "conditions", ...Object.keys(extra)];
  const vals = [writerName, issuerUrl, provider, JSON.stringify(conditions), ...Object.values(extra)];
  return run(
    client(),
    serviceRole,
    `insert into public.jwt_trust_policies (${cols.join(", ")}) values (${cols.map((_, i) => `$${i + 1}`).join(", ")}) returning id`,
    vals,
    true,
  );
}

describe("URL issuers", () => {
  it.each([
    ["plain http off loopback", { issuer_url: "http://issuer.example" }, /https/],
    ["a query", { issuer_url: "https://issuer.example/?tenant=x" }, /query or fragment/],
    ["user info", { issuer_url: "https://user@issuer.example" }, /user info/],
    ["Entra's common endpoint", { issuer_url: "https://login.microsoftonline.com/common/v2.0" }, /multi-tenant/],
    ["Entra's organizations endpoint", { issuer_url: "https://login.microsoftonline.com/organizations/v2.0" }, /multi-tenant/],
    ["a templated issuer", { issuer_url: "https://login.microsoftonline.com/{tenantid}/v2.0" }, /template/],
    ["a plain-http JWKS URL off loopback", { issuer_url: "https://jwks.example", jwks_uri: "http://jwks.example/keys" }, /https/],
  ])("refuses %s, with the reason", async (_label, row, reason) => {
    const { issuer_url, ...extra } = row;
    const o = await addUrlIssuer(issuer_url, extra);
    expect(errorCode(o)).toBe("23514");
    // The reason, with the CLI's code (issuer_not_allowed for Entra's shared issuers).
    expect(message(o)).toMatch(/^URL issuer refused: (issuer_url_invalid|issuer_not_allowed): /);
    expect(message(o)).toMatch(reason);
  });

  it.each([
    [
      "a lifetime over 5400 s",
      { max_lifetime_seconds: 5401 },
      "URL issuer refused: lifetime_invalid: the max lifetime is 1 to 5400 seconds",
    ],
    ["a clock tolerance over 300 s", { clock_tolerance_seconds: 301 }, "jwt_url_issuers_clock_tolerance_valid"],
    ["an unknown alg", { algs: ["RS256", "HS256"] }, "URL issuer refused: alg_not_allowed"],
    ["alg none", { algs: ["none"] }, "URL issuer refused: alg_not_allowed"],
    ["no alg", { algs: [] }, "URL issuer refused: alg_not_allowed"],
    ["an unknown token kind", { token_kind: "refresh_token" }, "token_kind"],
  ])("refuses %s", async (_label, extra, constraint) => {
    const o = await run(
      client(),
      serviceRole,
      `insert into public.jwt_url_issuers (issuer_url, algs, max_lifetime_seconds, clock_tolerance_seconds, token_kind)
       values ('https://shape.example', $1, $2, $3, $4)`,
      [
        (extra as { algs?: string[] }).algs ?? ["RS256"],
        (extra as { max_lifetime_seconds?: number }).max_lifetime_seconds ?? 3600,
        (extra as { clock_tolerance_seconds?: number }).clock_tolerance_seconds ?? 30,
        (extra as { token_kind?: string }).token_kind ?? "id_token",
      ],
    );
    expect(errorCode(o)).toBe("23514");
    expect(message(o)).toContain(constraint);
  });

  it("the CHECKs hold on their own (the trigger off): plain http, Entra's common issuer, a long lifetime, an unknown alg", async () => {
    await client().query("begin; alter table public.jwt_url_issuers disable trigger check_issuer");
    try {
      for (const [sql, constraint] of [
        ["insert into public.jwt_url_issuers (issuer_url, algs) values ('http://issuer.example', '{RS256}')", "jwt_url_issuers_url_valid"],
        [
          "insert into public.jwt_url_issuers (issuer_url, algs) values ('https://login.microsoftonline.com/common/v2.0', '{RS256}')",
          "jwt_url_issuers_url_valid",
        ],
        [
          "insert into public.jwt_url_issuers (issuer_url, algs, max_lifetime_seconds) values ('https://a.example', '{RS256}', 5401)",
          "jwt_url_issuers_lifetime_valid",
        ],
        ["insert into public.jwt_url_issuers (issuer_url, algs) values ('https://a.example', '{HS256}')", "jwt_url_issuers_algs_valid"],
      ] as const) {
        await client().query("savepoint s");
        await expect(client().query(sql), sql).rejects.toMatchObject({ code: "23514", constraint });
        await client().query("rollback to savepoint s");
      }
    } finally {
      await client().query("rollback");
    }
  });

  it("takes https issuers, loopback http issuers, the five algs and 5400 s", async () => {
    for (const url of ["https://gitlab.example.com", "http://127.0.0.1:8123", "http://localhost:9/issuer", "https://tenant.auth0.com/"]) {
      expect(errorCode(await addUrlIssuer(url)), url).toBeUndefined();
    }
    const o = await addUrlIssuer("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", {
      algs: ["ES256", "ES384", "RS256", "PS256", "EdDSA"],
      max_lifetime_seconds: 5400,
      token_kind: "access_token",
    });
    expect(errorCode(o)).toBeUndefined();
  });
});

describe("trust policy templates", () => {
  it("a github-actions policy pinned on owner and repository IDs is registered", async () => {
    await addWriter("ci-deployer");
    await addUrlIssuer(GH);
    const o = await addPolicy("ci-deployer", GH, "github-actions", {
      repository_owner_id: OWNER,
      repository_id: REPO,
      environment: "prod",
    });
    expect(errorCode(o)).toBeUndefined();
  });

  it.each([
    [
      "github-actions without repository_id",
      GH,
      "github-actions",
      { repository_owner_id: OWNER },
      /missing_pin: github-actions policies must pin repository_owner_id \+ repository_id/,
    ],
    [
      "github-actions pinned on a name",
      GH,
      "github-actions",
      { repository_owner_id: OWNER, repository: "octo-org/octo-repo" },
      /claim_not_pinnable: repository/,
    ],
    [
      "github-actions with a name in an ID claim",
      GH,
      "github-actions",
      { repository_owner_id: "octo-org", repository_id: REPO },
      /pin_value_invalid: repository_owner_id/,
    ],
    [
      "github-actions with a wildcard ID",
      GH,
      "github-actions",
      { repository_owner_id: OWNER, repository_id: "*" },
      /glob_not_allowed: .*repository_id/,
    ],
    [
      "a wildcard on a non-ID claim",
      GH,
      "github-actions",
      { repository_owner_id: OWNER, repository_id: REPO, ref: "refs/heads/*" },
      /glob_not_allowed: .*ref/,
    ],
    [
      "gitlab without project_id",
      "https://gitlab.com",
      "gitlab",
      { namespace_id: "42" },
      /missing_pin: gitlab policies must pin namespace_id \+ project_id/,
    ],
    [
      "kubernetes on the namespace alone",
      "https://k8s.example",
      "kubernetes",
      { namespace: "jobs" },
      /missing_pin: kubernetes policies must pin service_account_uid, or namespace \+ service_account_name/,
    ],
    [
      "kubernetes with a non-uid uid",
      "https://k8s.example",
      "kubernetes",
      { service_account_uid: "writer" },
      /pin_value_invalid: service_account_uid/,
    ],
    [
      "google on the email alone",
      "https://accounts.google.com",
      "google",
      { email: "w@p.iam.gserviceaccount.com" },
      /missing_pin: google policies must pin sub/,
    ],
    [
      "google with a non-numeric sub",
      "https://accounts.google.com",
      "google",
      { sub: "w@p.iam.gserviceaccount.com" },
      /pin_value_invalid: sub/,
    ],
    [
      "aws without the account",
      "https://abc.tokens.sts.global.api.aws",
      "aws",
      { sub: "arn:aws:iam::123456789012:role/w" },
      /missing_pin: aws policies must pin aws_account \+ sub/,
    ],
    [
      "entra without oid",
      "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
      "entra",
      { tid: "72f988bf-86f1-41af-91ab-2d7cd011db47" },
      /missing_pin: entra/,
    ],
    [
      "entra whose tid is not the issuer's tenant",
      "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
      "entra",
      { tid: "00000000-0000-4000-8000-000000000001", oid: "00000000-0000-4000-8000-000000000002" },
      /issuer_mismatch: tid/,
    ],
    [
      "entra on an issuer without a tenant",
      "http://127.0.0.1:47009/v2.0",
      "entra",
      { tid: "00000000-0000-4000-8000-000000000001", oid: "00000000-0000-4000-8000-000000000002" },
      /issuer_not_allowed: an Entra issuer names its tenant ID/,
    ],
    [
      "oauth-client without a client claim",
      "https://tenant.auth0.com/",
      "oauth-client",
      { scope: "write" },
      /missing_pin: oauth-client policies must pin sub/,
    ],
    [
      // client_id/azp/cid are in user-delegated tokens of that client too (sub = the user).
      "oauth-client pinning only the client, not its sub",
      "https://tenant.auth0.com/",
      "oauth-client",
      { client_id: "svc-a" },
      /missing_pin: oauth-client policies must pin sub/,
    ],
    ["custom with no condition", "https://tenant.auth0.com/", "custom", {}, /missing_pin: a custom policy pins at least one claim exactly/],
    ["custom on GitHub's shared issuer", GH, "custom", { ref: "refs/heads/main" }, /issuer_not_allowed: .*use provider github-actions/],
    ["oauth-client on Google's shared issuer", "https://accounts.google.com", "oauth-client", { sub: "123" }, /issuer_not_allowed/],
    [
      "an aud condition",
      GH,
      "github-actions",
      { repository_owner_id: OWNER, repository_id: REPO, aud: "x" },
      /claim_not_pinnable: aud is checked by the gateway/,
    ],
    [
      "a non-string value",
      GH,
      "github-actions",
      { repository_owner_id: 74, repository_id: REPO },
      /condition_value_invalid: repository_owner_id/,
    ],
    [
      "conditions that are not an object",
      GH,
      "github-actions",
      [["repository_id", REPO]],
      /conditions_invalid: conditions must be an object/,
    ],
    ["an unknown provider", GH, "jenkins", { repository_owner_id: OWNER }, /provider_check|unknown_provider/],
  ])("refuses %s, with the reason", async (_label, url, provider, conditions, reason) => {
    await addWriter("refused-writer");
    await addUrlIssuer(url);
    const o = await addPolicy("refused-writer", url, provider, conditions);
    expect(errorCode(o)).toBe("23514");
    expect(message(o)).toMatch(reason);
  });

  it("refuses allow_events outside the template's refused events, and --allow-self-hosted where runners mean nothing", async () => {
    await addWriter("events-writer");
    await addUrlIssuer(GH);
    await addUrlIssuer("https://accounts.google.com");
    const pins = { repository_owner_id: OWNER, repository_id: "99" };
    const bad = await addPolicy("events-writer", GH, "github-actions", pins, { allow_events: ["push"] });
    expect(message(bad)).toMatch(
      /allow_events_invalid: allow_events lifts only events github-actions refuses \(pull_request_target, workflow_run\)/,
    );
    const good = await addPolicy("events-writer", GH, "github-actions", pins, { allow_events: ["workflow_run"], allow_self_hosted: true });
    expect(errorCode(good)).toBeUndefined();
    const google = await addPolicy(
      "events-writer",
      "https://accounts.google.com",
      "google",
      { sub: "1234567890" },
      { allow_self_hosted: true },
    );
    expect(message(google)).toMatch(/allow_self_hosted_invalid: google has no runner rule/);
  });

  it("refuses a CI template on an access-token issuer, and turning an issuer with CI policies into one", async () => {
    await addWriter("kind-writer");
    await addUrlIssuer("https://as.example", { token_kind: "access_token" });
    const o = await addPolicy("kind-writer", "https://as.example", "kubernetes", {
      service_account_uid: "0d7f3a5e-1c2b-4d3e-8f9a-0b1c2d3e4f5a",
    });
    expect(message(o)).toMatch(/token_kind_not_allowed/);
    await addUrlIssuer("https://k8s-kind.example");
    expect(
      errorCode(
        await addPolicy("kind-writer", "https://k8s-kind.example", "kubernetes", {
          service_account_uid: "0d7f3a5e-1c2b-4d3e-8f9a-0b1c2d3e4f5a",
        }),
      ),
    ).toBeUndefined();
    const flip = await run(
      client(),
      serviceRole,
      "update public.jwt_url_issuers set token_kind = 'access_token' where issuer_url = 'https://k8s-kind.example'",
    );
    expect(message(flip)).toMatch(/token_kind_not_allowed/);
  });

  it("an update cannot drop a required pin", async () => {
    await addWriter("update-writer");
    await addUrlIssuer(GH);
    const id = rows(await addPolicy("update-writer", GH, "github-actions", { repository_owner_id: OWNER, repository_id: "5" }))[0]!.id;
    const o = await run(
      client(),
      serviceRole,
      "update public.jwt_trust_policies set conditions = conditions - 'repository_id' where id = $1",
      [id],
    );
    expect(message(o)).toMatch(/missing_pin/);
  });

  it("refuses a second active policy with the same conditions on the same issuer", async () => {
    await addWriter("dup-a");
    await addWriter("dup-b");
    await addUrlIssuer(GH);
    const pins = { repository_owner_id: OWNER, repository_id: "777" };
    expect(errorCode(await addPolicy("dup-a", GH, "github-actions", pins))).toBeUndefined();
    expect(errorCode(await addPolicy("dup-b", GH, "github-actions", pins))).toBe("23505");
  });

  it("a policy needs a registered writer and a registered URL issuer", async () => {
    await addUrlIssuer(GH);
    expect(errorCode(await addPolicy("ghost-writer", GH, "github-actions", { repository_owner_id: OWNER, repository_id: REPO }))).toBe(
      "23503",
    );
    await addWriter("fk-writer");
    expect(errorCode(await addPolicy("fk-writer", "https://not-registered.example", "custom", { sub: "x" }))).toBe("23503");
  });
});

describe("access", () => {
  const principals = [
    ["anon", anon],
    ["a writer", writer("orders-service", ["orders_writer"])],
    ["a Supabase Auth user", authUser("8d0fd2b3-9ca1-4a58-8b0c-000000000001")],
  ] as const;

  it.each(principals)("%s can neither read nor change URL issuers and trust policies, nor call their functions", async (_n, who) => {
    for (const sql of [
      "select * from public.jwt_url_issuers",
      "select * from public.jwt_trust_policies",
      `insert into public.jwt_url_issuers (issuer_url, algs) values ('https://evil.example', '{RS256}')`,
      `insert into public.jwt_trust_policies (writer, issuer_url, provider, conditions) values ('x', 'https://evil.example', 'custom', '{"sub":"x"}')`,
      "update public.jwt_trust_policies set is_active = true",
      "delete from public.jwt_trust_policies",
      "update public.jwt_url_issuers set algs = '{RS256}'",
      `select public.trust_policies_for('${GH}')`,
      "select * from public.trust_policy_usage_summary(now())",
    ]) {
      expect(errorCode(await run(client(), who, sql)), sql).toBe("42501");
    }
  });
});

describe("trust_policies_for", () => {
  it("gives the issuer and its active policies with their writers' policies; null for unknown, inactive or policy-less issuers", async () => {
    const url = "http://127.0.0.1:47001";
    await client().query("select federation.create_writer_role('ci_writer')");
    rows(
      await run(
        client(),
        serviceRole,
        `insert into public.jwt_issuers (issuer, db_role, allowed_roles, max_token_lifetime_seconds, require_jti, rate_limit_per_second, rate_limit_burst)
         values ('read-model-writer', 'ci_writer', '{widgets_writer}', 120, true, 5, 10), ('read-model-off', 'federated_writer', '{}', 300, false, null, null)`,
        [],
        true,
      ),
    );
    await addUrlIssuer(url, { jwks_uri: `${url}/jwks`, max_lifetime_seconds: 600, clock_tolerance_seconds: 10, algs: ["RS256", "ES256"] });
    const read = async (u: string) => rows(await run(client(), serviceRole, "select public.trust_policies_for($1) as r", [u]))[0]!.r;
    expect(await read(url)).toBeNull();
    // A JSON null (not SQL NULL): the Data API answers the body `null`, which the gateway reads as "no policy".
    expect(rows(await run(client(), serviceRole, "select public.trust_policies_for('https://nobody.example')::text as t"))).toEqual([
      { t: "null" },
    ]);
    const id = rows(
      await addPolicy(
        "read-model-writer",
        url,
        "github-actions",
        { repository_owner_id: OWNER, repository_id: "1" },
        { allow_events: ["workflow_run"] },
      ),
    )[0]!.id;
    const offId = rows(await addPolicy("read-model-off", url, "github-actions", { repository_owner_id: OWNER, repository_id: "2" }))[0]!.id;
    await run(client(), serviceRole, "update public.jwt_issuers set is_active = false where issuer = 'read-model-off'", [], true);
    const inactive = rows(
      await addPolicy("read-model-writer", url, "github-actions", { repository_owner_id: OWNER, repository_id: "3" }),
    )[0]!.id;
    await run(client(), serviceRole, "update public.jwt_trust_policies set is_active = false where id = $1", [inactive], true);
    expect(await read(url)).toEqual({
      issuer: {
        issuer_url: url,
        jwks_uri: `${url}/jwks`,
        token_kind: "id_token",
        algs: ["RS256", "ES256"],
        max_lifetime_seconds: 600,
        clock_tolerance_seconds: 10,
      },
      policies: [
        {
          id,
          writer: "read-model-writer",
          provider: "github-actions",
          conditions: { repository_owner_id: OWNER, repository_id: "1" },
          allow_self_hosted: false,
          allow_events: ["workflow_run"],
          writer_policy: {
            db_role: "ci_writer",
            db_role_valid: true,
            allowed_roles: ["widgets_writer"],
            max_token_lifetime_seconds: 120,
            require_jti: true,
            rate_limit_per_second: 5,
            rate_limit_burst: 10,
          },
        },
      ],
    });
    expect(offId).toBeTruthy();
    // Exact URL only: a trailing slash is another issuer.
    expect(await read(`${url}/`)).toBeNull();
    await run(client(), serviceRole, "update public.jwt_url_issuers set is_active = false where issuer_url = $1", [url], true);
    expect(await read(url)).toBeNull();
  });
});

describe("audit and usage", () => {
  it("every change to URL issuers and policies is in jwt_registry_audit with the actor", async () => {
    const url = "https://audit-issuer.example";
    const ctx = { role: "service_role", claims: { role: "service_role", sub: "ops-admin" } };
    await addWriter("audit-writer");
    await addUrlIssuer(url);
    const id = rows(await addPolicy("audit-writer", url, "custom", { sub: "svc-1" }))[0]!.id as string;
    await run(client(), ctx, "update public.jwt_trust_policies set is_active = false where id = $1", [id], true);
    await run(client(), ctx, "delete from public.jwt_trust_policies where id = $1", [id], true);
    const { rows: audit } = await client().query(
      `select table_name, operation, actor_role, jwt_sub, old_row, new_row from public.jwt_registry_audit
        where (table_name = 'jwt_trust_policies' and coalesce(new_row, old_row) ->> 'id' = $1)
           or (table_name = 'jwt_url_issuers' and coalesce(new_row, old_row) ->> 'issuer_url' = $2)
        order by id`,
      [id, url],
    );
    expect(audit.map((r) => `${r.table_name} ${r.operation}`)).toEqual([
      "jwt_url_issuers INSERT",
      "jwt_trust_policies INSERT",
      "jwt_trust_policies UPDATE",
      "jwt_trust_policies DELETE",
    ]);
    expect(audit[1]).toMatchObject({ actor_role: "service_role", old_row: null });
    expect(audit[1].new_row.conditions).toEqual({ sub: "svc-1" });
    expect(audit[2]).toMatchObject({ jwt_sub: "ops-admin" });
    expect(audit[2].new_row.deactivated_at).not.toBeNull();
    expect(audit[3].new_row).toBeNull();
  });

  it("trust_policy_usage_summary sums the gateway's (writer, policy:<id>) counts per policy", async () => {
    const url = "https://usage-issuer.example";
    await addWriter("usage-writer");
    await addUrlIssuer(url);
    const used = rows(await addPolicy("usage-writer", url, "custom", { sub: "a" }))[0]!.id as string;
    const idle = rows(await addPolicy("usage-writer", url, "custom", { sub: "b" }))[0]!.id as string;
    const batch = JSON.stringify([
      {
        issuer: "usage-writer",
        kid: `policy:${used}`,
        hour: "2026-12-07T10:00:00Z",
        requests: 4,
        errors: 1,
        last_seen_at: "2026-12-07T10:30:00Z",
      },
      {
        issuer: "usage-writer",
        kid: `policy:${used}`,
        hour: "2026-12-07T09:00:00Z",
        requests: 2,
        errors: 0,
        last_seen_at: "2026-12-07T09:10:00Z",
      },
      {
        issuer: "usage-writer",
        kid: "some-key",
        hour: "2026-12-07T10:00:00Z",
        requests: 50,
        errors: 0,
        last_seen_at: "2026-12-07T10:40:00Z",
      },
    ]);
    rows(await run(client(), serviceRole, "select public.record_key_usage($1::jsonb)", [batch], true));
    const summary = rows(
      await run(
        client(),
        serviceRole,
        "select policy_id, last_seen_at, requests::int, errors::int from public.trust_policy_usage_summary($1) where writer = 'usage-writer'",
        ["2026-12-07T10:00:00Z"],
      ),
    );
    expect(summary).toHaveLength(2);
    expect(summary.find((r) => r.policy_id === used)).toEqual({
      policy_id: used,
      last_seen_at: new Date("2026-12-07T10:30:00Z"),
      requests: 4,
      errors: 1,
    });
    expect(summary.find((r) => r.policy_id === idle)).toEqual({ policy_id: idle, last_seen_at: null, requests: 0, errors: 0 });
  });
});

describe("the registry's templates are the gateway's (packages/proxy/src/providers.ts)", () => {
  it.each(PROVIDER_NAMES)(
    "%s: required pins, pinnable claims and their shapes, names refused, events, runner rule, token kinds",
    async (name) => {
      const template = PROVIDERS[name];
      const { rows: sql } = await client().query("select federation.trust_policy_template($1) as t", [name]);
      const t = sql[0].t as {
        required_pins: string[][];
        claims: Record<string, string | null> | null;
        not_pinnable: string[];
        refused_events: string[];
        runner_rule: boolean;
        token_kinds: string[];
      };
      expect(t.required_pins).toEqual(template.requiredPins);
      // Claims a policy may pin: the template's claims less the names it refuses.
      const pinnable = Object.fromEntries(
        Object.entries(template.claims)
          .filter(([claim]) => !Object.hasOwn(template.notPinnable, claim))
          .map(([claim, spec]) => [claim, spec.shape ? spec.shape.pattern.source : null]),
      );
      expect(t.claims ?? {}).toEqual(pinnable);
      expect([...t.not_pinnable].sort()).toEqual(Object.keys(template.notPinnable).sort());
      expect(t.refused_events).toEqual(template.events?.refused ?? []);
      expect(t.runner_rule).toBe(template.runner !== null);
      expect([...t.token_kinds].sort()).toEqual([...template.tokenKinds].sort());
    },
  );

  it("unknown providers, algs and the lifetime cap agree", async () => {
    const { rows } = await client().query(
      `select federation.trust_policy_template('jenkins') as unknown,
              pg_get_constraintdef(c.oid) as algs
         from pg_constraint c where c.conname = 'jwt_url_issuers_algs_valid'`,
    );
    expect(rows[0].unknown).toBeNull();
    for (const alg of URL_ISSUER_ALGS) expect(rows[0].algs).toContain(`'${alg}'`);
    expect(rows[0].algs.match(/'[A-Za-z0-9]+'/g)).toHaveLength(URL_ISSUER_ALGS.length);
    const cap = await run(
      client(),
      serviceRole,
      "insert into public.jwt_url_issuers (issuer_url, algs, max_lifetime_seconds) values ('https://cap.example', '{RS256}', $1)",
      [MAX_URL_ISSUER_LIFETIME_SECONDS],
    );
    expect(errorCode(cap)).toBeUndefined();
  });

  // The same policies through both checks: the first word of the database's refusal is policyProblems()'s code.
  const cases: Array<[string, PolicyInput]> = [
    ["pins complete", { provider: "github-actions", issuerUrl: GH, conditions: { repository_owner_id: OWNER, repository_id: REPO } }],
    ["a missing pin", { provider: "gitlab", issuerUrl: "https://gitlab.com", conditions: { namespace_id: "1" } }],
    [
      "a renamable name",
      { provider: "github-actions", issuerUrl: GH, conditions: { repository_owner_id: OWNER, repository_id: REPO, repository: "o/r" } },
    ],
    [
      "an unknown claim",
      { provider: "google", issuerUrl: "https://accounts.google.com", conditions: { sub: "1234567890", hd: "example.com" } },
    ],
    [
      "a name beside the pin",
      {
        provider: "google",
        issuerUrl: "https://accounts.google.com",
        conditions: { sub: "1234567890", email: "w@p.iam.gserviceaccount.com" },
      },
    ],
    [
      "a wildcard",
      { provider: "kubernetes", issuerUrl: "https://k8s.example", conditions: { namespace: "a*", service_account_name: "w" } },
    ],
    ["a bracket pattern", { provider: "custom", issuerUrl: "https://custom.example", conditions: { sub: "svc-[0-9]" } }],
    [
      "a bad ID shape",
      { provider: "aws", issuerUrl: "https://aws.example", conditions: { aws_account: "12345", sub: "arn:aws:iam::123456789012:role/w" } },
    ],
    [
      "entra common",
      {
        provider: "entra",
        issuerUrl: "https://login.microsoftonline.com/common/v2.0",
        conditions: { tid: "00000000-0000-4000-8000-000000000001", oid: "00000000-0000-4000-8000-000000000002" },
      },
    ],
    [
      "an event no template refuses",
      { provider: "gitlab", issuerUrl: "https://gitlab.com", conditions: { namespace_id: "1", project_id: "2" }, allowEvents: ["push"] },
    ],
    [
      "self-hosted where there is no runner rule",
      { provider: "gitlab", issuerUrl: "https://gitlab.com", conditions: { namespace_id: "1", project_id: "2" }, allowSelfHosted: true },
    ],
    [
      "an access-token issuer for a CI template",
      {
        provider: "kubernetes",
        issuerUrl: "https://k8s.example",
        conditions: { service_account_uid: "0d7f3a5e-1c2b-4d3e-8f9a-0b1c2d3e4f5a" },
        tokenKind: "access_token",
      },
    ],
  ];
  it.each(cases)("%s: same verdict, same code", async (_label, input) => {
    const js = policyProblems(input);
    const { rows } = await client().query("select federation.trust_policy_problem($1, $2, $3, $4, $5, $6) as p", [
      input.provider,
      input.issuerUrl,
      JSON.stringify(input.conditions),
      input.allowSelfHosted ?? false,
      input.allowEvents ?? [],
      input.tokenKind ?? "id_token",
    ]);
    const problem = rows[0].p as string | null;
    expect(problem === null, `${problem} vs ${JSON.stringify(js)}`).toBe(js.length === 0);
    if (problem !== null) expect(js.map((p) => p.code)).toContain(problem.split(":")[0]);
  });
});

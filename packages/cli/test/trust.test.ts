// fedjwt trust / untrust on the CLI side: conditions, the checks made before any request (the same as the
// registry's), the words printed about what a policy admits, and doctor's discovery/JWKS probe against real
// loopback servers.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuerRow, TrustPolicyRow, UrlIssuerRow } from "../src/registry-client.ts";
import { describePolicy, parseConditions, platformOf, probeUrlIssuer, trustProblems, type TrustInput } from "../src/trust.ts";
import { fedjwt } from "./helpers.ts";

const GH = "https://token.actions.githubusercontent.com";
const base: TrustInput = {
  provider: "github-actions",
  issuerUrl: GH,
  conditions: { repository_owner_id: "74", repository_id: "1296269" },
  allowSelfHosted: false,
  allowEvents: [],
  tokenKind: "id_token",
  algs: ["RS256"],
  maxLifetimeSeconds: 900,
  audience: "https://prod-abc123.supabase.co",
};
const codes = (input: Partial<TrustInput>) => trustProblems({ ...base, ...input }).map((p) => p.code);

describe("conditions and checks", () => {
  it("--claim name=value, the value taken whole (it may hold '='); a claim twice or without '=' is refused", () => {
    expect(parseConditions(["repository_id=1", "ref=refs/heads/a=b"])).toEqual({ repository_id: "1", ref: "refs/heads/a=b" });
    expect(() => parseConditions(["repository_id"])).toThrow(/must be name=value/);
    expect(() => parseConditions(["=1"])).toThrow(/must be name=value/);
    expect(() => parseConditions(["ref=a", "ref=b"])).toThrow(/given twice/);
  });

  it("refuses what the templates refuse, each with its code", () => {
    expect(codes({})).toEqual([]);
    expect(codes({ conditions: { repository_owner_id: "74" } })).toEqual(["missing_pin"]);
    expect(codes({ conditions: { ...base.conditions, repository: "octo-org/octo" } })).toEqual(["claim_not_pinnable"]);
    expect(codes({ conditions: { repository_owner_id: "octo-org", repository_id: "1" } })).toEqual(["pin_value_invalid"]);
    expect(codes({ conditions: { ...base.conditions, ref: "refs/heads/*" } })).toEqual(["glob_not_allowed"]);
    expect(codes({ allowEvents: ["push"] })).toEqual(["allow_events_invalid"]);
    expect(codes({ tokenKind: "access_token" })).toEqual(["token_kind_not_allowed"]);
    expect(codes({ algs: ["HS256"] })).toEqual(["alg_not_allowed"]);
    expect(codes({ maxLifetimeSeconds: 5401 })).toEqual(["lifetime_invalid"]);
    expect(codes({ issuerUrl: "http://issuer.example" })).toEqual(["issuer_url_invalid"]);
    expect(codes({ audience: "https://github.com/octo-org" })).toEqual(["shared_audience"]);
    expect(codes({ audience: "sts.amazonaws.com" })).toEqual(["shared_audience"]);
    expect(
      codes({
        provider: "entra",
        issuerUrl: "https://login.microsoftonline.com/common/v2.0",
        conditions: { tid: "00000000-0000-4000-8000-000000000001", oid: "00000000-0000-4000-8000-000000000002" },
        tokenKind: "access_token",
      }),
    ).toContain("issuer_not_allowed");
  });

  it("a platform's shared issuer belongs to its own template (as in the registry): custom on GitHub's issuer is refused", () => {
    expect(platformOf(GH)).toBe("github-actions");
    expect(platformOf(`${GH}/my-enterprise`)).toBe("github-actions");
    expect(platformOf("https://gitlab.com")).toBe("gitlab");
    expect(platformOf("https://gitlab.example.com")).toBeUndefined();
    expect(codes({ provider: "custom", conditions: { ref: "refs/heads/main" } })).toEqual(["issuer_not_allowed"]);
  });
});

describe("what a policy admits, in words", () => {
  const issuer: UrlIssuerRow = {
    issuer_url: GH,
    jwks_uri: null,
    token_kind: "id_token",
    algs: ["RS256"],
    max_lifetime_seconds: 900,
    clock_tolerance_seconds: 30,
    description: null,
    is_active: true,
    created_at: "2026-12-07T00:00:00Z",
  };
  const writer: IssuerRow = {
    issuer: "ci-deployer",
    description: null,
    db_role: "federated_writer",
    allowed_roles: ["widgets_writer"],
    max_token_lifetime_seconds: 300,
    require_jti: false,
    rate_limit_per_second: null,
    rate_limit_burst: null,
    is_active: true,
    created_at: "2026-12-07T00:00:00Z",
  };
  const policy = (extra: Partial<TrustPolicyRow> = {}): TrustPolicyRow => ({
    id: "5b0f8a0e-4a4b-4f39-9d57-2f0f6c1f3c11",
    writer: "ci-deployer",
    issuer_url: GH,
    provider: "github-actions",
    conditions: { repository_owner_id: "74", repository_id: "1296269" },
    allow_self_hosted: false,
    allow_events: [],
    description: null,
    is_active: true,
    created_at: "2026-12-07T00:00:00Z",
    ...extra,
  });

  it("every check, in the gateway's order, and what is left open", () => {
    expect(describePolicy(policy(), issuer, writer, "https://prod-abc123.supabase.co")).toEqual([
      "It admits GitHub Actions OIDC tokens only when all of this holds:",
      "  - iss is exactly https://token.actions.githubusercontent.com (keys from its OIDC discovery document); it is an ID token (typ absent or JWT) signed with RS256, at most 900 s long",
      "  - aud is exactly https://prod-abc123.supabase.co, and nothing else",
      '  - repository_owner_id = "74"  (an immutable ID: a renamed or recreated namesake does not match)',
      '  - repository_id = "1296269"  (an immutable ID: a renamed or recreated namesake does not match)',
      "  - event_name is not pull_request_target or workflow_run (refused by the template)",
      "  - runner_environment = github-hosted (self-hosted runners are refused)",
      'It writes as writer "ci-deployer": db_role=federated_writer, allowed_roles=[widgets_writer], rate limit none.',
      "Every branch, tag, environment and workflow of that project is admitted: add --claim ref=… or --claim environment=… to narrow it.",
      "Any other token from this issuer is refused (403 no_matching_policy).",
    ]);
  });

  it("lifted refusals and nested claims are named", () => {
    const lines = describePolicy(
      policy({
        allow_events: ["workflow_run"],
        allow_self_hosted: true,
        conditions: { ...policy().conditions, environment: "production" },
      }),
      issuer,
      writer,
    );
    expect(lines).toContain("  - event_name is not pull_request_target (refused by the template)");
    expect(lines).toContain("  - event_name workflow_run is admitted although the template refuses it (--allow-event)");
    expect(lines).toContain("  - any runner: self-hosted runners are admitted too (--allow-self-hosted)");
    expect(lines.some((l) => l.startsWith("Every branch"))).toBe(false);
    const k8s = describePolicy(
      policy({ provider: "kubernetes", conditions: { namespace: "jobs", service_account_name: "batch" } }),
      { ...issuer, issuer_url: "https://k8s.example" },
      writer,
    );
    expect(k8s).toContain('  - namespace (claim kubernetes.io → namespace) = "jobs"');
  });
});

describe("doctor's probe of a URL issuer (real loopback servers)", () => {
  let server: Server;
  let url: string;
  let discoveryIssuer = "";
  let jwks: unknown = { keys: [{ kty: "RSA", kid: "k1", n: "xx", e: "AQAB" }] };
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/.well-known/openid-configuration")
        res.end(JSON.stringify({ issuer: discoveryIssuer || url, jwks_uri: `${url}/jwks` }));
      else if (req.url === "/jwks") res.end(JSON.stringify(jwks));
      else {
        res.statusCode = 404;
        res.end("{}");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  const row = (extra: Partial<UrlIssuerRow> = {}): UrlIssuerRow => ({
    issuer_url: url,
    jwks_uri: null,
    token_kind: "id_token",
    algs: ["RS256"],
    max_lifetime_seconds: 900,
    clock_tolerance_seconds: 30,
    description: null,
    is_active: true,
    created_at: "",
    ...extra,
  });

  it("ok when discovery names the issuer exactly and the JWKS holds a key for its algs", async () => {
    expect(await probeUrlIssuer(row())).toEqual({ issuer: url, ok: true, message: `1 usable key(s) at ${url}/jwks` });
  });

  it("fails when discovery names another issuer (a trailing slash counts), when the JWKS has no key for the algs, or nothing answers", async () => {
    discoveryIssuer = `${url}/`;
    expect((await probeUrlIssuer(row())).message).toBe(`discovery names issuer "${url}/", not ${url} exactly`);
    discoveryIssuer = "";
    expect((await probeUrlIssuer(row({ algs: ["ES256"] }))).message).toBe(`${url}/jwks holds no public key for ES256`);
    jwks = { keys: [] };
    expect((await probeUrlIssuer(row({ jwks_uri: `${url}/jwks` }))).message).toBe(`${url}/jwks holds no keys`);
    expect((await probeUrlIssuer(row({ issuer_url: `${url}/nothing` }))).message).toMatch(/^discovery: .* answered HTTP 404$/);
    jwks = { keys: [{ kty: "RSA", kid: "k1", n: "xx", e: "AQAB" }] };
  });
});

describe("doctor's probe of a discovery document someone else serves", () => {
  const issuerUrl = "https://idp.example.test";
  const row: UrlIssuerRow = {
    issuer_url: issuerUrl,
    jwks_uri: null,
    token_kind: "id_token",
    algs: ["RS256"],
    max_lifetime_seconds: 900,
    clock_tolerance_seconds: 30,
    description: null,
    is_active: true,
    created_at: "",
  };
  /** A fetch that answers discovery with `jwksUri` and any other URL with a JWKS holding one RSA key. */
  const serving =
    (jwksUri: string): typeof fetch =>
    // deno-lint-ignore require-await -- typed as fetch, which returns a promise
    async (input) =>
      new Response(
        JSON.stringify(
          String(input).endsWith("/.well-known/openid-configuration")
            ? { issuer: issuerUrl, jwks_uri: jwksUri }
            : { keys: [{ kty: "RSA", kid: "k1", n: "xx", e: "AQAB" }] },
        ),
        { headers: { "content-type": "application/json" } },
      );

  it("a jwks_uri the gateway refuses (http off loopback) is a problem, not ok", async () => {
    const probe = await probeUrlIssuer(row, serving("http://keys.example.test/jwks"));
    expect(probe.ok).toBe(false);
    expect(probe.message).toMatch(/jwks_uri .*https/);
  });

  it("an endless discovery document is cut at 512 KiB, not read into memory", async () => {
    let pulled = 0;
    // deno-lint-ignore require-await -- typed as fetch, which returns a promise
    const endless: typeof fetch = async () =>
      new Response(
        new ReadableStream({
          pull(c) {
            pulled++;
            c.enqueue(new Uint8Array(64 * 1024).fill(32));
          },
        }),
        { headers: { "content-type": "application/json" } },
      );
    const probe = await probeUrlIssuer(row, endless);
    expect(probe).toMatchObject({ ok: false, message: expect.stringMatching(/larger than 512 KiB/) });
    expect(pulled).toBeLessThan(16);
  });

  it("control characters in the document's jwks_uri never reach the operator's terminal", async () => {
    const probe = await probeUrlIssuer(row, serving("https://keys.example.test/jwks\u001b]0;owned\u0007\u001b[2K\u009b31m"));
    // deno-lint-ignore no-control-regex -- no control character may reach the terminal
    expect(probe.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});

describe("the command line", () => {
  const env = { SUPABASE_URL: "http://127.0.0.1:9", SUPABASE_SERVICE_ROLE_KEY: "sb_secret_x" };
  it("refuses before any request, in one line with the reason: missing pin, unknown template, shared audience, no issuer URL", () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ["--claim", "repository_owner_id=74"],
        /^fedjwt trust: refused: missing_pin: github-actions policies must pin repository_owner_id \+ repository_id\n$/,
      ],
      [["--claim", "repository_owner_id=74", "--claim", "repository_id=1", "--audience", "https://github.com/octo-org"], /shared_audience/],
    ];
    for (const [extra, pattern] of cases) {
      const r = fedjwt(["trust", "--writer", "ci", "--provider", "github-actions", ...extra], { env });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
    const unknown = fedjwt(["trust", "--writer", "ci", "--provider", "jenkins", "--claim", "a=b"], { env });
    expect(unknown.stderr).toMatch(/--provider "jenkins" is not a template: one of github-actions, gitlab/);
    const k8s = fedjwt(["trust", "--writer", "ci", "--provider", "kubernetes", "--claim", "namespace=a"], { env });
    expect(k8s.stderr).toMatch(/--issuer-url is required for kubernetes: the cluster's --service-account-issuer/);
    const untrust = fedjwt(["untrust", "--writer", "ci", "--policy", "not-a-uuid"], { env });
    expect(untrust.code).toBe(2);
    expect(untrust.stderr).toMatch(/is not a policy id/);
  });

  it("--help lists the templates' required pins and the writer flags register has", () => {
    const r = fedjwt(["trust", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/github-actions +repository_owner_id \+ repository_id/);
    expect(r.stdout).toMatch(/kubernetes +service_account_uid, or namespace \+ service_account_name/);
    for (const flag of ["--db-role", "--allowed-role", "--rate-limit", "--allow-self-hosted", "--allow-event", "--issuer-url", "--claim"])
      expect(r.stdout).toContain(flag);
    expect(fedjwt(["--help"]).stdout).toMatch(/trust +let a workload write with its own platform token/);
  });
});

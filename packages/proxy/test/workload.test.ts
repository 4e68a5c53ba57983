// Workload identity tokens (URL issuers + trust policies) through verifyMultiIssuerJwt and outboundClaims,
// in-process: provider-shaped tokens for every template, signed by test providers whose JWKS and discovery
// documents the fake project serves.
import { beforeEach, describe, expect, it } from "vitest";
import { DiscoveryCache } from "../src/discovery.ts";
import { JwtVerificationError, ProxyError } from "../src/errors.ts";
import { JwksPool } from "../src/jwks.ts";
import { outboundClaims } from "../src/outbound.ts";
import { policyProblems } from "../src/providers.ts";
import { cachedRegistry, postgrestRegistry } from "../src/registry.ts";
import {
  AUDIENCE,
  DEFAULT_POLICY,
  FakeProject,
  githubClaims,
  SERVICE_KEY,
  SUPABASE_URL,
  TestIdp,
  trustPolicy,
  urlIssuer,
} from "../src/testing.ts";
import { cachedTrustRegistry, postgrestTrustRegistry } from "../src/trust-registry.ts";
import type { TrustPolicyRow, UrlIssuer } from "../src/trust-registry.ts";
import { uuidV5 } from "../src/uuid.ts";
import { verifyMultiIssuerJwt } from "../src/verify.ts";

const GH = "https://token.actions.githubusercontent.com";
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID = "0e5a2ab4-6b4c-4d3b-9f0f-1c2d3e4f5a6b";

let project: FakeProject;
let nowMs: number;

function gateway(options: { discoveryNow?: () => number } = {}) {
  const access = { supabaseUrl: SUPABASE_URL, serviceKey: SERVICE_KEY, fetch: project.fetch };
  const registry = cachedRegistry(postgrestRegistry(access));
  const trust = cachedTrustRegistry(postgrestTrustRegistry(access));
  const jwks = new JwksPool({ fetch: project.fetch });
  const discovery = new DiscoveryCache({ fetch: project.fetch, now: options.discoveryNow ?? Date.now });
  return {
    trust,
    verify: (token: string) => verifyMultiIssuerJwt(token, { registry, audience: AUDIENCE, jwks, trust, discovery }),
  };
}

/** Registers a provider: its JWKS at a URL of its own, the URL issuer, and the policies. */
function register(idp: TestIdp, policies: TrustPolicyRow[], patch: Partial<UrlIssuer> = {}, jwksUri = `${idp.issuerUrl}/jwks-${idp.kid}`) {
  project.jwks.set(jwksUri, { body: idp.jwks() });
  project.trust.set(idp.issuerUrl, { issuer: urlIssuer(idp.issuerUrl, jwksUri, { algs: [idp.alg as "RS256"], ...patch }), policies });
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; status: number; details: string | null; log?: unknown }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ProxyError) return { code: e.reason, status: e.status, details: e.details, log: e.logDetails };
    throw e;
  }
  throw new Error("accepted");
}

const code = async (p: Promise<unknown>) => (await refusal(p)).code;

beforeEach(() => {
  project = new FakeProject();
  nowMs = Date.now();
});

describe("github-actions", () => {
  let idp: TestIdp;
  let policy: TrustPolicyRow;
  beforeEach(async () => {
    idp = await TestIdp.create(GH);
    policy = trustPolicy("ci-deploy", "github-actions", { repository_owner_id: "74", repository_id: "1296269" });
    register(idp, [policy]);
  });

  it("admits the pinned repository as the policy's writer; outbound claims carry only the allow-list", async () => {
    const g = gateway();
    const v = await g.verify(await idp.sign(githubClaims()));
    expect(v.issuer).toBe("ci-deploy");
    expect(v.kid).toBe(`policy:${policy.id}`);
    expect(v.roles).toEqual(DEFAULT_POLICY.allowed_roles);
    const out = await outboundClaims(v, nowMs);
    expect(out.sub).toBe(await uuidV5(`${GH}\nrepository_owner_id=74\nrepository_id=1296269`));
    expect(out).toMatchObject({
      iss: "ci-deploy",
      role: "federated_writer",
      aud: "authenticated",
      writer_sub: "repo:octo-org/octo-repo:ref:refs/heads/main",
      writer_kid: `policy:${policy.id}`,
      app_roles: ["widgets_writer"],
      fedjwt_gateway: 1,
    });
    expect(Object.keys(out).sort()).toEqual(
      ["iss", "sub", "writer_sub", "writer_kid", "role", "aud", "app_roles", "fedjwt_gateway", "writer_claims", "iat", "exp"].sort(),
    );
    expect(out.writer_claims).toEqual({
      repository: "octo-org/octo-repo",
      repository_id: "1296269",
      ref: "refs/heads/main",
      sha: "d6b4b3c3a1e0f5e2c0a7d5e8f9a0b1c2d3e4f5a6",
      event_name: "push",
      workflow: "deploy",
      run_id: "6287356523",
      run_attempt: "1",
      runner_environment: "github-hosted",
      trust_policy: policy.id,
      issuer_url: GH,
    });
    expect((out.exp as number) - (out.iat as number)).toBeLessThanOrEqual(60);
  });

  it("a renamed repository and owner keep the same outbound sub", async () => {
    const g = gateway();
    const before = await outboundClaims(await g.verify(await idp.sign(githubClaims())), nowMs);
    const renamed = await g.verify(
      await idp.sign(
        githubClaims({
          repository: "new-owner/new-name",
          repository_owner: "new-owner",
          sub: "repo:new-owner/new-name:ref:refs/heads/main",
        }),
      ),
    );
    const after = await outboundClaims(renamed, nowMs);
    expect(after.sub).toBe(before.sub);
    expect((after.writer_claims as Record<string, unknown>).repository).toBe("new-owner/new-name");
  });

  it("resurrection: the same repository name with another repository_id (or owner id) is refused", async () => {
    const g = gateway();
    expect(await refusal(g.verify(await idp.sign(githubClaims({ repository_id: "99999999" }))))).toMatchObject({
      code: "no_matching_policy",
      status: 403,
      details: null,
    });
    expect(await code(g.verify(await idp.sign(githubClaims({ repository_owner_id: "75" }))))).toBe("no_matching_policy");
    expect(await code(g.verify(await idp.sign(githubClaims({ repository_id: undefined }))))).toBe("no_matching_policy");
  });

  it("numeric IDs sent as JSON numbers match the same pins", async () => {
    const v = await gateway().verify(await idp.sign(githubClaims({ repository_id: 1296269, repository_owner_id: 74 })));
    expect(v.issuer).toBe("ci-deploy");
  });

  it.each(["pull_request_target", "workflow_run"])("event %s is refused (event_not_allowed), unless the policy lifts it", async (event) => {
    const g = gateway();
    expect(await refusal(g.verify(await idp.sign(githubClaims({ event_name: event }))))).toMatchObject({
      code: "event_not_allowed",
      status: 403,
    });
    project.trust.get(GH)!.policies[0]!.allow_events = [event];
    const lifted = gateway();
    expect((await lifted.verify(await idp.sign(githubClaims({ event_name: event })))).issuer).toBe("ci-deploy");
  });

  it("an event refused for a repository no policy pins is still event_not_allowed (the code says nothing about policies)", async () => {
    expect(await code(gateway().verify(await idp.sign(githubClaims({ event_name: "workflow_run", repository_id: "5" }))))).toBe(
      "event_not_allowed",
    );
  });

  it("self-hosted runners (or no runner_environment) are refused unless allow_self_hosted", async () => {
    const g = gateway();
    expect(await code(g.verify(await idp.sign(githubClaims({ runner_environment: "self-hosted" }))))).toBe("runner_not_allowed");
    expect(await code(g.verify(await idp.sign(githubClaims({ runner_environment: undefined }))))).toBe("runner_not_allowed");
    project.trust.get(GH)!.policies[0]!.allow_self_hosted = true;
    expect((await gateway().verify(await idp.sign(githubClaims({ runner_environment: "self-hosted" })))).issuer).toBe("ci-deploy");
  });

  it("a lifted event from a self-hosted runner is still refused for the runner", async () => {
    project.trust.get(GH)!.policies[0]!.allow_events = ["workflow_run"];
    const token = await idp.sign(githubClaims({ event_name: "workflow_run", runner_environment: "self-hosted" }));
    expect(await code(gateway().verify(token))).toBe("runner_not_allowed");
  });

  it("optional exact pins: environment, ref, job_workflow_ref", async () => {
    project.trust.get(GH)!.policies = [
      trustPolicy("ci-deploy", "github-actions", {
        repository_owner_id: "74",
        repository_id: "1296269",
        environment: "production",
        ref: "refs/heads/main",
        job_workflow_ref: "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
      }),
    ];
    const g = gateway();
    expect((await g.verify(await idp.sign(githubClaims({ environment: "production" })))).issuer).toBe("ci-deploy");
    expect(await code(g.verify(await idp.sign(githubClaims())))).toBe("no_matching_policy");
    expect(await code(g.verify(await idp.sign(githubClaims({ environment: "Production" }))))).toBe("no_matching_policy");
    expect(await code(g.verify(await idp.sign(githubClaims({ environment: "production", ref: "refs/heads/dev" }))))).toBe(
      "no_matching_policy",
    );
  });

  it("two policies admitting one token: ambiguous_policy, the policies named only in the log", async () => {
    const second = trustPolicy("ci-other", "github-actions", {
      repository_owner_id: "74",
      repository_id: "1296269",
      environment: "production",
    });
    project.trust.get(GH)!.policies.push(second);
    const g = gateway();
    const r = await refusal(g.verify(await idp.sign(githubClaims({ environment: "production" }))));
    expect(r).toMatchObject({ code: "ambiguous_policy", status: 403, details: null });
    expect((r.log as { policies: string[] }).policies.sort()).toEqual([policy.id, second.id].sort());
    // Without that environment only the first admits it.
    expect((await g.verify(await idp.sign(githubClaims()))).issuer).toBe("ci-deploy");
  });

  it("at+jwt to an ID-token issuer: token_kind_mismatch", async () => {
    expect(await refusal(gateway().verify(await idp.sign(githubClaims(), { typ: "at+jwt" })))).toMatchObject({
      code: "token_kind_mismatch",
      status: 401,
    });
  });

  it("audiences: GitHub's default audience, another project, several audiences", async () => {
    const g = gateway();
    expect(await code(g.verify(await idp.sign(githubClaims({ aud: "https://github.com/octo-org" }))))).toBe("audience_mismatch");
    expect(await code(g.verify(await idp.sign(githubClaims({ aud: "https://other.supabase.co" }))))).toBe("audience_mismatch");
    expect(await code(g.verify(await idp.sign(githubClaims({ aud: [AUDIENCE, "https://github.com/octo-org"] }))))).toBe(
      "multiple_audiences",
    );
    expect(await code(g.verify(await idp.sign(githubClaims({ aud: undefined }))))).toBe("claim_missing");
    expect((await g.verify(await idp.sign(githubClaims({ aud: [AUDIENCE] })))).issuer).toBe("ci-deploy");
  });

  it("lifetime over the issuer's max, expired, not yet valid", async () => {
    const g = gateway();
    expect(await code(g.verify(await idp.sign(githubClaims(), {}, 901)))).toBe("lifetime_too_long");
    const now = Math.floor(Date.now() / 1000);
    expect(await code(g.verify(await idp.sign(githubClaims({ iat: now - 400, exp: now - 100 }))))).toBe("token_expired");
    expect(await code(g.verify(await idp.sign(githubClaims({ iat: now + 120, exp: now + 300 }))))).toBe("token_not_yet_valid");
    // Within the issuer's clock tolerance (30 s): GitHub's clock runs a little ahead.
    expect((await g.verify(await idp.sign(githubClaims({ iat: now + 5, nbf: now - 595, exp: now + 300 })))).issuer).toBe("ci-deploy");
  });

  it("another key under the same kid (a forged token): bad_signature; an alg the issuer does not use: alg_not_allowed", async () => {
    const forger = await TestIdp.create(GH, "RS256", idp.kid);
    expect(await code(gateway().verify(await forger.sign(githubClaims())))).toBe("bad_signature");
    const es = await TestIdp.create(GH, "ES256", idp.kid);
    expect(await code(gateway().verify(await es.sign(githubClaims())))).toBe("alg_not_allowed");
  });

  it("provider claims never pass as gateway claims: role, roles, app_roles in the token change nothing", async () => {
    const v = await gateway().verify(
      await idp.sign(githubClaims({ role: "service_role", roles: ["admin"], app_roles: ["admin"], writer_sub: "x" })),
    );
    const out = await outboundClaims(v, nowMs);
    expect(out.role).toBe("federated_writer");
    expect(out.app_roles).toEqual(["widgets_writer"]);
    expect(out.writer_sub).toBe("repo:octo-org/octo-repo:ref:refs/heads/main");
    expect(JSON.stringify(out.writer_claims)).not.toContain("admin");
  });

  it("control characters or lone surrogates in sub, jti or an allow-listed claim: token_malformed (Postgres refuses NUL)", async () => {
    const g = gateway();
    expect(await code(g.verify(await idp.sign(githubClaims({ sub: "repo:a\u0000b" }))))).toBe("token_malformed");
    expect(await code(g.verify(await idp.sign(githubClaims({ jti: "j\ud800" }))))).toBe("token_malformed");
    const v = await g.verify(await idp.sign(githubClaims({ repository: "octo-org/x\u0000y" })));
    expect(await code(outboundClaims(v, nowMs))).toBe("token_malformed");
    // A claim outside the allow-list is never copied, so it cannot break anything.
    await outboundClaims(await g.verify(await idp.sign(githubClaims({ actor: "a\u0000" }))), nowMs);
  });

  it("a writer whose db_role is not a writer role is refused (db_role_refused)", async () => {
    project.trust.get(GH)!.policies[0]!.writer_policy = { ...DEFAULT_POLICY, db_role: "service_role", db_role_valid: false };
    expect(await code(gateway().verify(await idp.sign(githubClaims())))).toBe("db_role_refused");
  });

  it("a writer that requires a jti: each token once (token_replayed)", async () => {
    project.trust.get(GH)!.policies[0]!.writer_policy = { ...DEFAULT_POLICY, require_jti: true };
    const g = gateway();
    const token = await idp.sign(githubClaims());
    expect((await g.verify(token)).issuer).toBe("ci-deploy");
    expect(await code(g.verify(token))).toBe("token_replayed");
    expect(await code(g.verify(await idp.sign(githubClaims({ jti: undefined }))))).toBe("claim_missing");
    expect(project.consumed.has(`ci-deploy\n${JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).jti}`)).toBe(
      true,
    );
  });

  it("a GitHub Enterprise issuer is another issuer: its tokens need its own policies", async () => {
    const ent = await TestIdp.create(`${GH}/octo-enterprise`);
    expect(await code(gateway().verify(await ent.sign(githubClaims())))).toBe("unknown_issuer");
    register(ent, [trustPolicy("ci-deploy", "github-actions", { repository_owner_id: "74", repository_id: "1296269" })]);
    const out = await outboundClaims(await gateway().verify(await ent.sign(githubClaims())), nowMs);
    expect(out.sub).toBe(await uuidV5(`${GH}/octo-enterprise\nrepository_owner_id=74\nrepository_id=1296269`));
  });
});

describe("unknown URL issuers", () => {
  it("a token naming an issuer URL with no enabled policy: unknown_issuer, remembered (no registry read per request)", async () => {
    const idp = await TestIdp.create("https://idp.unknown.example");
    const g = gateway();
    for (let i = 0; i < 20; i++) expect(await code(g.verify(await idp.sign({ aud: AUDIENCE, sub: "x" })))).toBe("unknown_issuer");
    expect(project.trustReads).toBe(0);
    expect(project.urlIssuerListReads).toBe(1);
    expect(project.jwksFetches + project.discoveryFetches).toBe(0);
  });

  it("a registered URL issuer whose every policy is disabled: unknown_issuer, and the answer is cached", async () => {
    const idp = await TestIdp.create("https://idp.disabled.example");
    register(idp, []);
    const g = gateway();
    for (let i = 0; i < 5; i++) expect(await code(g.verify(await idp.sign({ aud: AUDIENCE, sub: "x" })))).toBe("unknown_issuer");
    expect(project.trustReads).toBe(1);
  });

  it.each([
    "http://idp.example.com",
    "https://idp.example.com/?x=1",
    "https://idp.example.com/\nforged",
    "https://idp.exa mple.com",
    `https://${"a".repeat(600)}.example`,
    "ftp://x",
  ])("an iss that is not a URL issuer nor a writer name (%s): unknown_issuer, no registry read", async (iss) => {
    const idp = await TestIdp.create("https://idp.example.com");
    expect(await code(gateway().verify(await idp.sign({ iss, aud: AUDIENCE, sub: "x" })))).toBe("unknown_issuer");
    expect(project.trustReads + project.urlIssuerListReads).toBe(0);
  });
});

describe("other templates", () => {
  it("gitlab: namespace_id + project_id; a renamed project keeps its sub; another project is refused", async () => {
    const idp = await TestIdp.create("https://gitlab.example.com");
    register(idp, [trustPolicy("gl-writer", "gitlab", { namespace_id: "72", project_id: "20", ref_protected: "true" })]);
    const claims = {
      aud: AUDIENCE,
      sub: "project_path:group/project:ref_type:branch:ref:main",
      namespace_id: "72",
      namespace_path: "group",
      project_id: "20",
      project_path: "group/project",
      ref: "main",
      ref_type: "branch",
      ref_protected: "true",
      user_email: "dev@example.com",
      pipeline_source: "push",
    };
    const g = gateway();
    const a = await outboundClaims(await g.verify(await idp.sign(claims)), nowMs);
    const b = await outboundClaims(
      await g.verify(await idp.sign({ ...claims, project_path: "group/renamed", namespace_path: "g2" })),
      nowMs,
    );
    expect(a.sub).toBe(b.sub);
    expect(a.writer_claims).not.toHaveProperty("user_email");
    expect(await code(g.verify(await idp.sign({ ...claims, project_id: "21" })))).toBe("no_matching_policy");
    expect(await code(g.verify(await idp.sign({ ...claims, ref_protected: "false" })))).toBe("no_matching_policy");
    // GitLab tokens may come from self-hosted runners: the template has no runner rule.
    expect((await g.verify(await idp.sign({ ...claims, runner_environment: "self-hosted" }))).issuer).toBe("gl-writer");
  });

  it("kubernetes: namespace + service account name in kubernetes.io; another namespace or cluster is refused", async () => {
    const idp = await TestIdp.create("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC");
    const uid = "a1b2c3d4-0000-4000-8000-000000000001";
    register(idp, [trustPolicy("k8s-writer", "kubernetes", { namespace: "prod", service_account_name: "writer" })]);
    const claims = (ns: string, name: string, saUid = uid) => ({
      aud: AUDIENCE,
      sub: `system:serviceaccount:${ns}:${name}`,
      "kubernetes.io": { namespace: ns, serviceaccount: { name, uid: saUid }, pod: { name: "writer-7d9f", uid: crypto.randomUUID() } },
    });
    const g = gateway();
    const out = await outboundClaims(await g.verify(await idp.sign(claims("prod", "writer"), {}, 600)), nowMs);
    expect(out.writer_claims).toMatchObject({
      namespace: "prod",
      service_account_name: "writer",
      service_account_uid: uid,
      pod_name: "writer-7d9f",
    });
    expect(await code(g.verify(await idp.sign(claims("dev", "writer"))))).toBe("no_matching_policy");
    expect(await code(g.verify(await idp.sign(claims("prod", "other"))))).toBe("no_matching_policy");
    // A top-level claim of the same name is not the kubernetes.io one.
    expect(await code(g.verify(await idp.sign({ aud: AUDIENCE, sub: "x", namespace: "prod", service_account_name: "writer" })))).toBe(
      "no_matching_policy",
    );
    const other = await TestIdp.create("https://oidc.eks.us-east-1.amazonaws.com/id/XYZ");
    expect(await code(g.verify(await other.sign(claims("prod", "writer"))))).toBe("unknown_issuer");
  });

  it("kubernetes: a policy pinned to the service account uid refuses a recreated account of the same name", async () => {
    const idp = await TestIdp.create("https://k8s.example.com");
    const uid = "a1b2c3d4-0000-4000-8000-000000000002";
    register(idp, [trustPolicy("k8s-writer", "kubernetes", { service_account_uid: uid })]);
    const claims = (saUid: string) => ({
      aud: AUDIENCE,
      sub: "system:serviceaccount:prod:writer",
      "kubernetes.io": { namespace: "prod", serviceaccount: { name: "writer", uid: saUid } },
    });
    const g = gateway();
    const out = await outboundClaims(await g.verify(await idp.sign(claims(uid))), nowMs);
    expect(out.sub).toBe(await uuidV5(`https://k8s.example.com\nservice_account_uid=${uid}`));
    expect(await code(g.verify(await idp.sign(claims("a1b2c3d4-0000-4000-8000-000000000003"))))).toBe("no_matching_policy");
  });

  it("google: the numeric sub; a recreated service account with the same e-mail is refused", async () => {
    const idp = await TestIdp.create("https://accounts.google.com");
    register(idp, [trustPolicy("gcp-writer", "google", { sub: "113942720139840104727" })]);
    const g = gateway();
    const email = "writer@proj.iam.gserviceaccount.com";
    expect((await g.verify(await idp.sign({ aud: AUDIENCE, sub: "113942720139840104727", email, email_verified: true }))).issuer).toBe(
      "gcp-writer",
    );
    expect(await code(g.verify(await idp.sign({ aud: AUDIENCE, sub: "100000000000000000001", email, email_verified: true })))).toBe(
      "no_matching_policy",
    );
  });

  it("aws: ES384 GetWebIdentityToken tokens, account + sub under https://sts.amazonaws.com/", async () => {
    const idp = await TestIdp.create("https://abc123.tokens.sts.global.api.aws", "ES384");
    const arn = "arn:aws:iam::123456789012:role/writer";
    register(idp, [trustPolicy("aws-writer", "aws", { aws_account: "123456789012", sub: arn })], { algs: ["RS256", "ES384"] });
    const claims = (account: string, tags: Record<string, string> = {}) => ({
      aud: AUDIENCE,
      sub: arn,
      "https://sts.amazonaws.com/": { aws_account: account, source_region: "eu-west-1", principal_id: arn, request_tags: tags },
    });
    const g = gateway();
    const out = await outboundClaims(await g.verify(await idp.sign(claims("123456789012"), { typ: undefined })), nowMs);
    expect(out.writer_claims).toMatchObject({ aws_account: "123456789012", sub: arn, source_region: "eu-west-1" });
    expect(out.writer_claims).not.toHaveProperty("request_tags");
    expect(await code(g.verify(await idp.sign(claims("210987654321"))))).toBe("no_matching_policy");
    // A top-level aws_account (the caller cannot write it, but a provider could) is not the namespaced one.
    expect(await code(g.verify(await idp.sign({ aud: AUDIENCE, sub: arn, aws_account: "123456789012" })))).toBe("no_matching_policy");
  });

  it("entra: tid + oid on a tenant issuer, access tokens typed JWT living 65 minutes", async () => {
    const idp = await TestIdp.create(`https://login.microsoftonline.com/${TENANT}/v2.0`);
    register(idp, [trustPolicy("entra-writer", "entra", { tid: TENANT, oid: OID })], {
      token_kind: "access_token",
      max_lifetime_seconds: 5400,
    });
    const g = gateway();
    const claims = { aud: AUDIENCE, sub: "pairwise-sub", tid: TENANT, oid: OID, azp: "11111111-2222-3333-4444-555555555555", idtyp: "app" };
    expect((await g.verify(await idp.sign(claims, {}, 3900))).issuer).toBe("entra-writer");
    expect(await code(g.verify(await idp.sign({ ...claims, oid: "0e5a2ab4-6b4c-4d3b-9f0f-1c2d3e4f5a6c" })))).toBe("no_matching_policy");
    expect(await code(g.verify(await idp.sign(claims, {}, 5401)))).toBe("lifetime_too_long");
  });

  it("oauth-client: RFC 9068 at+jwt access tokens on an access-token issuer, pinned by client_id", async () => {
    const idp = await TestIdp.create("https://tenant.auth.example/", "ES256");
    register(idp, [trustPolicy("svc-writer", "oauth-client", { sub: "svc-a", client_id: "svc-a" })], {
      token_kind: "access_token",
      algs: ["ES256"],
    });
    const g = gateway();
    const at = (client: string) =>
      idp.sign({ aud: AUDIENCE, sub: client, client_id: client, scope: "write", jti: crypto.randomUUID() }, { typ: "at+jwt" });
    const out = await outboundClaims(await g.verify(await at("svc-a")), nowMs);
    expect(out.writer_claims).toMatchObject({ client_id: "svc-a", sub: "svc-a", scope: "write" });
    expect(await code(g.verify(await at("svc-b")))).toBe("no_matching_policy");
    expect(
      (await g.verify(await idp.sign({ aud: AUDIENCE, sub: "svc-a", client_id: "svc-a" }, { typ: "application/at+jwt" }))).issuer,
    ).toBe("svc-writer");
    expect(await code(g.verify(await idp.sign({ aud: AUDIENCE, sub: "svc-a", client_id: "svc-a" }, { typ: "dpop+jwt" })))).toBe(
      "typ_not_allowed",
    );
  });

  it("oauth-client: a user's access token issued to the pinned client is not the client; the client's sub is a required pin", async () => {
    // Auth0, Okta, Keycloak and RFC 9068 servers put the client in client_id/azp/cid of every token they issue
    // to it, user-delegated ones included (sub = the user): a policy on the client alone admits every user who
    // signs in through that client with this project's audience.
    const idp = await TestIdp.create("https://shared-tenant.auth.example/", "ES256");
    const user = { aud: AUDIENCE, sub: "auth0|alice", client_id: "svc-a", azp: "svc-a", scope: "openid write" };
    const client = { aud: AUDIENCE, sub: "svc-a", client_id: "svc-a", azp: "svc-a", scope: "write" };
    for (const pin of ["client_id", "azp"] as const) {
      expect(
        policyProblems({ provider: "oauth-client", issuerUrl: idp.issuerUrl, conditions: { [pin]: "svc-a" } }).map((p) => p.code),
      ).toEqual(["missing_pin"]);
      // A registry that still holds such a policy: the gateway's own check never lets it admit a token.
      register(idp, [trustPolicy("svc-writer", "oauth-client", { [pin]: "svc-a" })], { token_kind: "access_token", algs: ["ES256"] });
      expect(await code(gateway().verify(await idp.sign(user, { typ: "at+jwt" })))).toBe("no_matching_policy");
    }
    register(idp, [trustPolicy("svc-writer", "oauth-client", { sub: "svc-a", client_id: "svc-a" })], {
      token_kind: "access_token",
      algs: ["ES256"],
    });
    const g = gateway();
    expect((await g.verify(await idp.sign(client, { typ: "at+jwt" }))).issuer).toBe("svc-writer");
    expect(await code(g.verify(await idp.sign(user, { typ: "at+jwt" })))).toBe("no_matching_policy");
  });

  it("custom: PS256, any exact pin; the pins and sub are the writer claims", async () => {
    const idp = await TestIdp.create("https://idp.example.com", "PS256");
    register(idp, [trustPolicy("custom-writer", "custom", { team_id: "t-1" })], { algs: ["PS256"] });
    const g = gateway();
    const out = await outboundClaims(await g.verify(await idp.sign({ aud: AUDIENCE, sub: "svc", team_id: "t-1", secret: "s" })), nowMs);
    expect(out.writer_claims).toEqual({
      sub: "svc",
      team_id: "t-1",
      trust_policy: expect.any(String),
      issuer_url: "https://idp.example.com",
    });
    expect(await code(g.verify(await idp.sign({ aud: AUDIENCE, sub: "svc", team_id: "t-2" })))).toBe("no_matching_policy");
  });

  it("a CI template policy on an access-token issuer never admits (the registry refuses it too): token_kind_mismatch", async () => {
    const idp = await TestIdp.create("https://mixed.example.com");
    register(idp, [trustPolicy("ci", "github-actions", { repository_owner_id: "74", repository_id: "1296269" })], {
      token_kind: "access_token",
    });
    const r = await refusal(gateway().verify(await idp.sign(githubClaims())));
    expect(r.code).toBe("token_kind_mismatch");
    expect(r.log).toMatchObject({ refused_policies: [{ reason: "token_kind_mismatch" }] });
  });
});

describe("discovery", () => {
  const ISS = "https://discovery.example.com";
  let idp: TestIdp;
  beforeEach(async () => {
    idp = await TestIdp.create(ISS);
    project.trust.set(ISS, { issuer: urlIssuer(ISS, null), policies: [trustPolicy("d-writer", "custom", { sub: "svc" })] });
    project.jwks.set("https://keys.discovery.example.com/jwks", { body: idp.jwks() });
  });

  it("takes jwks_uri from /.well-known/openid-configuration, once while the document is fresh", async () => {
    project.discovery.set(`${ISS}/.well-known/openid-configuration`, {
      body: { issuer: ISS, jwks_uri: "https://keys.discovery.example.com/jwks" },
    });
    const g = gateway();
    for (let i = 0; i < 3; i++) expect((await g.verify(await idp.sign({ aud: AUDIENCE, sub: "svc" }))).issuer).toBe("d-writer");
    expect(project.discoveryFetches).toBe(1);
  });

  it.each([
    ["another issuer", `${ISS}/`],
    ["a prefix", "https://discovery.example.co"],
    ["no issuer", undefined],
  ])("a document naming %s: 503 discovery_issuer_mismatch, with both values for the log", async (_what, docIssuer) => {
    project.discovery.set(`${ISS}/.well-known/openid-configuration`, {
      body: { issuer: docIssuer, jwks_uri: "https://keys.discovery.example.com/jwks" },
    });
    const r = await refusal(gateway().verify(await idp.sign({ aud: AUDIENCE, sub: "svc" })));
    expect(r).toMatchObject({ code: "discovery_issuer_mismatch", status: 503 });
    expect(r.log).toEqual({ registered_issuer: ISS, document_issuer: docIssuer ?? null });
    expect(project.jwksFetches).toBe(0);
  });

  it.each([
    ["unreachable", { fail: true }],
    ["a 500", { raw: () => new Response("oops", { status: 500 }) }],
    ["a redirect", { raw: () => new Response(null, { status: 302, headers: { location: "https://evil.example/" } }) }],
    ["not JSON", { raw: () => new Response("<html>") }],
    ["oversized", { raw: () => new Response(JSON.stringify({ issuer: ISS, jwks_uri: "https://k/j", pad: "x".repeat(70_000) })) }],
    ["an http jwks_uri", { body: { issuer: ISS, jwks_uri: "http://keys.discovery.example.com/jwks" } }],
    ["no jwks_uri", { body: { issuer: ISS } }],
  ])("a discovery document that is %s: 503 discovery_unavailable", async (_what, entry) => {
    project.discovery.set(`${ISS}/.well-known/openid-configuration`, entry as { body: unknown });
    expect(await refusal(gateway().verify(await idp.sign({ aud: AUDIENCE, sub: "svc" })))).toMatchObject({
      code: "discovery_unavailable",
      status: 503,
    });
  });

  it("a stale document that cannot be refetched is an error, never a reason to keep trusting it", async () => {
    let now = Date.now();
    project.discovery.set(`${ISS}/.well-known/openid-configuration`, {
      body: { issuer: ISS, jwks_uri: "https://keys.discovery.example.com/jwks" },
      cacheControl: "max-age=60",
    });
    const g = gateway({ discoveryNow: () => now });
    expect((await g.verify(await idp.sign({ aud: AUDIENCE, sub: "svc" }))).issuer).toBe("d-writer");
    project.discovery.get(`${ISS}/.well-known/openid-configuration`)!.fail = true;
    now += 61_000;
    expect(await code(g.verify(await idp.sign({ aud: AUDIENCE, sub: "svc" })))).toBe("discovery_unavailable");
    // Fail-fast within the cooldown: no second fetch.
    const fetches = project.discoveryFetches;
    expect(await code(g.verify(await idp.sign({ aud: AUDIENCE, sub: "svc" })))).toBe("discovery_unavailable");
    expect(project.discoveryFetches).toBe(fetches);
  });

  it("an unreachable or oversized JWKS: 503 jwks_unavailable / jwks_too_large", async () => {
    project.discovery.set(`${ISS}/.well-known/openid-configuration`, {
      body: { issuer: ISS, jwks_uri: "https://keys.discovery.example.com/jwks" },
    });
    project.jwks.get("https://keys.discovery.example.com/jwks")!.fail = true;
    expect(await code(gateway().verify(await idp.sign({ aud: AUDIENCE, sub: "svc" })))).toBe("jwks_unavailable");
    project.jwks.set("https://keys.discovery.example.com/jwks", { body: { keys: Array(40).fill(idp.publicJwk) } });
    expect(await code(gateway().verify(await idp.sign({ aud: AUDIENCE, sub: "svc" })))).toBe("jwks_too_large");
  });

  it("the registry unreachable: 503 registry_unavailable, not unknown_issuer", async () => {
    project.registryMode = "down";
    expect(await code(gateway().verify(await idp.sign({ aud: AUDIENCE, sub: "svc" })))).toBe("registry_unavailable");
  });
});

describe("errors carry nothing for the caller", () => {
  it("no_matching_policy and ambiguous_policy have no details; JwtVerificationError names the claimed issuer URL for the log", async () => {
    const idp = await TestIdp.create(GH);
    register(idp, [trustPolicy("ci", "github-actions", { repository_owner_id: "74", repository_id: "1" })]);
    try {
      await gateway().verify(await idp.sign(githubClaims()));
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(JwtVerificationError);
      expect((e as JwtVerificationError).details).toBeNull();
      expect((e as JwtVerificationError).issuer).toBe(GH);
    }
  });
});

import { describe, expect, it } from "vitest";
import {
  assertValidPolicy,
  audienceProblems,
  claimValue,
  identityClaims,
  isSharedDefaultAudience,
  issuerUrlProblems,
  POLICY_PROBLEM_CODES,
  PolicyError,
  type PolicyInput,
  policyProblems,
  PROVIDER_NAMES,
  PROVIDERS,
  subjectName,
  templateRefusal,
  urlIssuerProblems,
  writerClaimNames,
} from "../src/providers.ts";

const GH = "https://token.actions.githubusercontent.com";
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID = "0e5a2ab4-6b4c-4d3b-9f0f-1c2d3e4f5a6b";

/** One valid policy per template. */
const VALID: Record<(typeof PROVIDER_NAMES)[number], PolicyInput> = {
  "github-actions": { provider: "github-actions", issuerUrl: GH, conditions: { repository_owner_id: "74", repository_id: "1296269" } },
  gitlab: { provider: "gitlab", issuerUrl: "https://gitlab.com", conditions: { namespace_id: "72", project_id: "20" } },
  kubernetes: {
    provider: "kubernetes",
    issuerUrl: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
    conditions: { namespace: "prod", service_account_name: "writer" },
  },
  google: { provider: "google", issuerUrl: "https://accounts.google.com", conditions: { sub: "113942720139840104727" } },
  aws: {
    provider: "aws",
    issuerUrl: "https://abc123.tokens.sts.global.api.aws",
    conditions: { aws_account: "123456789012", sub: "arn:aws:iam::123456789012:role/writer" },
  },
  entra: { provider: "entra", issuerUrl: `https://login.microsoftonline.com/${TENANT}/v2.0`, conditions: { tid: TENANT, oid: OID } },
  "oauth-client": {
    provider: "oauth-client",
    issuerUrl: "https://tenant.auth0.com/",
    conditions: { sub: "abc@clients", azp: "abc" },
    tokenKind: "access_token",
  },
  custom: { provider: "custom", issuerUrl: "https://idp.example.com", conditions: { team_id: "t-1" } },
};

const codes = (input: PolicyInput) => policyProblems(input).map((p) => p.code);

describe("provider templates", () => {
  it.each(PROVIDER_NAMES)("%s: a policy with its required pins is valid", (name) => {
    expect(policyProblems(VALID[name])).toEqual([]);
    expect(() => assertValidPolicy(VALID[name])).not.toThrow();
  });

  it("every template names itself, and its required pins, writer claims and refusal claims are claims it knows", () => {
    for (const name of PROVIDER_NAMES) {
      const t = PROVIDERS[name];
      expect(t.name).toBe(name);
      for (const alt of t.requiredPins)
        for (const c of alt)
          expect(t.claims[c]?.kind, `${name}.${c}`).toBe(c === "namespace" || c === "service_account_name" ? "context" : "id");
      for (const c of t.writerClaims) if (name !== "custom") expect(t.claims[c], `${name}.${c}`).toBeDefined();
      if (t.events) expect(t.claims[t.events.claim]).toBeDefined();
      if (t.runner) expect(t.claims[t.runner.claim]).toBeDefined();
      for (const c of Object.keys(t.notPinnable))
        expect(Object.hasOwn(t.claims, c) && t.claims[c]!.kind === "id", `${name}.${c}`).toBe(false);
    }
  });

  it("the CI and cloud templates accept ID tokens only; the OAuth and Entra templates access tokens too", () => {
    for (const name of ["github-actions", "gitlab", "kubernetes", "google", "aws"] as const) {
      expect(PROVIDERS[name].tokenKinds).toEqual(["id_token"]);
      expect(codes({ ...VALID[name], tokenKind: "access_token" })).toEqual(["token_kind_not_allowed"]);
    }
    expect(codes({ ...VALID["oauth-client"], tokenKind: "access_token" })).toEqual([]);
    expect(codes({ ...VALID.entra, tokenKind: "access_token" })).toEqual([]);
  });

  it("the GitHub writer_claims allow-list is exactly the documented one", () => {
    expect(PROVIDERS["github-actions"].writerClaims).toEqual([
      "repository",
      "repository_id",
      "ref",
      "sha",
      "environment",
      "event_name",
      "workflow",
      "run_id",
      "run_attempt",
      "runner_environment",
    ]);
    expect(PROVIDERS.gitlab.writerClaims).not.toContain("user_email");
  });
});

describe("policyProblems refuses", () => {
  it("an unknown provider", () => {
    expect(codes({ ...VALID.custom, provider: "github" })).toEqual(["unknown_provider"]);
    expect(codes({ ...VALID.custom, provider: "" })).toEqual(["unknown_provider"]);
  });

  it.each([null, [], "repository_id=1", 5, [["repository_id", "1"]]])("conditions that are not an object: %j", (conditions) => {
    expect(codes({ ...VALID["github-actions"], conditions })).toEqual(["conditions_invalid"]);
  });

  it("more than 16 conditions", () => {
    const conditions: Record<string, string> = {};
    for (let i = 0; i < 17; i++) conditions[`c${i}`] = "x";
    expect(codes({ ...VALID.custom, conditions })).toContain("conditions_invalid");
  });

  it.each([
    ["github-actions", { repository_owner_id: "74" }],
    ["github-actions", { repository_id: "1296269" }],
    ["github-actions", { repository_owner_id: "74", environment: "prod" }],
    ["gitlab", { project_id: "20" }],
    ["gitlab", { namespace_id: "72" }],
    ["kubernetes", { namespace: "prod" }],
    ["kubernetes", { service_account_name: "writer" }],
    ["google", { email: "writer@p.iam.gserviceaccount.com" }],
    ["aws", { aws_account: "123456789012" }],
    ["aws", { sub: "arn:aws:iam::123456789012:role/writer" }],
    ["entra", { tid: TENANT }],
    ["entra", { oid: OID }],
    ["oauth-client", { scope: "write" }],
    ["custom", {}],
  ] as const)("%s without its required pins: %j", (provider, conditions) => {
    expect(codes({ ...VALID[provider], conditions })).toContain("missing_pin");
  });

  it.each([
    ["github-actions", "repository", "octo-org/octo-repo"],
    ["github-actions", "repository_owner", "octo-org"],
    ["github-actions", "sub", "repo:octo-org/octo-repo:ref:refs/heads/main"],
    ["github-actions", "run_id", "1"],
    ["gitlab", "project_path", "group/project"],
    ["gitlab", "namespace_path", "group"],
    ["gitlab", "user_email", "a@b.c"],
    ["aws", "request_tags", "x"],
    ["entra", "sub", "x"],
    ["kubernetes", "pod_name", "p"],
  ] as const)("%s: a name or per-run claim as a pin: %s", (provider, claim, value) => {
    const conditions = { ...(VALID[provider].conditions as Record<string, string>), [claim]: value };
    expect(codes({ ...VALID[provider], conditions })).toEqual(["claim_not_pinnable"]);
  });

  it.each(["iss", "aud", "exp", "iat", "nbf", "jti"])("a pin on the registered claim %s (the gateway checks it)", (claim) => {
    expect(codes({ ...VALID.custom, conditions: { team_id: "t", [claim]: "x" } })).toEqual(["claim_not_pinnable"]);
  });

  it("claims a template does not know, and custom claim names that are not names", () => {
    expect(codes({ ...VALID["github-actions"], conditions: { repository_owner_id: "74", repository_id: "1", colour: "red" } })).toEqual([
      "unknown_claim",
    ]);
    expect(codes({ ...VALID.custom, conditions: { "a b": "x" } })).toEqual(["unknown_claim"]);
    expect(codes({ ...VALID.custom, conditions: { "": "x" } })).toEqual(["unknown_claim"]);
  });

  it.each([
    ["github-actions", "repository_id", "*"],
    ["github-actions", "repository_id", "12*"],
    ["github-actions", "ref", "refs/heads/*"],
    ["github-actions", "environment", "prod?"],
    ["gitlab", "project_id", "[0-9]"],
    ["kubernetes", "namespace", "team-*"],
    ["entra", "oid", "*"],
    ["oauth-client", "client_id", "client-*"],
    ["custom", "team_id", "*"],
  ] as const)("%s: a glob on %s (%s)", (provider, claim, value) => {
    const conditions = { ...(VALID[provider].conditions as Record<string, string>), [claim]: value };
    expect(codes({ ...VALID[provider], conditions })).toContain("glob_not_allowed");
  });

  it.each([
    ["github-actions", "repository_id", "octo-repo"],
    ["github-actions", "repository_owner_id", "-74"],
    ["github-actions", "repository_owner_id", " 74"],
    ["gitlab", "project_id", "group/project"],
    ["google", "sub", "writer@p.iam.gserviceaccount.com"],
    ["google", "sub", "12"],
    ["aws", "aws_account", "12345"],
    ["aws", "sub", "writer"],
    ["entra", "oid", "not-a-guid"],
    ["entra", "oid", OID.toUpperCase()],
    ["kubernetes", "service_account_uid", "x"],
  ] as const)("%s: an ID of the wrong shape: %s=%s", (provider, claim, value) => {
    const conditions = { ...(VALID[provider].conditions as Record<string, string>), [claim]: value };
    expect(codes({ ...VALID[provider], conditions })).toContain("pin_value_invalid");
  });

  it.each([1296269, "", true, null, { a: 1 }, ["1"], "x".repeat(513)])("a condition value that is not a short string: %j", (value) => {
    expect(codes({ ...VALID["github-actions"], conditions: { repository_owner_id: "74", repository_id: value } })).toContain(
      "condition_value_invalid",
    );
  });

  it.each([
    "http://token.actions.githubusercontent.com",
    "ftp://example.com",
    "not a url",
    "https://example.com/?x=1",
    "https://example.com/#f",
    "https://user:pw@example.com",
    "http://10.0.0.1:8080",
  ])("an issuer URL that is not https (or http on loopback): %s", (issuerUrl) => {
    expect(codes({ ...VALID["github-actions"], issuerUrl })).toContain("issuer_url_invalid");
  });

  it("loopback http issuers (tests, local development) and enterprise issuers are fine", () => {
    for (const issuerUrl of [
      "http://127.0.0.1:4000",
      "http://localhost:4000/x",
      `${GH}/octo-enterprise`,
      "https://token.actions.octocorp.ghe.com",
      "https://ghes.example.com/_services/token",
    ]) {
      expect(codes({ ...VALID["github-actions"], issuerUrl })).toEqual([]);
    }
  });

  it.each([
    "https://login.microsoftonline.com/common/v2.0",
    "https://login.microsoftonline.com/organizations/v2.0",
    "https://login.microsoftonline.com/consumers/v2.0",
    "https://login.microsoftonline.com/{tenantid}/v2.0",
    "https://login.microsoftonline.com/v2.0",
  ])("Entra's shared or tenant-less issuer %s", (issuerUrl) => {
    expect(codes({ ...VALID.entra, issuerUrl })).toContain("issuer_not_allowed");
  });

  it("an Entra tid that is not the issuer's tenant", () => {
    const other = "11111111-2222-3333-4444-555555555555";
    expect(codes({ ...VALID.entra, conditions: { tid: other, oid: OID } })).toEqual(["issuer_mismatch"]);
    expect(codes({ ...VALID.entra, issuerUrl: `https://sts.windows.net/${TENANT}/` })).toEqual([]);
  });

  it("allow_events beyond the template's refused events, and allow_self_hosted without a runner rule", () => {
    expect(codes({ ...VALID["github-actions"], allowEvents: ["pull_request_target"] })).toEqual([]);
    expect(codes({ ...VALID["github-actions"], allowEvents: ["push"] })).toEqual(["allow_events_invalid"]);
    expect(codes({ ...VALID.gitlab, allowEvents: ["push"] })).toEqual(["allow_events_invalid"]);
    expect(codes({ ...VALID["github-actions"], allowSelfHosted: true })).toEqual([]);
    expect(codes({ ...VALID.gitlab, allowSelfHosted: true })).toEqual(["allow_self_hosted_invalid"]);
  });

  it("every problem at once, with the first one's code on the error", () => {
    const input = { provider: "github-actions", issuerUrl: "http://x.example", conditions: { repository: "a/b" }, allowEvents: ["push"] };
    const err = (() => {
      try {
        assertValidPolicy(input);
      } catch (e) {
        return e;
      }
    })() as PolicyError;
    expect(err).toBeInstanceOf(PolicyError);
    expect(err.code).toBe("issuer_url_invalid");
    expect(err.problems.map((p) => p.code)).toEqual(["issuer_url_invalid", "claim_not_pinnable", "missing_pin", "allow_events_invalid"]);
    for (const p of err.problems) expect(POLICY_PROBLEM_CODES).toContain(p.code);
  });

  it("issuerUrlProblems alone", () => {
    expect(issuerUrlProblems("custom", "https://idp.example.com")).toEqual([]);
    expect(issuerUrlProblems("custom", "http://idp.example.com").map((p) => p.code)).toEqual(["issuer_url_invalid"]);
  });
});

describe("URL issuer settings and audiences", () => {
  it("algs outside ES256, ES384, RS256, PS256, EdDSA, none at all, and lifetimes outside 1..5400", () => {
    expect(urlIssuerProblems({ algs: ["RS256", "ES384", "PS256"], maxLifetimeSeconds: 5400 })).toEqual([]);
    expect(urlIssuerProblems({ algs: ["HS256"], maxLifetimeSeconds: 300 }).map((p) => p.code)).toEqual(["alg_not_allowed"]);
    expect(urlIssuerProblems({ algs: ["none"], maxLifetimeSeconds: 300 }).map((p) => p.code)).toEqual(["alg_not_allowed"]);
    expect(urlIssuerProblems({ algs: [], maxLifetimeSeconds: 300 }).map((p) => p.code)).toEqual(["alg_not_allowed"]);
    for (const s of [0, 5401, 1.5, Number.NaN]) {
      expect(urlIssuerProblems({ algs: ["RS256"], maxLifetimeSeconds: s }).map((p) => p.code)).toEqual(["lifetime_invalid"]);
    }
  });

  it.each([
    "sts.amazonaws.com",
    "https://sts.amazonaws.com/",
    "api://AzureADTokenExchange",
    "https://kubernetes.default.svc",
    "https://kubernetes.default.svc.cluster.local",
    "https://github.com/octo-org",
    "https://github.com/octo-org/",
    "https://GitHub.com/octo-org",
    "https://vercel.com/acme",
  ])("the shared default audience %s", (aud) => {
    expect(isSharedDefaultAudience(aud)).toBe(true);
    expect(audienceProblems(aud).map((p) => p.code)).toEqual(["shared_audience"]);
  });

  it.each(["https://abcd.supabase.co", "http://127.0.0.1:54321", "https://github.com.example.com/x", "https://db.example.com/github.com"])(
    "a project audience %s is fine",
    (aud) => {
      expect(isSharedDefaultAudience(aud)).toBe(false);
    },
  );
});

describe("claim values, refusals, identities", () => {
  it("claimValue reads nested paths, strings, safe integers and booleans, nothing else", () => {
    const claims = {
      s: "x",
      n: 42,
      big: 2 ** 60,
      b: true,
      f: 1.5,
      o: { a: { b: "deep" } },
      arr: ["1"],
      nul: null,
      "kubernetes.io": { namespace: "prod" },
    };
    expect(claimValue(claims, ["s"])).toBe("x");
    expect(claimValue(claims, ["n"])).toBe("42");
    expect(claimValue(claims, ["big"])).toBeUndefined();
    expect(claimValue(claims, ["b"])).toBe("true");
    expect(claimValue(claims, ["f"])).toBeUndefined();
    expect(claimValue(claims, ["o", "a", "b"])).toBe("deep");
    expect(claimValue(claims, ["o"])).toBeUndefined();
    expect(claimValue(claims, ["arr"])).toBeUndefined();
    expect(claimValue(claims, ["nul"])).toBeUndefined();
    expect(claimValue(claims, ["missing"])).toBeUndefined();
    expect(claimValue(claims, ["kubernetes.io", "namespace"])).toBe("prod");
    expect(claimValue(claims, ["__proto__"])).toBeUndefined();
    expect(claimValue(claims, ["s", "length"])).toBeUndefined();
  });

  const gh = PROVIDERS["github-actions"];
  const none = { allowSelfHosted: false, allowEvents: [] as string[] };

  it("GitHub: pull_request_target and workflow_run are refused unless lifted; other events pass", () => {
    const base = { runner_environment: "github-hosted" };
    expect(templateRefusal(gh, { ...base, event_name: "push" }, none)).toBeNull();
    expect(templateRefusal(gh, { ...base, event_name: "pull_request_target" }, none)?.reason).toBe("event_not_allowed");
    expect(templateRefusal(gh, { ...base, event_name: "workflow_run" }, none)?.reason).toBe("event_not_allowed");
    expect(templateRefusal(gh, { ...base, event_name: "workflow_run" }, { ...none, allowEvents: ["pull_request_target"] })?.reason).toBe(
      "event_not_allowed",
    );
    expect(templateRefusal(gh, { ...base, event_name: "workflow_run" }, { ...none, allowEvents: ["workflow_run"] })).toBeNull();
  });

  it("GitHub: self-hosted, unknown or missing runner_environment is refused unless allow_self_hosted", () => {
    for (const runner of ["self-hosted", "GITHUB-HOSTED", undefined, 1]) {
      const claims = runner === undefined ? { event_name: "push" } : { event_name: "push", runner_environment: runner };
      expect(templateRefusal(gh, claims, none)?.reason).toBe("runner_not_allowed");
      expect(templateRefusal(gh, claims, { ...none, allowSelfHosted: true })).toBeNull();
    }
  });

  it("templates without refusals refuse nothing", () => {
    expect(templateRefusal(PROVIDERS.gitlab, { runner_environment: "self-hosted", event_name: "pull_request_target" }, none)).toBeNull();
  });

  it("the outbound subject name is the issuer URL and the pinned IDs only: the same across names, refs and environments", () => {
    const a = subjectName(GH, gh, { repository_owner_id: "74", repository_id: "1296269", environment: "prod" });
    const b = subjectName(GH, gh, { repository_id: "1296269", repository_owner_id: "74", ref: "refs/heads/main" });
    expect(a).toBe(b);
    expect(a).toBe(`${GH}\nrepository_owner_id=74\nrepository_id=1296269`);
    expect(subjectName(`${GH}/ent`, gh, { repository_owner_id: "74", repository_id: "1296269" })).not.toBe(a);
    expect(subjectName(GH, gh, { repository_owner_id: "74", repository_id: "1296270" })).not.toBe(a);
  });

  it("Kubernetes: the service account uid is the identity when pinned, else namespace + name", () => {
    const k = PROVIDERS.kubernetes;
    expect(identityClaims(k, { namespace: "prod", service_account_name: "w" })).toEqual(["namespace", "service_account_name"]);
    expect(identityClaims(k, { service_account_uid: "0e5a2ab4-6b4c-4d3b-9f0f-1c2d3e4f5a6b", namespace: "prod" })).toEqual([
      "service_account_uid",
    ]);
    expect(identityClaims(k, { namespace: "prod" })).toBeUndefined();
  });

  it("custom: the identity is every pin, in name order; writer claims are sub and the pins", () => {
    const c = PROVIDERS.custom;
    expect(identityClaims(c, { b: "2", a: "1" })).toEqual(["a", "b"]);
    expect(writerClaimNames(c, { b: "2", a: "1" })).toEqual(["sub", "b", "a"]);
    expect(writerClaimNames(gh, { repository_owner_id: "74", repository_id: "1" })).toEqual([...gh.writerClaims]);
  });
});

// Workload identity tokens through the whole gateway (createJwtSwapProxy, in-process): what is forwarded,
// usage as (writer, policy:<id>), the writer's rate limit, the verified-token cache, the access line, and
// the gateway's refusal to run with a shared default audience.
import { describe, expect, it, vi } from "vitest";
import type { UsageRow } from "../src/usage.ts";
import {
  AUDIENCE,
  DEFAULT_POLICY,
  githubClaims,
  goodClaims,
  harness,
  outboundClaims,
  rawToken,
  request,
  TestIdp,
  trustPolicy,
  urlIssuer,
  writer,
  type Harness,
} from "../src/testing.ts";
import type { TrustPolicyRow } from "../src/trust-registry.ts";

const GH = "https://token.actions.githubusercontent.com";

async function github(h: Harness, policies: TrustPolicyRow[]) {
  const idp = await TestIdp.create(GH);
  h.project.jwks.set(`${GH}/.well-known/jwks`, { body: idp.jwks() });
  h.project.trust.set(GH, { issuer: urlIssuer(GH, `${GH}/.well-known/jwks`), policies });
  return idp;
}

async function codeOf(res: Response) {
  return { status: res.status, code: ((await res.json()) as { code: string }).code };
}

describe("workload identity through the gateway", () => {
  it("forwards as the policy's writer; usage is counted as (writer, policy:<id>); a writer with keys keeps its own rows", async () => {
    const w = await writer("ci-deploy");
    const h = harness([w], { usage: { flushIntervalMs: 1 } });
    const policy = trustPolicy("ci-deploy", "github-actions", { repository_owner_id: "74", repository_id: "1296269" });
    const idp = await github(h, [policy]);
    expect((await h.handler(request("/rest/widgets", await idp.sign(githubClaims())))).status).toBe(200);
    expect((await h.handler(request("/rest/widgets", await idp.sign(githubClaims({ event_name: "workflow_run" }))))).status).toBe(403);
    expect((await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))))).status).toBe(200);
    const out = await outboundClaims(h.project.calls[0]!);
    expect(out).toMatchObject({ iss: "ci-deploy", role: "federated_writer", writer_kid: `policy:${policy.id}` });
    // Summed over however many batches the 1 ms flush made of them.
    const counted = () => {
      const sums = new Map<string, [string, string, number, number]>();
      for (const r of h.project.usageBatches.flat() as UsageRow[]) {
        const e = sums.get(`${r.issuer} ${r.kid}`) ?? [r.issuer, r.kid, 0, 0];
        sums.set(`${r.issuer} ${r.kid}`, [r.issuer, r.kid, e[2] + r.requests, e[3] + r.errors]);
      }
      return [...sums.values()].sort();
    };
    // The refused workflow_run token never named a writer: it is counted nowhere.
    await vi.waitFor(() =>
      expect(counted()).toEqual(
        [
          ["ci-deploy", `policy:${policy.id}`, 1, 0],
          ["ci-deploy", w.keys.kid, 1, 0],
        ].sort(),
      ),
    );
  });

  it("a writer's own JWKS key cannot take a trust policy's name as its kid (policy:<id>): token_malformed, nothing counted for the policy", async () => {
    // writer_kid and usage tell the writer's key holders from its workloads: a JWKS writer chooses its kids.
    const w = await writer("ci-deploy", "ES256", {}, 31);
    const h = harness([], { usage: { flushIntervalMs: 1 } });
    const policy = trustPolicy("ci-deploy", "github-actions", { repository_owner_id: "74", repository_id: "1296269" });
    await github(h, [policy]);
    const jwksUri = "https://ci-deploy.example.test/jwks.json";
    const kid = `policy:${policy.id}`;
    h.project.add(w, { kid: null, public_key_pem: null, jwks_uri: jwksUri });
    h.project.jwks.set(jwksUri, { body: { keys: [{ ...w.keys.publicJwk, kid }] } });
    const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w), { kid })));
    expect(await codeOf(res)).toEqual({ status: 401, code: "token_malformed" });
    expect(h.project.calls).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 20));
    expect((h.project.usageBatches.flat() as UsageRow[]).filter((r) => r.kid === kid)).toEqual([]);
  });

  it("the writer's rate limit applies to its workload tokens (one bucket per writer, keys and policies alike)", async () => {
    const w = await writer("ci-deploy", "ES256", { rate_limit_per_second: 1, rate_limit_burst: 2 });
    const clock = Date.now();
    const h = harness([w], { usage: false, now: () => clock });
    const idp = await github(h, [
      trustPolicy(
        "ci-deploy",
        "github-actions",
        { repository_owner_id: "74", repository_id: "1296269" },
        {
          writer_policy: { ...DEFAULT_POLICY, rate_limit_per_second: 1, rate_limit_burst: 2 },
        },
      ),
    ]);
    const statuses: number[] = [];
    statuses.push((await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))))).status);
    for (let i = 0; i < 3; i++) statuses.push((await h.handler(request("/rest/widgets", await idp.sign(githubClaims())))).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it("the verified-token cache serves a repeated workload token; a policy removed is seen after the cache TTL", async () => {
    let clock = Date.now();
    const h = harness([], { usage: false, now: () => clock, keyCacheTtlMs: 5000 });
    const idp = await github(h, [trustPolicy("ci-deploy", "github-actions", { repository_owner_id: "74", repository_id: "1296269" })]);
    const token = await idp.sign(githubClaims());
    for (let i = 0; i < 5; i++) expect((await h.handler(request("/rest/widgets", token))).status).toBe(200);
    expect(h.logs.filter((l) => l.event === "request").map((l) => l.cache)).toEqual(["miss", "hit", "hit", "hit", "hit"]);
    expect(h.project.trustReads).toBe(1);
    expect(h.project.jwksFetches).toBe(1);
    h.project.trust.get(GH)!.policies = [];
    clock += 5001;
    expect(await codeOf(await h.handler(request("/rest/widgets", token)))).toEqual({ status: 401, code: "unknown_issuer" });
    expect(h.project.calls).toHaveLength(5);
  });

  it("refusals: the caller gets the code with no details; the access line says which policies", async () => {
    const h = harness([], { usage: false });
    const a = trustPolicy("ci-a", "github-actions", { repository_owner_id: "74", repository_id: "1296269" });
    const b = trustPolicy("ci-b", "github-actions", { repository_owner_id: "74", repository_id: "1296269", environment: "prod" });
    const idp = await github(h, [a, b]);
    const res = await h.handler(request("/rest/widgets", await idp.sign(githubClaims({ environment: "prod" }))));
    const body = await res.text();
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="insufficient_scope", error_description="ambiguous_policy"');
    expect(JSON.parse(body)).toMatchObject({ code: "ambiguous_policy", details: null });
    expect(body).not.toContain(a.id);
    expect(body).not.toContain("ci-a");
    const line = h.logs.find((l) => l.reason === "ambiguous_policy")!;
    expect(line).toMatchObject({ event: "request_rejected", issuer: GH, status: 403 });
    expect((line.details as { policies: string[] }).policies.sort()).toEqual([a.id, b.id].sort());
    expect(JSON.stringify(line).length).toBeLessThan(1024);
    const none = await h.handler(request("/rest/widgets", await idp.sign(githubClaims({ repository_id: "1" }))));
    expect(JSON.parse(await none.text())).toMatchObject({ code: "no_matching_policy", details: null });
    expect(h.logs.find((l) => l.reason === "no_matching_policy")).toMatchObject({ details: { policies: 2 } });
  });

  it("an alg the URL issuer is not registered with: alg_not_allowed, and the details name none of its algs", async () => {
    // Whoever names a registered issuer URL must not learn its settings from the refusal (as for writers).
    const h = harness([], { usage: false });
    const iss = "https://idp.example.com";
    const idp = await TestIdp.create(iss, "ES256");
    h.project.jwks.set(`${iss}/jwks`, { body: idp.jwks() });
    h.project.trust.set(iss, {
      issuer: urlIssuer(iss, `${iss}/jwks`, { algs: ["RS256", "PS256"] }),
      policies: [trustPolicy("w", "custom", { sub: "svc" })],
    });
    const res = await h.handler(request("/rest/widgets", await idp.sign({ aud: AUDIENCE, sub: "svc" })));
    const body = (await res.json()) as { code: string; details: string | null };
    expect({ status: res.status, code: body.code }).toEqual({ status: 401, code: "alg_not_allowed" });
    expect(body.details ?? "").not.toMatch(/ES256|ES384|RS256|PS256|EdDSA/);
    expect(h.project.calls).toHaveLength(0);
  });

  it("a discovery document naming another issuer: 503, and the access line names both", async () => {
    const h = harness([], { usage: false });
    const iss = "https://idp.example.com";
    const idp = await TestIdp.create(iss);
    h.project.trust.set(iss, { issuer: urlIssuer(iss, null), policies: [trustPolicy("w", "custom", { sub: "svc" })] });
    h.project.discovery.set(`${iss}/.well-known/openid-configuration`, {
      body: { issuer: "https://evil.example.com", jwks_uri: "https://evil.example.com/jwks" },
    });
    const res = await h.handler(request("/rest/widgets", await idp.sign({ aud: AUDIENCE, sub: "svc" })));
    expect(await codeOf(res)).toEqual({ status: 503, code: "discovery_issuer_mismatch" });
    expect(h.logs.find((l) => l.reason === "discovery_issuer_mismatch")).toMatchObject({
      details: { registered_issuer: iss, document_issuer: "https://evil.example.com" },
    });
    expect(h.project.calls).toHaveLength(0);
  });

  it.each(["sts.amazonaws.com", "api://AzureADTokenExchange", "https://github.com/octo-org", "https://kubernetes.default.svc"])(
    "refuses to serve with the shared default audience %s as the project's audience (proxy_misconfigured)",
    async (audience) => {
      const w = await writer("w");
      const h = harness([w], { usage: false, audience });
      const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w, { aud: audience }))));
      expect(await codeOf(res)).toEqual({ status: 503, code: "proxy_misconfigured" });
      await vi.waitFor(() => expect(h.logs.find((l) => l.event === "proxy_misconfigured")).toBeDefined());
      expect(JSON.stringify(h.logs.find((l) => l.event === "proxy_misconfigured"))).toContain("shared default audience");
    },
  );

  it("an unverified issuer URL reaches the access line cut like any issuer (64 characters, the length noted)", async () => {
    const h = harness([], { usage: false });
    const idp = await TestIdp.create(`https://idp.example.com/${"a".repeat(480)}`);
    const res = await h.handler(request("/rest/widgets", await idp.sign({ aud: AUDIENCE, sub: "x" })));
    expect(await codeOf(res)).toEqual({ status: 401, code: "unknown_issuer" });
    const line = h.logs.find((l) => l.reason === "unknown_issuer")!;
    expect(String(line.issuer).startsWith("https://idp.example.com/aaa")).toBe(true);
    expect(String(line.issuer).length).toBeLessThan(100);
  });

  it("trustRegistry: false serves no workload tokens (unknown_issuer) and reads nothing for them", async () => {
    const h = harness([], { usage: false, trustRegistry: false });
    const idp = await github(h, [trustPolicy("ci", "github-actions", { repository_owner_id: "74", repository_id: "1296269" })]);
    expect(await codeOf(await h.handler(request("/rest/widgets", await idp.sign(githubClaims()))))).toEqual({
      status: 401,
      code: "unknown_issuer",
    });
    expect(h.project.trustReads + h.project.urlIssuerListReads).toBe(0);
  });
});

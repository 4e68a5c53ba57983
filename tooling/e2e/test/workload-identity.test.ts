// Keyless writers end to end: `fedjwt trust` registers a GitHub Actions trust policy (the issuer URL overridden
// to a loopback stand-in of the Actions token service), then apps/ci-writer runs as a job step would, its
// token from @actions/core's getIDToken, through the gateway → the real rest function under Deno → the
// PostgREST stand-in → Postgres + RLS. No key of ours anywhere.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type LocalActionsOidc, startLocalActionsOidc } from "@fedjwt/ci-writer/local-actions-oidc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fedjwt, serviceRead, sleep, useTarget } from "./target.ts";

const target = useTarget();
// A function in Docker (an external stack: E2E_API_URL) cannot reach the token service on this machine's
// loopback: there only the registration side runs.
const external = !!process.env.E2E_API_URL;
const CI_WRITER = fileURLToPath(new URL("../../../apps/ci-writer/dist/main.js", import.meta.url));
let oidc: LocalActionsOidc;
let policyId = "";

beforeAll(async () => {
  oidc = await startLocalActionsOidc();
});
afterAll(async () => {
  await oidc?.stop();
});

/** Runs apps/ci-writer as a job step: the job's runtime variables and the project's URL and anon key. */
function runJob(job: Parameters<LocalActionsOidc["job"]>[0] = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const t = target();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...oidc.job(job),
    FEDJWT_API_URL: t.apiUrl,
    FEDJWT_ANON_KEY: t.anonKey,
    FEDJWT_AUDIENCE: t.audience,
  };
  delete env.GITHUB_ACTIONS;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CI_WRITER], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const trustArgs = () => [
  "trust",
  "--writer",
  "ci-writer",
  "--provider",
  "github-actions",
  "--issuer-url",
  oidc.issuerUrl,
  "--claim",
  "repository_owner_id=74",
  "--claim",
  "repository_id=1296269",
  "--allowed-role",
  "widgets_writer",
];

describe("fedjwt trust", () => {
  it("registers the writer, the URL issuer and the policy, and says what it admits; again is a no-op", async () => {
    const t = target();
    const r = await fedjwt(t, trustArgs());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^Registered trust policy [0-9a-f-]{36} for writer "ci-writer" \(new writer\)\.$/);
    policyId = /policy ([0-9a-f-]{36})/.exec(lines[0]!)![1]!;
    expect(r.stdout).toContain(`iss is exactly ${oidc.issuerUrl} (keys from its OIDC discovery document)`);
    expect(r.stdout).toContain('repository_id = "1296269"  (an immutable ID');
    expect(r.stdout).toContain("event_name is not pull_request_target or workflow_run");
    expect(r.stdout).toContain("runner_environment = github-hosted (self-hosted runners are refused)");
    expect(r.stdout).toContain('It writes as writer "ci-writer": db_role=federated_writer, allowed_roles=[widgets_writer]');
    const again = await fedjwt(t, [...trustArgs(), "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false, writerAction: "unchanged", policy: { id: policyId } });
  });

  it("refuses a policy without the required pins, on the CLI and in the registry, with the reason", async () => {
    const t = target();
    const cli = await fedjwt(t, [
      "trust",
      "--writer",
      "ci-writer",
      "--provider",
      "github-actions",
      "--issuer-url",
      oidc.issuerUrl,
      "--claim",
      "repository=octo-org/octo-repo",
    ]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/^fedjwt trust: refused: claim_not_pinnable: repository: a repository name can be renamed/);
    expect(cli.stderr).toMatch(/missing_pin: github-actions policies must pin repository_owner_id \+ repository_id/);
    // Straight to the Data API with the service key, past the CLI: the registry refuses the same.
    const res = await fetch(`${t.apiUrl}/rest/v1/jwt_trust_policies`, {
      method: "POST",
      headers: { apikey: t.serviceKey, authorization: `Bearer ${t.serviceKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        writer: "ci-writer",
        issuer_url: oidc.issuerUrl,
        provider: "github-actions",
        conditions: { repository_owner_id: "74" },
      }),
    });
    expect(res.status).toBe(400);
    // The same conditions for a second writer could only ever be ambiguous: the registry refuses them.
    const twin = await fedjwt(t, [...trustArgs().map((a) => (a === "ci-writer" ? "ci-writer-twin" : a))]);
    expect(twin.code).toBe(2);
    expect(twin.stderr).toBe(
      `fedjwt trust: policy ${policyId} of writer "ci-writer" already admits exactly these conditions on ${oidc.issuerUrl}: untrust it first (fedjwt untrust --writer ci-writer --policy ${policyId})\n`,
    );
    // Nothing was written: no writer ci-writer-twin.
    expect(await serviceRead<unknown[]>(t, "jwt_issuers?issuer=eq.ci-writer-twin&select=issuer")).toEqual([]);
    expect(await res.json()).toMatchObject({
      code: "23514",
      message: "trust policy refused: missing_pin: github-actions policies must pin repository_owner_id + repository_id",
    });
  });
});

describe.skipIf(external)("apps/ci-writer through the gateway", () => {
  it("writes with the job's own token and no key of ours; a job of another repository is refused no_matching_policy", async () => {
    const ok = await runJob();
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(
      /✓ insert into widgets\s+201\s+allowed: widget \d+ "build of octo-org\/octo-repo@7d3a8f2c9b1e", owner_issuer=ci-writer/,
    );
    expect(ok.stdout).toMatch(/✓ select its widget/);
    // The toolkit's workflow commands (::add-mask::<token>) are not printed outside GitHub Actions.
    expect(ok.stdout).not.toContain("::");
    expect(ok.code).toBe(0);
    expect(oidc.issued()).toBeGreaterThanOrEqual(1);

    const other = await runJob({ repository: "octo-org/other-repo", repository_id: "8675309" });
    expect(other.stdout).toMatch(/✗ insert into widgets\s+403\s+denied \(no_matching_policy\)/);
    expect(other.code).toBe(1);
  });

  it("the same repository renamed keeps its identity (the sub comes from the pinned IDs); a name resurrected elsewhere does not", async () => {
    const t = target();
    const renamed = await runJob({ repository: "octo-org/renamed-repo" });
    expect(renamed.code).toBe(0);
    const rows = await serviceRead<Array<{ name: string; created_by: string }>>(
      t,
      "widgets?owner_issuer=eq.ci-writer&select=name,created_by&order=id",
    );
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(new Set(rows.map((r) => r.created_by)).size).toBe(1);
    // Someone else's repository now called octo-org/octo-repo (another owner and repository ID): refused.
    const resurrected = await runJob({ repository_owner_id: "999001", repository_id: "999002" });
    expect(resurrected.stdout).toMatch(/denied \(no_matching_policy\)/);
  });

  it("pull_request_target and self-hosted runners are refused by the template, whatever the pins", async () => {
    const prt = await runJob({ event_name: "pull_request_target" });
    expect(prt.stdout).toMatch(/403\s+denied \(event_not_allowed\)/);
    const selfHosted = await runJob({ runner_environment: "self-hosted" });
    expect(selfHosted.stdout).toMatch(/403\s+denied \(runner_not_allowed\)/);
  });
});

describe.skipIf(external)("list, doctor and untrust", () => {
  it("list --json shows the policy, with its id, under its writer, with its usage", async () => {
    const t = target();
    let policy: { id: string; usage: { requests: number; errors: number; last_seen_at: string | null } } | undefined;
    for (let i = 0; i < 20; i++) {
      const listed = JSON.parse((await fedjwt(t, ["list", "--issuer", "ci-writer", "--json"])).stdout);
      policy = listed.issuers[0].policies[0];
      if (policy && policy.usage.requests >= 3) break;
      await sleep(1000);
    }
    expect(policy).toMatchObject({
      id: policyId,
      provider: "github-actions",
      is_active: true,
      conditions: { repository_owner_id: "74", repository_id: "1296269" },
    });
    expect(policy!.usage.requests).toBeGreaterThanOrEqual(3);
    expect(policy!.usage.last_seen_at).not.toBeNull();
    const table = (await fedjwt(t, ["list", "--issuer", "ci-writer"])).stdout;
    expect(table).toMatch(
      new RegExp(
        `ci-writer\\s+policy:${policyId}\\s+github-actions\\s+${oidc.issuerUrl.replace(/[.]/g, "\\.")} repository_id=1296269,repository_owner_id=74\\s+yes\\s+\\d+s ago`,
      ),
    );
  });

  it("doctor checks the URL issuer's discovery and JWKS", async () => {
    const t = target();
    const r = await fedjwt(t, ["doctor", "--url", t.apiUrl, "--anon-key", t.anonKey, "--audience", t.audience, "--json"]);
    const issuers = JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === "issuers");
    expect(issuers).toMatchObject({ status: "ok", message: `${oidc.issuerUrl}: 1 usable key(s) at ${oidc.issuerUrl}/.well-known/jwks` });
  });

  it("untrust deactivates the policy: the job is refused once the gateway's cache expires; the change is audited", async () => {
    const t = target();
    const r = await fedjwt(t, ["untrust", "--writer", "ci-writer", "--policy", policyId]);
    expect(r.stdout).toBe(
      `Deactivated trust policy ${policyId} of writer "ci-writer": its workloads are refused once the gateway's cache expires.\n`,
    );
    await sleep(t.cacheTtlMs + 1500);
    const after = await runJob();
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/denied \((unknown_issuer|no_matching_policy)\)/);
    const audit = await serviceRead<Array<{ operation: string; new_row: { is_active: boolean } }>>(
      t,
      `jwt_registry_audit?table_name=eq.jwt_trust_policies&select=operation,new_row&order=id`,
    );
    expect(audit.map((a) => `${a.operation} ${a.new_row.is_active}`)).toEqual(["INSERT true", "UPDATE false"]);
  });
});

// pnpm dev's keyless writer: apps/ci-writer runs as a GitHub Actions job step would, its token from
// @actions/core's getIDToken, answered by a loopback stand-in of the Actions token service; a trust policy
// (fedjwt trust, the issuer URL overridden to the stand-in) admits the job's repository and no other.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { type LocalActionsOidc, startLocalActionsOidc } from "@fedjwt/ci-writer/local-actions-oidc";

interface Target {
  root: string;
  apiUrl: string;
  anonKey: string;
  audience: string;
  /** True when the function runs in Docker: it cannot reach a token service on this machine's loopback. */
  docker: boolean;
  /** Runs the fedjwt CLI in-process; resolves to its output, throws when it fails. */
  cli: (args: string[]) => Promise<string>;
}

/** Runs apps/ci-writer as one job step with the job's runtime variables; resolves to its output and exit code. */
function runJob(
  t: Target,
  oidc: LocalActionsOidc,
  job: Parameters<LocalActionsOidc["job"]>[0],
): Promise<{ code: number | null; out: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...oidc.job(job),
    FEDJWT_API_URL: t.apiUrl,
    FEDJWT_ANON_KEY: t.anonKey,
    FEDJWT_AUDIENCE: t.audience,
  };
  delete env.GITHUB_ACTIONS;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(t.root, "apps/ci-writer/dist/main.js")], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) => resolve({ code, out: out.trimEnd() }));
  });
}

/** Registers the policy (retiring the ones earlier runs made for their own stand-ins), runs two jobs, prints them. */
export async function showKeylessWriter(t: Target): Promise<boolean> {
  if (t.docker) {
    console.log(
      "  ci-writer: shown on the Docker-free stack only (the function in Docker cannot reach a token service on this machine's loopback)",
    );
    return true;
  }
  const oidc = await startLocalActionsOidc();
  try {
    const listed = JSON.parse(await t.cli(["list", "--issuer", "ci-writer", "--json"])) as {
      issuers: Array<{ policies?: Array<{ id: string; issuer_url: string; is_active: boolean }> }>;
    };
    for (const p of listed.issuers[0]?.policies ?? [])
      if (p.is_active && p.issuer_url !== oidc.issuerUrl) await t.cli(["untrust", "--writer", "ci-writer", "--policy", p.id]);
    const trusted = await t.cli([
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
      "--description",
      "pnpm dev: octo-org/octo-repo's jobs on the local Actions token service",
    ]);
    const policy = /policy ([0-9a-f-]{36})/.exec(trusted)?.[1] ?? "?";
    const ours = await runJob(t, oidc, {});
    const other = await runJob(t, oidc, { repository: "octo-org/other-repo", repository_id: "8675309" });
    console.log(
      `  ci-writer         (a GitHub Actions job through @actions/core, no key of ours: trust policy ${policy.slice(0, 8)}… on the local Actions token service ${oidc.issuerUrl})`,
    );
    for (const line of ours.out.split("\n").slice(1)) console.log(`  ${line}`);
    const refused = /403\s+denied \(no_matching_policy\)/.test(other.out);
    console.log(
      `    ${refused ? "✓" : "✗"} a job of octo-org/other-repo (another repository_id) → ${refused ? "403 no_matching_policy" : other.out}`,
    );
    return ours.code === 0 && refused;
  } finally {
    await oidc.stop();
  }
}

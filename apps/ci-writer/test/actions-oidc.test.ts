// The loopback Actions token service answers @actions/core's real getIDToken request, and its tokens verify
// against its own discovery document and JWKS as GitHub's do. (End to end through the gateway:
// tooling/e2e/test/workload-identity.test.ts.)
import { getIDToken } from "@actions/core";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalActionsOidc, startLocalActionsOidc } from "../src/local-actions-oidc.ts";
import { idTokenSource } from "../src/writer.ts";

let oidc: LocalActionsOidc;
beforeAll(async () => {
  oidc = await startLocalActionsOidc();
});
afterAll(() => oidc.stop());

/** Runs `fn` with a job's runtime variables set, as the runner sets them for a step. */
async function inJob<T>(env: object, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe("the local Actions token service", () => {
  it("answers getIDToken(audience) with a GitHub-shaped RS256 token that verifies through discovery", async () => {
    const token = await inJob(oidc.job({ environment: "production" }), () => getIDToken("https://project.example"));
    const discovery = (await (await fetch(`${oidc.issuerUrl}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    expect(discovery.issuer).toBe(oidc.issuerUrl);
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
      issuer: oidc.issuerUrl,
      audience: "https://project.example",
      algorithms: ["RS256"],
    });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "RS256", typ: "JWT" });
    expect(payload).toMatchObject({
      sub: "repo:octo-org/octo-repo:environment:production",
      repository: "octo-org/octo-repo",
      repository_id: "1296269",
      repository_owner_id: "74",
      event_name: "push",
      runner_environment: "github-hosted",
      environment: "production",
      ref: "refs/heads/main",
    });
    expect(payload.exp! - payload.iat!).toBe(300);
  });

  it("refuses a request token it did not hand out, as the runtime does", async () => {
    const env = { ...oidc.job(), ACTIONS_ID_TOKEN_REQUEST_TOKEN: "forged" };
    await expect(inJob(env, () => getIDToken("https://project.example"))).rejects.toThrow(/Failed to get ID Token/);
  });

  it("each job is its own identity: another repository's job gets its own IDs", async () => {
    const token = await inJob(oidc.job({ repository: "octo-org/other", repository_id: "8675309" }), () => getIDToken("aud"));
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${oidc.issuerUrl}/.well-known/jwks`)), { audience: "aud" });
    expect(payload).toMatchObject({ repository_id: "8675309", sub: "repo:octo-org/other:ref:refs/heads/main" });
  });
});

describe("idTokenSource", () => {
  it("asks the runtime once and reuses the token until a minute before it expires; parallel callers share one request", async () => {
    const before = oidc.issued();
    const tokens = await inJob(oidc.job(), async () => {
      const source = idTokenSource("https://project.example");
      const first = await Promise.all([source(), source(), source()]);
      return [...first, await source()];
    });
    expect(new Set(tokens).size).toBe(1);
    expect(oidc.issued() - before).toBe(1);
  });

  it("asks again when the token is within a minute of expiring", async () => {
    let calls = 0;
    const exp = Math.floor(Date.now() / 1000) + 30;
    const fake = `e30.${Buffer.from(JSON.stringify({ exp })).toString("base64url")}.x`;
    const source = idTokenSource("aud", () => {
      calls++;
      return Promise.resolve(fake);
    });
    await source();
    await source();
    expect(calls).toBe(2);
  });
});

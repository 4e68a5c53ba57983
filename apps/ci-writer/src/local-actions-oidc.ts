// A local stand-in for GitHub Actions' OIDC token service, for development and tests only: it answers the
// request @actions/core's getIDToken makes (GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud> with
// `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answer `{"value": "<jwt>"}`) with GitHub-shaped
// ID tokens signed by a key made at start, and serves OIDC discovery and the JWKS on loopback http, so its
// base URL is the issuer URL a trust policy registers (in place of https://token.actions.githubusercontent.com).
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";

/** The job a token describes: GitHub's claim names; the IDs are the immutable ones a policy pins. */
export interface ActionsJob {
  repository: string;
  repository_id: string;
  repository_owner: string;
  repository_owner_id: string;
  ref: string;
  event_name: string;
  runner_environment: "github-hosted" | "self-hosted";
  environment?: string;
  workflow: string;
  actor: string;
  actor_id: string;
  sha: string;
}

/** A job's runtime variables, as the runner sets them in a job with `permissions: id-token: write`. */
export interface JobEnv {
  ACTIONS_ID_TOKEN_REQUEST_URL: string;
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: string;
  GITHUB_REPOSITORY: string;
  GITHUB_SHA: string;
}

export interface LocalActionsOidc {
  /** The tokens' `iss`, serving /.well-known/openid-configuration and /.well-known/jwks. */
  issuerUrl: string;
  /** Registers a job and returns its runtime variables: each job has its own request token. */
  job(job?: Partial<ActionsJob>): JobEnv;
  /** How many tokens were issued (a test checks the toolkit really asked). */
  issued(): number;
  stop(): Promise<void>;
}

const DEFAULT_JOB: ActionsJob = {
  repository: "octo-org/octo-repo",
  repository_id: "1296269",
  repository_owner: "octo-org",
  repository_owner_id: "74",
  ref: "refs/heads/main",
  event_name: "push",
  runner_environment: "github-hosted",
  workflow: "ci",
  actor: "octocat",
  actor_id: "583231",
  sha: "7d3a8f2c9b1e4d5f6a7b8c9d0e1f2a3b4c5d6e7f",
};

/** The claims GitHub puts in a job's token (github/docs: actions/reference/security/oidc), for `job`. */
function githubClaims(job: ActionsJob, audience: string, runId: number): Record<string, unknown> {
  const refType = job.ref.startsWith("refs/tags/") ? "tag" : "branch";
  const workflowRef = `${job.repository}/.github/workflows/${job.workflow}.yml@${job.ref}`;
  const sub = job.environment
    ? `repo:${job.repository}:environment:${job.environment}`
    : job.event_name === "pull_request"
      ? `repo:${job.repository}:pull_request`
      : `repo:${job.repository}:ref:${job.ref}`;
  return {
    jti: randomUUID(),
    sub,
    aud: audience,
    ref: job.ref,
    sha: job.sha,
    repository: job.repository,
    repository_owner: job.repository_owner,
    repository_owner_id: job.repository_owner_id,
    repository_id: job.repository_id,
    repository_visibility: "private",
    run_id: String(runId),
    run_number: "1",
    run_attempt: "1",
    actor: job.actor,
    actor_id: job.actor_id,
    workflow: job.workflow,
    workflow_ref: workflowRef,
    workflow_sha: job.sha,
    job_workflow_ref: workflowRef,
    job_workflow_sha: job.sha,
    head_ref: "",
    base_ref: "",
    event_name: job.event_name,
    ref_type: refType,
    ref_protected: "false",
    runner_environment: job.runner_environment,
    ...(job.environment ? { environment: job.environment } : {}),
  };
}

/** Starts the stand-in on 127.0.0.1 (port 0: any free one). Tokens live 5 minutes, as GitHub's do. */
export async function startLocalActionsOidc(options: { port?: number; lifetimeSeconds?: number } = {}): Promise<LocalActionsOidc> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { modulusLength: 2048 });
  const publicJwk: JWK = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks = { keys: [{ ...publicJwk, kid, alg: "RS256", use: "sig" }] };
  const jobs = new Map<string, ActionsJob>();
  const lifetime = options.lifetimeSeconds ?? 300;
  let issued = 0;
  let runId = 1_000_000;
  let base = "";

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };
  const sign = (job: ActionsJob, audience: string, key: typeof privateKey) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(githubClaims(job, audience, ++runId))
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid })
      .setIssuer(base)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + lifetime)
      .sign(key);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", base);
    if (req.method !== "GET") return send(res, 405, { message: "GET only" });
    if (url.pathname === "/.well-known/openid-configuration") {
      return send(res, 200, {
        issuer: base,
        jwks_uri: `${base}/.well-known/jwks`,
        subject_types_supported: ["public", "pairwise"],
        response_types_supported: ["id_token"],
        id_token_signing_alg_values_supported: ["RS256"],
        claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_id", "repository_owner_id"],
        scopes_supported: ["openid"],
      });
    }
    if (url.pathname === "/.well-known/jwks") return send(res, 200, jwks);
    if (url.pathname === "/token") {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const job = bearer ? jobs.get(bearer) : undefined;
      if (!job) return send(res, 401, { message: "Bad credentials" });
      const audience = url.searchParams.get("audience");
      if (!audience) return send(res, 400, { message: "this stand-in always wants an audience" });
      issued++;
      return send(res, 200, { count: 1, value: await sign(job, audience, privateKey) });
    }
    return send(res, 404, { message: "Not Found" });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { message: "internal error" }));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuerUrl: base,
    job(overrides = {}) {
      const job = { ...DEFAULT_JOB, ...overrides };
      const requestToken = randomBytes(24).toString("base64url");
      jobs.set(requestToken, job);
      return {
        // Like the runner's: a URL that already has a query, to which the toolkit appends &audience=.
        ACTIONS_ID_TOKEN_REQUEST_URL: `${base}/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
        GITHUB_REPOSITORY: job.repository,
        GITHUB_SHA: job.sha,
      };
    },
    issued: () => issued,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

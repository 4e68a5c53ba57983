// Trust-policy matching and the workload-token hit path, in-process. Runtime-agnostic (no node: imports): the
// bench runs it under Node and under Deno, as it does handler-cost.ts.
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import {
  cachedTrustRegistry,
  compilePolicies,
  createJwtSwapProxy,
  matchPolicies,
  type TrustPolicyRow,
  type TrustRegistry,
  type UrlIssuer,
} from "@fedjwt/proxy";

/** What matching costs for one issuer with many policies, and the handler's hit path for a workload token. */
export interface PolicyCost {
  /** Enabled policies on the one issuer. */
  policies: number;
  /** matchPolicies for a token that exactly one of them admits, ms per token. */
  matchMs: number;
  /** matchPolicies for a token that none admits (a repository no policy pins), ms per token. */
  noMatchMs: number;
  /** Compiling all the policies, once per registry read, ms (best of the rounds). */
  compileMs: number;
  /** The handler on a verified-token cache hit for a workload token (net of the fake upstream), ms. */
  hitMs: number;
  /** The handler on a miss for a workload token (RS256 verify, matching, HS256 re-sign, store), ms. */
  missMs: number;
  rounds: number;
}

const ISSUER = "https://token.actions.githubusercontent.com";
const AUD = "https://project.example";

/** `n` GitHub Actions policies on one issuer: repositories 1..n of owner 74, each with an environment pin on every other one. */
function policies(n: number): TrustPolicyRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    writer: `writer-${i % 50}`,
    provider: "github-actions",
    conditions: { repository_owner_id: "74", repository_id: String(1_000_000 + i), ...(i % 2 ? { environment: "production" } : {}) },
    allow_self_hosted: false,
    allow_events: [],
    writer_policy: {
      db_role: "federated_writer",
      db_role_valid: true,
      allowed_roles: ["r"],
      max_token_lifetime_seconds: 300,
      require_jti: false,
    },
  }));
}

function claims(repositoryId: string, environment?: string): Record<string, unknown> {
  return {
    iss: ISSUER,
    aud: AUD,
    sub: `repo:octo-org/r${repositoryId}:ref:refs/heads/main`,
    repository: `octo-org/r${repositoryId}`,
    repository_owner_id: "74",
    repository_id: repositoryId,
    ref: "refs/heads/main",
    sha: "d6b4b3c3a1e0f5e2c0a7d5e8f9a0b1c2d3e4f5a6",
    event_name: "push",
    workflow: "deploy",
    run_id: "1",
    run_attempt: "1",
    runner_environment: "github-hosted",
    ...(environment ? { environment } : {}),
  };
}

/**
 * Matching with `n` policies on one issuer (a token one policy admits, and one none admits), compiling them,
 * and the handler with those policies: the same workload token again (hit) and new tokens (miss). Each case
 * keeps its best of `rounds` rounds; the fake upstream's own cost is subtracted from the handler's.
 */
export async function measurePolicyCost(n = 1000, iterations = 20_000, rounds = 7): Promise<PolicyCost> {
  const rows = policies(n);
  const issuer: UrlIssuer = {
    issuer_url: ISSUER,
    jwks_uri: "https://keys.invalid/jwks",
    token_kind: "id_token",
    algs: ["RS256"],
    max_lifetime_seconds: 900,
    clock_tolerance_seconds: 30,
  };
  const compiled = compilePolicies(issuer, rows);
  const hit = claims(String(1_000_000 + n - 2)); // an even index: no environment pin, one policy admits it
  const miss = claims("42");
  if (!matchPolicies(compiled, hit).ok || matchPolicies(compiled, miss).ok)
    throw new Error("the bench's policies do not match as intended");

  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" }] };
  const trust: TrustRegistry = { lookup: (url) => Promise.resolve(url === ISSUER ? { issuer, policies: compiled } : null) };
  const upstream = () => Promise.resolve(new Response('[{"id":1}]', { headers: { "content-type": "application/json" } }));
  const fetcher: typeof fetch = (input) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    return url === issuer.jwks_uri ? Promise.resolve(Response.json(jwks)) : upstream();
  };
  const make = () =>
    createJwtSwapProxy({
      supabaseUrl: "http://upstream.invalid",
      serviceKey: "sb_secret_x",
      apiKey: "sb_publishable_x",
      audience: AUD,
      signingKey: { hs256Secret: "x".repeat(40) },
      registry: { lookup: () => Promise.resolve(null), consumeJti: () => Promise.resolve(true) },
      trustRegistry: cachedTrustRegistry(trust, { ttlMs: 3_600_000 }),
      fetch: fetcher,
      logger: () => undefined,
      usage: false,
    });
  const sign = (c: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...c, iat: now, exp: now + 300, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "RS256", kid: "k1", typ: "JWT" })
      .sign(privateKey);
  };
  const handlerN = 2000;
  const one = await sign(hit);
  const fresh = await Promise.all(Array.from({ length: handlerN }, () => sign(hit)));
  const requests = (token: (i: number) => string) =>
    Array.from(
      { length: handlerN },
      (_, i) => new Request("http://gw/rest/orders?select=id", { headers: { authorization: `Bearer ${token(i)}` } }),
    );
  const time = async (handler: (r: Request) => Promise<Response>, reqs: Request[]) => {
    const start = performance.now();
    for (const r of reqs) {
      const res = await handler(r);
      if (res.status !== 200) throw new Error(`the bench's workload token was refused: ${res.status} ${await res.text()}`);
      await res.text();
    }
    return (performance.now() - start) / reqs.length;
  };
  const best = { compile: Infinity, match: Infinity, none: Infinity, fake: Infinity, hit: Infinity, miss: Infinity };
  let sink = 0;
  for (let round = -1; round < rounds; round++) {
    // round -1 warms up
    let s = performance.now();
    if (compilePolicies(issuer, rows).all.length !== n) throw new Error("compiled another number of policies");
    const compile = performance.now() - s;
    s = performance.now();
    for (let i = 0; i < iterations; i++) if (matchPolicies(compiled, hit).ok) sink++;
    const match = (performance.now() - s) / iterations;
    s = performance.now();
    for (let i = 0; i < iterations; i++) if (matchPolicies(compiled, miss).ok) sink++;
    const none = (performance.now() - s) / iterations;
    const fake = await time(
      () => upstream(),
      requests(() => one),
    );
    const hitMs = await time(
      make(),
      requests(() => one),
    );
    const missMs = await time(
      make(),
      requests((i) => fresh[i]!),
    );
    if (round >= 0) {
      best.compile = Math.min(best.compile, compile);
      best.match = Math.min(best.match, match);
      best.none = Math.min(best.none, none);
      best.fake = Math.min(best.fake, fake);
      best.hit = Math.min(best.hit, hitMs);
      best.miss = Math.min(best.miss, missMs);
    }
  }
  if (sink !== (rounds + 1) * iterations) throw new Error("matching gave different answers across rounds");
  return {
    policies: n,
    matchMs: best.match,
    noMatchMs: best.none,
    compileMs: best.compile,
    hitMs: best.hit - best.fake,
    missMs: best.miss - best.fake,
    rounds,
  };
}

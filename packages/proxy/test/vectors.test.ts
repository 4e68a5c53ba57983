// The token contract's test vectors (docs/token-vectors.json) against the proxy handler in-process: every
// recipe signed now, every fixed token with the clock set to `fixed.now`. The same vectors run through the
// real function under Deno in deno-function.test.ts.
import { calculateJwkThumbprint } from "jose";
import { describe, expect, it } from "vitest";
import { REASONS } from "../src/reasons.ts";
import { harness, request } from "../src/testing.ts";
import { buildToken, loadVectors, signExactly, vectorRows, vectorTrust, verdictOf, type Vector } from "./vectors.ts";

const v = loadVectors();

/** A fresh gateway over the vectors' issuers (a fresh jti store each time), with an optional fixed clock. */
function gateway(nowMs?: number) {
  const h = harness([], { audience: v.audience, ...(nowMs !== undefined ? { now: () => nowMs } : {}) });
  h.project.rows.push(...vectorRows(v));
  const trust = vectorTrust(v, (i) => `http://127.0.0.1:9/vectors-jwks/${i}`);
  for (const [url, doc] of trust.docs) h.project.trust.set(url, doc);
  for (const [uri, body] of trust.jwks) h.project.jwks.set(uri, { body });
  return h;
}

async function send(h: ReturnType<typeof gateway>, token: string | null) {
  const before = h.project.calls.length;
  const res = await h.handler(request("/functions/v1/rest/widgets?select=id", token));
  return verdictOf(res, h.project.calls.length > before);
}

describe("token vectors (in-process)", () => {
  it.each(v.vectors.map((x): [string, Vector] => [x.name, x]))("%s", async (_name, vector) => {
    const h = gateway();
    const token = await buildToken(v, vector, Math.floor(Date.now() / 1000));
    if (vector.send_twice) expect(await send(h, token)).toEqual({ verdict: "accept" });
    expect(await send(h, token)).toEqual(vector.expect);
  });

  it.each(v.fixed.tokens.map((x) => [x.name, x] as const))("fixed: %s", async (_name, fixed) => {
    // Ed25519 is deterministic: the recipe re-signs to the very string, so the string and the recipe agree.
    expect(await signExactly(fixed.header, fixed.claims, v.keys[fixed.key]!)).toBe(fixed.token);
    expect(await send(gateway(v.fixed.now * 1000), fixed.token)).toEqual(fixed.expect);
  });

  it("covers every reason code a token can trigger, and names only real ones", () => {
    const expected = new Set([...v.vectors, ...v.fixed.tokens].flatMap((x) => (x.expect.verdict === "reject" ? [x.expect.code] : [])));
    for (const code of expected) expect(REASONS, code).toHaveProperty(code);
    // Codes no token can cause: the request's path, method, headers, body or rate, or the gateway's own state.
    const notFromTokens = new Set([
      "schema_not_allowed",
      "prefer_not_allowed",
      "plan_not_allowed",
      "path_not_allowed",
      "method_not_allowed",
      "body_too_large",
      "body_timeout",
      "rate_limited",
      "registry_unavailable",
      "jwks_unavailable",
      "jwks_too_large",
      "discovery_unavailable",
      "discovery_issuer_mismatch",
      "proxy_misconfigured",
      "upstream_unreachable",
      "upstream_timeout",
      "internal_error",
    ]);
    const fromTokens = Object.keys(REASONS).filter((c) => !notFromTokens.has(c));
    expect(fromTokens.filter((c) => !expected.has(c))).toEqual([]);
  });

  it("every key's kid is its RFC 7638 SHA-256 thumbprint, and the private halves match the public ones", async () => {
    for (const [name, key] of Object.entries(v.keys)) {
      expect(await calculateJwkThumbprint(key.public_jwk, "sha256"), name).toBe(key.kid);
      expect(await calculateJwkThumbprint(key.private_jwk, "sha256"), name).toBe(key.kid);
    }
  });
});

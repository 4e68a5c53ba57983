// Cases shared by the Deno and Bun suites (test/deno, test/bun): the same contract on every runtime.
import { signMultiIssuerJwt, type GeneratedKeyPair } from "../src/index.ts";

/** Calls the signer must refuse, each with the stable code it must refuse with. */
export function refusalCases(k: GeneratedKeyPair): Array<[string, () => Promise<unknown>]> {
  return [
    ["audience_missing", () => signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: "" })],
    ["lifetime_too_long", () => signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: "a", expiresIn: 301 })],
    [
      "claim_reserved",
      () => signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: "a", claims: { role: "service_role" } }),
    ],
    ["alg_key_mismatch", () => signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: "a", alg: "RS256" })],
  ];
}

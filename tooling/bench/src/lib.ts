// Helpers shared by the bench and load scripts.
import { generateKeyPair, type GeneratedKeyPair, type SupportedAlg } from "@fedjwt/signer";
import type { KeyRegistry } from "@fedjwt/proxy";

/** Headers for the Data API with a (legacy JWT) service_role key. */
export function serviceHeaders(serviceKey: string): Record<string, string> {
  return { apikey: serviceKey, authorization: `Bearer ${serviceKey}`, "content-type": "application/json" };
}

/** A new ES256 writer registered through the Data API (what `fedjwt register` does, without the CLI). */
export async function registerWriter(
  apiUrl: string,
  serviceKey: string,
  issuer: string,
  allowedRoles: string[],
): Promise<GeneratedKeyPair> {
  const keys = await generateKeyPair();
  const headers = serviceHeaders(serviceKey);
  for (const [table, row] of [
    ["jwt_issuers", { issuer, allowed_roles: allowedRoles }],
    ["jwt_public_keys", { issuer, kid: keys.kid, alg: keys.alg, public_key_pem: keys.publicKeyPem }],
  ] as const) {
    const res = await fetch(`${apiUrl}/rest/v1/${table}`, { method: "POST", headers, body: JSON.stringify(row) });
    if (!res.ok) throw new Error(`registering ${issuer} (${table}): ${res.status} ${await res.text()}`);
  }
  return keys;
}

/** An in-memory registry with one key for any issuer, allowed role "r" (in-process measurements). */
export function memoryRegistry(keys: GeneratedKeyPair, alg: SupportedAlg = keys.alg): KeyRegistry {
  return {
    lookup: (issuer) =>
      Promise.resolve({
        issuer,
        policy: {
          db_role: "federated_writer",
          db_role_valid: true,
          allowed_roles: ["r"],
          max_token_lifetime_seconds: 300,
          require_jti: false,
        },
        keys: [
          {
            issuer,
            kid: keys.kid,
            alg,
            public_key_pem: keys.publicKeyPem,
            public_jwk: null,
            jwks_uri: null,
            usable: true,
            not_before: null,
            expires_at: null,
          },
        ],
      }),
    consumeJti: () => Promise.resolve(true),
  };
}

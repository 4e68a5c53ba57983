// Attacks through the whole chain: what a registered writer (or anyone) cannot do.
import { readFileSync } from "node:fs";
import { createSigner, generateKeyPair } from "@fedjwt/signer";
import { importPKCS8, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { keyDir, keygen, register, useTarget, viaGateway } from "./target.ts";

const target = useTarget();
let signer: Awaited<ReturnType<typeof createSigner>>;
let privateKeyPem: string;

beforeAll(async () => {
  const t = target();
  const keys = await keygen(t, keyDir(), "security-probe");
  await register(t, ["--issuer", "security-probe", "--public-key", keys.publicKey, "--allowed-role", "orders_writer"]);
  privateKeyPem = readFileSync(keys.privateKey, "utf8");
  signer = await createSigner({ privateKey: privateKeyPem, issuer: "security-probe", audience: t.audience });
});

describe("the registry cannot be read or written through the gateway", () => {
  it.each(["jwt_issuers", "jwt_public_keys", "jwt_registry", "jwt_registry_audit"])("GET %s → 403 42501", async (table) => {
    const r = await viaGateway(target(), `${table}?select=*`, await signer.sign({ roles: ["orders_writer"] }));
    expect({ status: r.status, code: (r.body as { code: string }).code }).toEqual({ status: 403, code: "42501" });
  });

  it.each([
    ["POST", "jwt_issuers", { issuer: "sneaky", db_role: "authenticated", allowed_roles: ["widgets_writer"] }],
    ["PATCH", "jwt_issuers?issuer=eq.security-probe", { allowed_roles: ["widgets_writer", "inventory_writer"] }],
    ["PATCH", "jwt_public_keys?issuer=eq.security-probe", { is_active: true }],
    ["DELETE", "jwt_registry_audit", undefined],
    ["POST", "rpc/consume_jwt_id", { p_issuer: "x", p_jti: "y", p_expires_at: "2030-01-01T00:00:00Z" }],
    ["POST", "rpc/record_rate_windows", { p_instance: "6f0c1a8e-0000-4000-8000-000000000001", p_counts: [] }],
  ] as const)("%s %s → 403 42501", async (method, path, body) => {
    const r = await viaGateway(target(), path, await signer.sign({ roles: ["orders_writer"] }), {
      method,
      headers: { "content-type": "application/json" },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    expect({ status: r.status, code: (r.body as { code: string }).code }).toEqual({ status: 403, code: "42501" });
  });
});

describe("no token can become service_role", () => {
  it("roles: [service_role] → 403 role_not_allowed", async () => {
    const r = await viaGateway(target(), "orders", await signer.sign({ roles: ["service_role", "orders_writer"] }));
    expect({ status: r.status, code: (r.body as { code: string }).code }).toEqual({ status: 403, code: "role_not_allowed" });
  });

  it("role: service_role (the compatibility claim, which the signer refuses to mint) → 403 role_not_allowed", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      iss: "security-probe",
      aud: target().audience,
      sub: "x",
      iat: now,
      exp: now + 60,
      role: "service_role",
    })
      .setProtectedHeader({ alg: "ES256", kid: signer.kid })
      .sign(await importPKCS8(privateKeyPem, "ES256"));
    const r = await viaGateway(target(), "jwt_issuers", token);
    expect({ status: r.status, code: (r.body as { code: string }).code }).toEqual({ status: 403, code: "role_not_allowed" });
  });

  it("the project's own service_role key as the bearer → 401 alg_not_allowed", async () => {
    const r = await viaGateway(target(), "jwt_issuers", target().serviceKey);
    expect({ status: r.status, code: (r.body as { code: string }).code }).toEqual({ status: 401, code: "alg_not_allowed" });
  });

  it("an HS256 token claiming service_role, signed with a guessed secret → 401 alg_not_allowed", async () => {
    const forged = await new SignJWT({ role: "service_role", iss: "security-probe" })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("super-secret-jwt-token-with-at-least-32-characters-long"));
    const r = await viaGateway(target(), "jwt_issuers", forged);
    expect({ status: r.status, code: (r.body as { code: string }).code }).toEqual({ status: 401, code: "alg_not_allowed" });
  });

  it("a key that is not registered → 401 bad_signature (victim's iss) / unknown_issuer (own iss)", async () => {
    const stranger = await generateKeyPair();
    const asVictim = await createSigner({
      privateKey: stranger.privateKeyPem,
      issuer: "security-probe",
      audience: target().audience,
      kid: signer.kid,
    });
    const forged = await viaGateway(target(), "orders", await asVictim.sign({ roles: ["orders_writer"] }));
    expect({ status: forged.status, code: (forged.body as { code: string }).code }).toEqual({ status: 401, code: "bad_signature" });
    const asSelf = await createSigner({ privateKey: stranger.privateKeyPem, issuer: "stranger", audience: target().audience });
    const unknown = await viaGateway(target(), "orders", await asSelf.sign());
    expect({ status: unknown.status, code: (unknown.body as { code: string }).code }).toEqual({ status: 401, code: "unknown_issuer" });
  });
});

describe("the gateway only reaches /rest/v1 tables", () => {
  it.each(["auth/v1/user", "storage/v1/object/public/x", "..%2Fauth%2Fv1%2Fuser", "rest/v1/../../auth/v1/user"])(
    "%s → 404 path_not_allowed",
    async (path) => {
      const r = await viaGateway(target(), path, await signer.sign({ roles: ["orders_writer"] }));
      expect({ status: r.status, code: (r.body as { code: string }).code }).toEqual({ status: 404, code: "path_not_allowed" });
    },
  );

  it("the Data API itself still needs an apikey", async () => {
    const r = await fetch(`${target().apiUrl}/rest/v1/orders`);
    expect({ status: r.status, message: ((await r.json()) as { message: string }).message }).toEqual({
      status: 401,
      message: "No API key found in request",
    });
  });
});

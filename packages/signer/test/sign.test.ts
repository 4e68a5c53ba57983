import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair as joseGenerateKeyPair,
  importSPKI,
  jwtVerify,
} from "jose";
import { describe, expect, it } from "vitest";
import {
  createSigner,
  GATEWAY_RESERVED_CLAIMS,
  generateKeyPair,
  publicMembers,
  REGISTERED_CLAIMS,
  SignerError,
  signMultiIssuerJwt,
  SUPPORTED_ALGS,
  toJwks,
  type GeneratedKeyPair,
  type SupportedAlg,
} from "../src/index.ts";

const AUD = "https://target.example";
const keys = new Map<SupportedAlg, GeneratedKeyPair>();
async function pair(alg: SupportedAlg): Promise<GeneratedKeyPair> {
  let k = keys.get(alg);
  if (!k) keys.set(alg, (k = await generateKeyPair({ alg })));
  return k;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SignerError);
    return (e as SignerError).code;
  }
  throw new Error("expected a SignerError, but the call succeeded");
}

describe.each(SUPPORTED_ALGS)("%s", (alg) => {
  it("generates PEMs and a public JWK whose kid is the RFC 7638 thumbprint", async () => {
    const k = await pair(alg);
    expect(k.alg).toBe(alg);
    expect(k.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(k.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(k.publicJwk).toMatchObject({ alg, use: "sig", kid: k.kid });
    expect(k.publicJwk).not.toHaveProperty("d");
    const { kid: _kid, alg: _alg, use: _use, ...bare } = k.publicJwk;
    expect(k.kid).toBe(await calculateJwkThumbprint(bare, "sha256"));
  });

  it("signs a token that jose verifies with the SPKI PEM", async () => {
    const k = await pair(alg);
    const token = await signMultiIssuerJwt({
      privateKey: k.privateKeyPem,
      issuer: "orders-service",
      audience: AUD,
      subject: "worker-1",
      roles: ["orders_writer"],
      claims: { tenant: "acme" },
    });
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg, kid: k.kid, typ: "JWT" });
    const { payload } = await jwtVerify(token, await importSPKI(k.publicKeyPem, alg), {
      issuer: "orders-service",
      audience: AUD,
      algorithms: [alg],
    });
    expect(payload).toMatchObject({ iss: "orders-service", aud: AUD, sub: "worker-1", roles: ["orders_writer"], tenant: "acme" });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(payload.jti).toMatch(/^[0-9a-f]{32}$/);
  });

  it("signs a token that jose verifies with the JWKS from toJwks", async () => {
    const k = await pair(alg);
    const signer = await createSigner({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD });
    expect(signer.kid).toBe(k.kid);
    expect(signer.alg).toBe(alg);
    const jwks = await toJwks([k.publicKeyPem]);
    expect(jwks.keys[0]).toEqual(k.publicJwk);
    const { payload, protectedHeader } = await jwtVerify(await signer.sign(), createLocalJWKSet(jwks), { audience: AUD });
    expect(protectedHeader.kid).toBe(k.kid);
    expect(payload.sub).toBe("svc");
  });

  it("accepts the private key as a JWK object, JWK text and CryptoKey", async () => {
    const { privateKey, publicKey } = await joseGenerateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
    const jwk = await exportJWK(privateKey);
    for (const input of [jwk, JSON.stringify(jwk), privateKey]) {
      const token = await signMultiIssuerJwt({ privateKey: input, issuer: "svc", audience: AUD });
      await expect(jwtVerify(token, publicKey)).resolves.toBeTruthy();
    }
  });

  it("a private JWK's own kid heads its tokens (as register records it); an explicit kid wins; no kid: the thumbprint", async () => {
    const { privateKey } = await joseGenerateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
    const bare = await exportJWK(privateKey);
    const named = { ...bare, kid: "orders-2026-11" };
    for (const input of [named, JSON.stringify(named)]) {
      const signer = await createSigner({ privateKey: input, issuer: "svc", audience: AUD });
      expect(signer.kid).toBe("orders-2026-11");
      expect(decodeProtectedHeader(await signer.sign()).kid).toBe("orders-2026-11");
    }
    expect((await createSigner({ privateKey: named, issuer: "svc", audience: AUD, kid: "explicit" })).kid).toBe("explicit");
    const thumb = await calculateJwkThumbprint(publicMembers(bare), "sha256");
    expect((await createSigner({ privateKey: bare, issuer: "svc", audience: AUD })).kid).toBe(thumb);
    expect((await createSigner({ privateKey: { ...bare, kid: "" }, issuer: "svc", audience: AUD })).kid).toBe(thumb);
  });

  it("refuses a key of another algorithm", async () => {
    const other = SUPPORTED_ALGS.find((a) => a !== alg)!;
    const k = await pair(alg);
    expect(await refusal(signMultiIssuerJwt({ privateKey: k.privateKeyPem, alg: other, issuer: "svc", audience: AUD }))).toBe(
      "alg_key_mismatch",
    );
  });
});

describe("lifetime", () => {
  it("uses the injected clock, the default 60 s and per-call overrides", async () => {
    const k = await pair("ES256");
    const signer = await createSigner({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD, now: () => 1_700_000_000_123 });
    const verify = async (t: string) =>
      (await jwtVerify(t, await importSPKI(k.publicKeyPem, "ES256"), { currentDate: new Date(1_700_000_001_000) })).payload;
    expect(await verify(await signer.sign())).toMatchObject({ iat: 1_700_000_000, exp: 1_700_000_060 });
    expect(await verify(await signer.sign({ expiresIn: "5m" }))).toMatchObject({ exp: 1_700_000_300 });
    expect(await verify(await signer.sign({ expiresIn: 10 }))).toMatchObject({ exp: 1_700_000_010 });
  });

  it("allows up to 3600 s only when asked", async () => {
    const k = await pair("ES256");
    const signer = await createSigner({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD, allowLongLifetime: true });
    const { payload } = await jwtVerify(await signer.sign({ expiresIn: "1h" }), await importSPKI(k.publicKeyPem, "ES256"));
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it.each([
    [301, "lifetime_too_long", false],
    ["6m", "lifetime_too_long", false],
    [3601, "lifetime_too_long", true],
    ["2h", "lifetime_too_long", true],
    [0, "lifetime_invalid", false],
    [-5, "lifetime_invalid", false],
    [1.5, "lifetime_invalid", false],
    ["soon", "lifetime_invalid", false],
    ["10d", "lifetime_invalid", false],
    [Number.NaN, "lifetime_invalid", false],
  ] as const)("refuses %s (%s)", async (expiresIn, code, allowLongLifetime) => {
    const k = await pair("ES256");
    expect(
      await refusal(signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD, expiresIn, allowLongLifetime })),
    ).toBe(code);
  });
});

describe("refusals", () => {
  it.each([
    ["missing", undefined, "issuer_missing"],
    ["empty", "", "issuer_missing"],
    ["upper case", "Orders", "issuer_invalid"],
    ["slash", "a/b", "issuer_invalid"],
    ["leading dot", ".svc", "issuer_invalid"],
    ["64 characters", "a".repeat(64), "issuer_invalid"],
    ["not a string", 42, "issuer_invalid"],
    ["supabase (the hosted anon/service keys' iss)", "supabase", "issuer_invalid"],
    ["supabase-demo (the local keys' iss)", "supabase-demo", "issuer_invalid"],
    ["containing supabase", "my-supabase.svc", "issuer_invalid"],
  ])("issuer %s", async (_label, issuer, code) => {
    const k = await pair("ES256");
    expect(await refusal(signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: issuer as string, audience: AUD }))).toBe(code);
  });

  it.each([undefined, "", "   ", 7])("audience %s", async (audience) => {
    const k = await pair("ES256");
    expect(await refusal(signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: audience as string }))).toBe(
      "audience_missing",
    );
  });

  it.each(["none", "HS256", "ES384", "PS256", "es256"])("alg %s", async (alg) => {
    const k = await pair("ES256");
    expect(await refusal(signMultiIssuerJwt({ privateKey: k.privateKeyPem, alg: alg as SupportedAlg, issuer: "svc", audience: AUD }))).toBe(
      "alg_unsupported",
    );
    expect(await refusal(generateKeyPair({ alg: alg as SupportedAlg }))).toBe("alg_unsupported");
  });

  it.each([...REGISTERED_CLAIMS, ...GATEWAY_RESERVED_CLAIMS])("reserved claim %s", async (claim) => {
    const k = await pair("ES256");
    expect(await refusal(signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD, claims: { [claim]: "x" } }))).toBe(
      "claim_reserved",
    );
  });

  it.each([
    ["not an array", "orders_writer"],
    ["a bad name", ["orders writer"]],
    ["a non-string", [1]],
    ["a duplicate", ["a", "a"]],
    ["an empty name", [""]],
  ])("roles with %s", async (_label, roles) => {
    const k = await pair("ES256");
    expect(await refusal(signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD, roles: roles as string[] }))).toBe(
      "roles_invalid",
    );
  });

  it("custom claims over 2048 bytes of JSON (the gateway's writer_claims limit)", async () => {
    const k = await pair("ES256");
    const sign = (n: number) =>
      signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD, claims: { note: "x".repeat(n) } });
    expect(await refusal(sign(2100))).toBe("claims_invalid");
    expect(typeof (await sign(1000))).toBe("string");
  });

  it.each([[[1, 2]], [null], ["text"]])("claims that are not an object: %j", async (claims) => {
    const k = await pair("ES256");
    expect(
      await refusal(
        signMultiIssuerJwt({
          privateKey: k.privateKeyPem,
          issuer: "svc",
          audience: AUD,
          claims: claims as unknown as Record<string, unknown>,
        }),
      ),
    ).toBe("claims_invalid");
  });

  it.each([[""], ["x".repeat(257)]])("subject %#", async (subject) => {
    const k = await pair("ES256");
    expect(await refusal(signMultiIssuerJwt({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD, subject }))).toBe(
      "subject_invalid",
    );
  });

  it("a public key given as the private key", async () => {
    const k = await pair("ES256");
    expect(await refusal(signMultiIssuerJwt({ privateKey: k.publicKeyPem, issuer: "svc", audience: AUD }))).toBe("key_not_private");
    expect(await refusal(signMultiIssuerJwt({ privateKey: k.publicJwk, issuer: "svc", audience: AUD }))).toBe("key_not_private");
  });

  it.each([
    ["garbage", "not a key"],
    ["a truncated PEM", "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----"],
    ["a legacy EC PEM", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----"],
    ["broken JWK text", "{not json"],
    ["a symmetric JWK", { kty: "oct", k: "c2VjcmV0" }],
    ["a P-384 JWK", { kty: "EC", crv: "P-384", x: "a", y: "b", d: "c" }],
  ])("%s", async (_label, privateKey) => {
    expect(await refusal(signMultiIssuerJwt({ privateKey: privateKey as string, issuer: "svc", audience: AUD }))).toBe("key_invalid");
  });

  it("an RSA key under 2048 bits", async () => {
    const { privateKey } = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    expect(await refusal(signMultiIssuerJwt({ privateKey: await exportJWK(privateKey), issuer: "svc", audience: AUD }))).toBe(
      "key_invalid",
    );
    expect(await refusal(generateKeyPair({ alg: "RS256", modulusLength: 1024 }))).toBe("key_invalid");
  });

  it("a JWK whose alg member contradicts its key type", async () => {
    const { privateKey } = await joseGenerateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), alg: "RS256" };
    expect(await refusal(signMultiIssuerJwt({ privateKey: jwk, issuer: "svc", audience: AUD }))).toBe("alg_key_mismatch");
  });

  it("a non-extractable CryptoKey without a kid", async () => {
    const { privateKey } = await joseGenerateKeyPair("ES256");
    expect(await refusal(createSigner({ privateKey, issuer: "svc", audience: AUD }))).toBe("kid_required");
    const signer = await createSigner({ privateKey, issuer: "svc", audience: AUD, kid: "k1" });
    expect(decodeProtectedHeader(await signer.sign()).kid).toBe("k1");
  });

  it("error messages never contain key material", async () => {
    const k = await pair("RS256");
    const body = k.privateKeyPem.split("\n")[1]!;
    for (const p of [
      signMultiIssuerJwt({ privateKey: k.privateKeyPem, alg: "ES256", issuer: "svc", audience: AUD }),
      signMultiIssuerJwt({ privateKey: k.privateKeyPem.slice(0, 200), issuer: "svc", audience: AUD }),
    ]) {
      const err = await p.catch((e: Error) => e);
      expect(String((err as Error).message)).not.toContain(body.slice(0, 20));
    }
  });
});

describe("toJwks", () => {
  it("mixes algorithms and keeps explicit kids", async () => {
    const a = await pair("ES256");
    const b = await pair("EdDSA");
    const jwks = await toJwks([{ publicKey: a.publicKeyPem, kid: "custom" }, b.publicJwk]);
    expect(jwks.keys.map((k) => [k.kid, k.alg])).toEqual([
      ["custom", "ES256"],
      [b.kid, "EdDSA"],
    ]);
  });

  it("refuses private keys and duplicate kids", async () => {
    const a = await pair("ES256");
    expect(await refusal(toJwks([a.privateKeyPem]))).toBe("key_is_private");
    const { privateKey } = await joseGenerateKeyPair("ES256", { extractable: true });
    expect(await refusal(toJwks([await exportJWK(privateKey)]))).toBe("key_is_private");
    expect(await refusal(toJwks([a.publicKeyPem, a.publicJwk]))).toBe("kid_duplicate");
    expect(await refusal(toJwks([{ publicKey: a.publicKeyPem, alg: "RS256" }]))).toBe("alg_key_mismatch");
  });
});

describe("token(): reuse for per-request callbacks", () => {
  async function clocked(extra: { reuseFraction?: number; requireJti?: boolean; expiresIn?: number } = {}) {
    let t = 1_700_000_000_000;
    const k = await pair("ES256");
    const signer = await createSigner({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD, now: () => t, ...extra });
    return { signer, advance: (ms: number) => (t += ms) };
  }

  it("hands out the same token until half its lifetime has passed, then a fresh one", async () => {
    const { signer, advance } = await clocked();
    const first = await signer.token({ roles: ["orders_writer"] });
    advance(29_000);
    expect(await signer.token({ roles: ["orders_writer"] })).toBe(first);
    advance(1_000);
    const second = await signer.token({ roles: ["orders_writer"] });
    expect(second).not.toBe(first);
    const k = await pair("ES256");
    const { payload } = await jwtVerify(second, await importSPKI(k.publicKeyPem, "ES256"), {
      audience: AUD,
      currentDate: new Date(1_700_000_030_000),
    });
    expect(payload.iat).toBe(1_700_000_030);
  });

  it("never shares a token between different options", async () => {
    const { signer } = await clocked();
    const a = await signer.token({ roles: ["orders_writer"] });
    expect(await signer.token({ roles: ["inventory_writer"] })).not.toBe(a);
    expect(await signer.token({ roles: ["orders_writer"], subject: "job-2" })).not.toBe(a);
    expect(await signer.token({ roles: ["orders_writer"], claims: { tenant: "t1" } })).not.toBe(a);
    expect(await signer.token({ roles: ["orders_writer"], expiresIn: 30 })).not.toBe(a);
    expect(await signer.token({ roles: ["orders_writer"] })).toBe(a);
  });

  it("concurrent first calls share one signing", async () => {
    const { signer } = await clocked();
    const tokens = await Promise.all(Array.from({ length: 10 }, () => signer.token()));
    expect(new Set(tokens).size).toBe(1);
  });

  it("never reuses with requireJti or reuseFraction 0; sign() is always fresh", async () => {
    for (const extra of [{ requireJti: true }, { reuseFraction: 0 }]) {
      const { signer } = await clocked(extra);
      expect(await signer.token()).not.toBe(await signer.token());
    }
    const { signer } = await clocked();
    expect(await signer.sign()).not.toBe(await signer.sign());
  });

  it("refuses a reuse fraction outside [0, 1) and does not remember a refused mint", async () => {
    const k = await pair("ES256");
    for (const reuseFraction of [1, -0.1, Number.NaN]) {
      expect(await refusal(createSigner({ privateKey: k.privateKeyPem, issuer: "svc", audience: AUD, reuseFraction }))).toBe(
        "reuse_invalid",
      );
    }
    const { signer } = await clocked();
    expect(await refusal(signer.token({ roles: ["bad role"] }))).toBe("roles_invalid");
    expect(await refusal(signer.token({ roles: ["bad role"] }))).toBe("roles_invalid");
  });
});

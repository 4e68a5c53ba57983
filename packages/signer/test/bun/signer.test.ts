// The signer's contract under real Bun: the same TypeScript source, jose from this package's node_modules.
// Run by `pnpm test` (see package.json) with the Bun binary the `bun` npm package installs.
import { expect, test } from "bun:test";
import { createLocalJWKSet, decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import { createSigner, generateKeyPair, SignerError, SUPPORTED_ALGS, toJwks } from "../../src/index.ts";
import { refusalCases } from "../runtime-cases.ts";

for (const alg of SUPPORTED_ALGS) {
  test(`${alg}: sign, then verify with the PEM and with the JWKS`, async () => {
    const k = await generateKeyPair({ alg });
    const signer = await createSigner({ privateKey: k.privateKeyPem, issuer: "bun-writer", audience: "aud-1" });
    const token = await signer.sign({ roles: ["widgets_writer"], subject: "job-7" });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg, kid: k.kid });
    const byPem = await jwtVerify(token, await importSPKI(k.publicKeyPem, alg), { audience: "aud-1", issuer: "bun-writer" });
    expect(byPem.payload.exp! - byPem.payload.iat!).toBe(60);
    expect(byPem.payload.roles).toEqual(["widgets_writer"]);
    const byJwks = await jwtVerify(token, createLocalJWKSet(await toJwks([k.publicJwk])), { audience: "aud-1" });
    expect(byJwks.payload.sub).toBe("job-7");
  });
}

test("refusals carry stable codes under Bun too", async () => {
  const k = await generateKeyPair();
  const cases = refusalCases(k);
  for (const [code, run] of cases) {
    const e = await run().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e instanceof SignerError ? e.code : String(e)).toBe(code);
  }
});

test("token() reuses a young token under Bun too, never across options or with requireJti", async () => {
  let t = 1_700_000_000_000;
  const k = await generateKeyPair();
  const signer = await createSigner({ privateKey: k.privateKeyPem, issuer: "svc", audience: "a", now: () => t });
  const first = await signer.token({ roles: ["widgets_writer"] });
  t += 29_000;
  expect(await signer.token({ roles: ["widgets_writer"] })).toBe(first);
  expect(await signer.token({ roles: ["other_writer"] })).not.toBe(first);
  t += 1_000;
  expect(await signer.token({ roles: ["widgets_writer"] })).not.toBe(first);
  const once = await createSigner({ privateKey: k.privateKeyPem, issuer: "svc", audience: "a", requireJti: true });
  expect(await once.token()).not.toBe(await once.token());
});

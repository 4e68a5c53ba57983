// The signer's contract under real Deno: the same source, imported as TypeScript, with jose resolved from
// this package's node_modules. Run by `pnpm test` (see package.json).
import { createLocalJWKSet, decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import { createSigner, generateKeyPair, SignerError, SUPPORTED_ALGS, toJwks } from "../../src/index.ts";
import { refusalCases } from "../runtime-cases.ts";

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

for (const alg of SUPPORTED_ALGS) {
  Deno.test(`${alg}: sign, then verify with the PEM and with the JWKS`, async () => {
    const k = await generateKeyPair({ alg });
    const signer = await createSigner({ privateKey: k.privateKeyPem, issuer: "deno-writer", audience: "aud-1" });
    const token = await signer.sign({ roles: ["widgets_writer"], subject: "job-7" });
    const header = decodeProtectedHeader(token);
    assert(header.alg === alg && header.kid === k.kid, `header ${JSON.stringify(header)}`);
    const byPem = await jwtVerify(token, await importSPKI(k.publicKeyPem, alg), { audience: "aud-1", issuer: "deno-writer" });
    assert(byPem.payload.exp! - byPem.payload.iat! === 60, "default lifetime is 60 s");
    assert(JSON.stringify(byPem.payload.roles) === '["widgets_writer"]', "roles travel");
    const byJwks = await jwtVerify(token, createLocalJWKSet(await toJwks([k.publicJwk])), { audience: "aud-1" });
    assert(byJwks.payload.sub === "job-7", "subject");
  });
}

Deno.test("refusals carry stable codes under Deno too", async () => {
  const k = await generateKeyPair();
  const cases = refusalCases(k);
  for (const [code, run] of cases) {
    try {
      await run();
      throw new Error(`expected ${code}`);
    } catch (e) {
      assert(e instanceof SignerError && e.code === code, `expected ${code}, got ${String(e)}`);
    }
  }
});

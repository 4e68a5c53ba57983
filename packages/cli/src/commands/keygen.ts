import { join, resolve } from "node:path";
import { generateKeyPair, isSupportedAlg, SUPPORTED_ALGS } from "@fedjwt/signer";
import { CliError } from "../errors.ts";
import { ensureDir, writeNew } from "../files.ts";
import { checkIssuer } from "../issuer.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";
import { targetLabel } from "../target.ts";

const flags = {
  issuer: { type: "string", value: "<name>", required: true, description: 'issuer name, ^[a-z0-9][a-z0-9._-]{0,62}$, without "supabase"' },
  target: { type: "string", value: "<url|name>", required: true, description: 'the Supabase project URL, or a short name like "staging"' },
  alg: { type: "string", value: "<alg>", default: "ES256", description: "ES256, RS256 or EdDSA" },
  out: { type: "string", value: "<dir>", default: "keys", description: "output directory" },
  force: { type: "boolean", default: false, description: "overwrite existing files" },
  json: { type: "boolean", default: false, description: "print the result as JSON" },
} as const satisfies FlagSpecs;

/** `fedjwt keygen`: its flags, help and runner. */
export const keygenCommand = defineCommand({
  name: "keygen",
  summary: "generate a writer keypair for one target",
  usage: ["--issuer <name> --target <url|name> [options]"],
  description: `Generate a signing keypair for one writer (issuer) and one target project.
Use one keypair per writer and target: a token minted for one target then cannot be replayed on another.

Writes into --out:
  <issuer>-<target>.key        private key, PKCS#8 PEM, mode 0600 (keep it secret; give it to the writer only)
  <issuer>-<target>.pub        public key, SPKI PEM (register it on the target)
  <issuer>-<target>.jwk.json   public JWK with kid (RFC 7638 thumbprint), alg and use
<target> is the first label of the target's host (https://prod-abc123.supabase.co → prod-abc123),
"local" for localhost or an IP address, or the --target value itself when it is a plain name.`,
  flags,
  examples: [
    "fedjwt keygen --issuer orders-service --target https://prod-abc123.supabase.co",
    "fedjwt keygen --issuer inventory-service --target staging --alg EdDSA --out keys/next",
  ],
  run: ({ values }, io) => keygen(values, io),
});

/** `fedjwt keygen`: writes a keypair to files named after the issuer and target. */
export async function keygen(values: FlagValues<typeof flags>, io: Io): Promise<void> {
  const issuer = checkIssuer(values.issuer);
  const target = values.target;
  const alg = values.alg;
  if (!isSupportedAlg(alg)) throw new CliError("bad_alg", `--alg ${JSON.stringify(alg)} is not one of ${SUPPORTED_ALGS.join(", ")}`);
  const base = `${issuer}-${targetLabel(target)}`;
  const dir = resolve(values.out);
  const files = { privateKey: join(dir, `${base}.key`), publicKey: join(dir, `${base}.pub`), jwk: join(dir, `${base}.jwk.json`) };

  const pair = await generateKeyPair({ alg });
  await ensureDir(dir);
  // The private key goes first: if it cannot be written, no orphan public key is left behind.
  await writeNew(files.privateKey, pair.privateKeyPem, 0o600, values.force);
  await writeNew(files.publicKey, pair.publicKeyPem, 0o644, values.force);
  await writeNew(files.jwk, `${JSON.stringify(pair.publicJwk, null, 2)}\n`, 0o644, values.force);

  if (values.json) {
    printJson(io, { issuer, target, alg, kid: pair.kid, files });
    return;
  }
  io.out(
    [
      `Generated an ${alg} keypair for issuer "${issuer}" (target ${target})`,
      `  kid          ${pair.kid}`,
      `  private key  ${files.privateKey}  (mode 0600 — give it to the writer only)`,
      `  public key   ${files.publicKey}`,
      `  public JWK   ${files.jwk}`,
    ].join("\n"),
  );
}

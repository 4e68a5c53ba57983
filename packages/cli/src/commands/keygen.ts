import { join, resolve } from "node:path";
import { generateKeyPair, ISSUER_PATTERN, isSupportedAlg, SUPPORTED_ALGS } from "@fedjwt/signer";
import { parseFlags, required } from "../args.ts";
import { CliError } from "../errors.ts";
import { ensureDir, writeNew } from "../files.ts";
import { printJson, type Io } from "../output.ts";
import { targetLabel } from "../target.ts";

export const keygenHelp = `Usage: fedjwt keygen --issuer <name> --target <url|name> [options]

Generate a signing keypair for one writer (issuer) and one target project.
Use one keypair per writer and target: a token minted for one target then cannot be replayed on another.

Writes into --out:
  <issuer>-<target>.key        private key, PKCS#8 PEM, mode 0600 (keep it secret; give it to the writer only)
  <issuer>-<target>.pub        public key, SPKI PEM (register it on the target)
  <issuer>-<target>.jwk.json   public JWK with kid (RFC 7638 thumbprint), alg and use
<target> is the first label of the target's host (https://prod-abc123.supabase.co → prod-abc123),
"local" for localhost or an IP address, or the --target value itself when it is a plain name.

Options:
  --issuer <name>   issuer name, ^[a-z0-9][a-z0-9._-]{0,62}$ (required)
  --target <url>    the Supabase project URL, or a short name like "staging" (required)
  --alg <alg>       ES256 (default), RS256 or EdDSA
  --out <dir>       output directory (default: ./keys)
  --force           overwrite existing files
  --json            print the result as JSON
  -h, --help        show this help`;

/** `fedjwt keygen`: writes a keypair to files named after the issuer and target. */
export async function keygen(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags("keygen", argv, {
    issuer: { type: "string" },
    target: { type: "string" },
    alg: { type: "string", default: "ES256" },
    out: { type: "string", default: "keys" },
    force: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  });
  const issuer = required("keygen", values, "issuer");
  if (!ISSUER_PATTERN.test(issuer)) {
    throw new CliError("bad_issuer", `--issuer ${JSON.stringify(issuer)} must match ^[a-z0-9][a-z0-9._-]{0,62}$`);
  }
  const target = required("keygen", values, "target");
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

import { createSigner, isSupportedAlg, SignerError, SUPPORTED_ALGS, type MintOptions } from "@fedjwt/signer";
import { decodeJwt } from "jose";
import { parseFlags, required } from "../args.ts";
import { CliError } from "../errors.ts";
import { readText } from "../files.ts";
import { printJson, type Io } from "../output.ts";

export const mintHelp = `Usage: fedjwt mint --issuer <name> --key <file> --audience <aud> [options]

Mint one short-lived token signed with a writer's private key, for testing with curl or a client.
Prints the token alone (pipe it), or JSON with --json.

Options:
  --issuer <name>         the registered issuer name (required)
  --key <file>            private key file, PKCS#8 PEM or private JWK (required)
  --audience <aud>        the target's configured audience (required)
  --kid <kid>             key id for the header (default: the key's RFC 7638 thumbprint)
  --alg <alg>             ES256, RS256 or EdDSA (default: taken from the key)
  --sub <subject>         subject claim (default: the issuer name)
  --role <role>           request an application role; repeat for several
  --claim <k=v>           add a string claim; k:=<json> adds a JSON value; repeat for several
  --expires-in <time>     lifetime: seconds or 60s / 5m (default 60s; over 300s needs --allow-long-lifetime)
  --allow-long-lifetime   allow up to 3600s (the gateway still enforces the issuer's own maximum)
  --json                  print {token, issuer, kid, alg, expiresAt} as JSON
  -h, --help              show this help`;

/** Parses repeated `--claim k=v` / `k:=json` flags into a claims object. */
export function parseClaims(pairs: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const pair of pairs) {
    const json = /^([^=:]+):=(.*)$/s.exec(pair);
    const text = /^([^=:]+)=(.*)$/s.exec(pair);
    if (json) {
      try {
        claims[json[1]!] = JSON.parse(json[2]!);
      } catch {
        throw new CliError("bad_claim", `--claim ${JSON.stringify(pair)}: the value after := is not JSON`);
      }
    } else if (text) {
      claims[text[1]!] = text[2]!;
    } else {
      throw new CliError("bad_claim", `--claim ${JSON.stringify(pair)} is not key=value or key:=json`);
    }
  }
  return claims;
}

/** `fedjwt mint`: prints one signed token. */
export async function mint(argv: string[], io: Io): Promise<void> {
  const { values } = parseFlags("mint", argv, {
    issuer: { type: "string" },
    key: { type: "string" },
    audience: { type: "string" },
    kid: { type: "string" },
    alg: { type: "string" },
    sub: { type: "string" },
    role: { type: "string", multiple: true, default: [] },
    claim: { type: "string", multiple: true, default: [] },
    "expires-in": { type: "string", default: "60s" },
    "allow-long-lifetime": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  });
  const issuer = required("mint", values, "issuer");
  const keyFile = required("mint", values, "key");
  const audience = required("mint", values, "audience");
  if (values.alg !== undefined && !isSupportedAlg(values.alg)) {
    throw new CliError("bad_alg", `--alg ${JSON.stringify(values.alg)} is not one of ${SUPPORTED_ALGS.join(", ")}`);
  }
  const privateKey = await readText(keyFile, "key file");
  const claims = parseClaims(values.claim);
  const mintOptions: MintOptions = { claims };
  if (values.role.length > 0) mintOptions.roles = values.role;
  if (values.sub !== undefined) mintOptions.subject = values.sub;
  let token: string;
  let signer;
  try {
    signer = await createSigner({
      privateKey,
      issuer,
      audience,
      expiresIn: values["expires-in"],
      allowLongLifetime: values["allow-long-lifetime"],
      ...(values.kid !== undefined ? { kid: values.kid } : {}),
      ...(isSupportedAlg(values.alg) ? { alg: values.alg } : {}),
    });
    token = await signer.sign(mintOptions);
  } catch (e) {
    // Name the file for key problems; every other SignerError is reported as it is by main().
    if (e instanceof SignerError && /^(key|alg)_/.test(e.code)) throw new CliError(e.code, `${keyFile}: ${e.message}`);
    throw e;
  }
  if (values.json) {
    const exp = decodeJwt(token).exp!;
    printJson(io, { token, issuer, kid: signer.kid, alg: signer.alg, expiresAt: new Date(exp * 1000).toISOString() });
    return;
  }
  io.out(token);
}

import { createSigner, isSupportedAlg, SignerError, SUPPORTED_ALGS, type MintOptions } from "@fedjwt/signer";
import { decodeJwt } from "jose";
import { CliError } from "../errors.ts";
import { readText } from "../files.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";

const flags = {
  issuer: { type: "string", value: "<name>", required: true, description: "the registered issuer name" },
  key: { type: "string", value: "<file>", required: true, description: "private key file, PKCS#8 PEM or private JWK" },
  audience: { type: "string", value: "<aud>", required: true, description: "the target's configured audience" },
  kid: { type: "string", value: "<kid>", description: "key id for the header (default: a JWK's own kid, else the RFC 7638 thumbprint)" },
  alg: { type: "string", value: "<alg>", description: "ES256, RS256 or EdDSA (default: taken from the key)" },
  sub: { type: "string", value: "<subject>", description: "subject claim (default: the issuer name)" },
  role: { type: "string", value: "<role>", multiple: true, default: [], description: "request an application role" },
  claim: { type: "string", value: "<k=v>", multiple: true, default: [], description: "add a string claim; k:=<json> adds a JSON value" },
  "expires-in": {
    type: "string",
    value: "<time>",
    default: "60s",
    description: "lifetime: seconds, or 60s / 5m / 1h (over 300s needs --allow-long-lifetime)",
  },
  "allow-long-lifetime": {
    type: "boolean",
    default: false,
    description: "allow up to 3600s (the gateway still enforces the issuer's own maximum)",
  },
  json: { type: "boolean", default: false, description: "print {token, issuer, kid, alg, expiresAt} as JSON" },
} as const satisfies FlagSpecs;

/** `fedjwt mint`: its flags, help and runner. */
export const mintCommand = defineCommand({
  name: "mint",
  summary: "mint a short-lived token with a writer's private key",
  usage: ["--issuer <name> --key <file> --audience <aud> [options]"],
  description: `Mint one short-lived token signed with a writer's private key, for testing with curl or a client.
Prints the token alone (pipe it), or JSON with --json.`,
  flags,
  examples: [
    "fedjwt mint --issuer orders-service --key keys/orders-service-local.key --audience http://127.0.0.1:54321 --role orders_writer",
  ],
  run: ({ values }, io) => mint(values, io),
});

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
export async function mint(values: FlagValues<typeof flags>, io: Io): Promise<void> {
  const { issuer, key: keyFile, audience } = values;
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
    if (e instanceof SignerError && /^(key|alg)_/.test(e.code)) {
      throw new CliError(e.code.startsWith("alg_") ? "bad_alg" : "bad_key", `${keyFile}: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (values.json) {
    const exp = decodeJwt(token).exp!;
    printJson(io, { token, issuer, kid: signer.kid, alg: signer.alg, expiresAt: new Date(exp * 1000).toISOString() });
    return;
  }
  io.out(token);
}

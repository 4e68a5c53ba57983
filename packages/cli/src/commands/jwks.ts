import { resolve } from "node:path";
import { SignerError, toJwks } from "@fedjwt/signer";
import { CliError } from "../errors.ts";
import { readText, writeNew } from "../files.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";

const flags = {
  out: { type: "string", value: "<file>", description: "write the JWKS to this file" },
  force: { type: "boolean", default: false, description: "overwrite --out if it exists" },
  json: { type: "boolean", default: false, description: "print machine-readable output (the JWKS, or {file, kids} with --out)" },
} as const satisfies FlagSpecs;

/** `fedjwt jwks`: its flags, help and runner. */
export const jwksCommand = defineCommand({
  name: "jwks",
  summary: "build a JWKS document from public key files",
  usage: ["<public key file>... [--out <file>] [--force] [--json]"],
  description: `Build a JSON Web Key Set from public key files (.pub SPKI PEM or .jwk.json), for a writer that
publishes its keys at a jwks_uri. Each key's kid is kept from its JWK, else its RFC 7638 thumbprint.
Private keys are refused.

Prints the JWKS; with --out writes it to a file instead and prints a summary.`,
  flags,
  positionals: "<public key file>...",
  examples: ["fedjwt jwks keys/inventory-service-local.pub keys/next/inventory-service-local.pub --out jwks.json"],
  run: ({ values, positionals }, io) => jwks(values, positionals, io),
});

/** `fedjwt jwks`: prints or writes a JWKS built from public key files. */
export async function jwks(values: FlagValues<typeof flags>, positionals: string[], io: Io): Promise<void> {
  if (positionals.length === 0) throw new CliError("bad_arguments", "give at least one public key file (see: fedjwt jwks --help)");
  const entries = [];
  for (const file of positionals) {
    const text = (await readText(file, "public key file")).trim();
    entries.push(text.startsWith("{") ? { file, key: parseJwk(file, text) } : { file, key: text });
  }
  let set;
  try {
    set = await toJwks(entries.map((e) => e.key));
  } catch (e) {
    if (e instanceof SignerError) {
      // Say which file, by re-checking one at a time (small lists; clarity wins).
      for (const entry of entries) {
        const failed = await toJwks([entry.key]).then(
          () => false,
          () => true,
        );
        if (failed) throw new CliError("bad_key", `${entry.file}: ${e.message}`, { cause: e });
      }
    }
    throw e;
  }
  if (values.out === undefined) {
    io.out(values.json ? JSON.stringify(set) : JSON.stringify(set, null, 2));
    return;
  }
  const file = resolve(values.out);
  await writeNew(file, `${JSON.stringify(set, null, 2)}\n`, 0o644, values.force);
  const kids = set.keys.map((k) => k.kid);
  if (values.json) printJson(io, { file, kids });
  else io.out(`Wrote ${kids.length} key(s) to ${file}: ${kids.join(", ")}`);
}

function parseJwk(file: string, text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError("bad_key", `${file}: not valid JSON`);
  }
}

import { CliError } from "../errors.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";
import { CONNECTION_FLAGS, connection, enc, type IssuerRow, type KeyRow } from "../registry-client.ts";
import { refuseIfRecentlySeen, SEEN_WITHIN_FLAG, seenWithin, staticKids } from "../usage.ts";
import { deactivateKey } from "./deactivate.ts";
import { addKey, keyFromFlags } from "./register.ts";

const flags = {
  issuer: { type: "string", value: "<name>", required: true, description: "the issuer" },
  "public-key": { type: "string", value: "<file>", description: "the new public key (.pub or .jwk.json)" },
  kid: { type: "string", value: "<kid>", description: "the new key's id (default: the JWK's kid, else its RFC 7638 thumbprint)" },
  alg: { type: "string", value: "<alg>", description: "ES256, RS256 or EdDSA (default: from the key)" },
  retire: { type: "string", value: "<kid>", description: "deactivate the old key once writers have switched" },
  force: {
    type: "boolean",
    default: false,
    description: "retire even if it leaves the issuer with no active key, or the gateway saw the key recently",
  },
  ...SEEN_WITHIN_FLAG,
  ...CONNECTION_FLAGS,
} as const satisfies FlagSpecs;

/** `fedjwt rotate`: its flags, help and runner. */
export const rotateCommand = defineCommand({
  name: "rotate",
  summary: "register a new key beside the old one, then retire the old",
  usage: ["--issuer <name> --public-key <file> [--kid <kid>]", "--issuer <name> --retire <kid> [--force]"],
  description: `Rotate a writer's key with no failed request:
  1. fedjwt keygen --issuer <name> --target <url> --out keys/next     (a new keypair)
  2. fedjwt rotate --issuer <name> --public-key keys/next/<…>.pub     (registered beside the old key)
  3. switch the writer to the new private key
  4. after the overlap (the issuer's max token lifetime + the gateway's 5 s cache):
     fedjwt rotate --issuer <name> --retire <old kid>
Retiring refuses a key the gateway saw within --seen-within (default 1h; LAST SEEN in fedjwt list), unless
--force: wait until the old key has gone quiet (for writers that run daily, use --seen-within 25h).`,
  flags,
  examples: [
    "fedjwt rotate --issuer orders-service --public-key keys/next/orders-service-local.pub",
    "fedjwt rotate --issuer orders-service --retire -abc123",
  ],
  run: ({ values }, io) => rotate(values, io),
});

/** `fedjwt rotate`. */
export async function rotate(values: FlagValues<typeof flags>, io: Io): Promise<void> {
  const issuer = values.issuer;
  if ((values["public-key"] === undefined) === (values.retire === undefined)) {
    throw new CliError("bad_arguments", "give either --public-key (start a rotation) or --retire (finish it) (see: fedjwt rotate --help)");
  }
  if (values.retire !== undefined && (values.kid !== undefined || values.alg !== undefined)) {
    throw new CliError("bad_arguments", "--kid and --alg describe a new key: they go with --public-key, not --retire");
  }
  if (values["public-key"] !== undefined && values.force) {
    throw new CliError("bad_arguments", "--force applies to --retire only (adding a key never needs it)");
  }
  const window = seenWithin(values);
  const key = values["public-key"] !== undefined ? await keyFromFlags(values, issuer) : undefined;
  const client = connection(values, "rotate");
  const [policy] = await client.request<IssuerRow[]>("GET", `jwt_issuers?issuer=eq.${enc(issuer)}&select=*`);
  if (!policy) throw new CliError("no_such_issuer", `no issuer named "${issuer}" (register it first: fedjwt register)`);
  const keys = await client.request<KeyRow[]>(
    "GET",
    `jwt_public_keys?issuer=eq.${enc(issuer)}&select=kid,alg,is_active,jwks_uri&order=created_at`,
  );

  if (values.retire !== undefined) {
    const retiring = keys.find((k) => (k.kid ?? "jwks") === values.retire);
    if (!retiring) throw new CliError("no_such_key", `issuer "${issuer}" has no key ${values.retire}`);
    const othersActive = keys.filter((k) => k.is_active && k !== retiring);
    if (othersActive.length === 0 && !values.force) {
      throw new CliError(
        "last_active_key",
        `${values.retire} is the last active key of "${issuer}": retiring it stops the writer (pass --force to do it anyway)`,
      );
    }
    if (!values.force) await refuseIfRecentlySeen(client, { issuer, kid: retiring.kid, staticKids: staticKids(keys) }, window, "retire it");
    await deactivateKey(client, issuer, values.retire);
    if (values.json) printJson(io, { issuer, retired: values.retire, active: othersActive.map((k) => k.kid ?? "jwks") });
    else
      io.out(
        `Retired key ${values.retire} of issuer "${issuer}". Active keys: ${othersActive.map((k) => k.kid ?? "jwks").join(", ") || "none"}.`,
      );
    return;
  }

  const { created } = await addKey(client, key!);
  const old = keys.filter((k) => k.is_active && k.kid !== key!.kid).map((k) => k.kid ?? "jwks");
  const overlap = policy.max_token_lifetime_seconds + 5;
  if (values.json) {
    printJson(io, {
      issuer,
      newKid: key!.kid,
      created,
      oldKids: old,
      overlapSeconds: overlap,
      retireCommands: old.map((k) => `fedjwt rotate --issuer ${issuer} --retire ${k}`),
    });
    return;
  }
  io.out(
    [
      `Rotation for issuer "${issuer}":`,
      `  1. ${created ? "registered" : "already registered:"} new key ${key!.kid} (${key!.alg}) beside ${old.length ? old.join(", ") : "no other active key"}`,
      `  2. now switch the writer to the new private key (its tokens carry kid ${key!.kid})`,
      `  3. wait at least ${overlap}s after the switch (max token lifetime ${policy.max_token_lifetime_seconds}s + 5s key cache)`,
      ...old.map((k, i) => `  ${4 + i}. retire the old key: fedjwt rotate --issuer ${issuer} --retire ${k}`),
    ].join("\n"),
  );
}

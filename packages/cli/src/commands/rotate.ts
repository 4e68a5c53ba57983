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
  description: `Rotate a writer's key with no failed request (the steps of docs/key-rotation.md):
  1. fedjwt keygen --issuer <name> --target <url> --out keys/next     (a new keypair)
  2. fedjwt rotate --issuer <name> --public-key keys/next/<…>.pub     (registered beside the old key; it
     prints steps 3 and 4 with their times and the exact retire command)
  3. after the gateway's key cache (5 s by default), switch the writer to the new private key
  4. once the old key's last tokens expired (the issuer's max token lifetime + 5 s after the switch):
     fedjwt rotate --issuer <name> --retire <old kid> --seen-within <that many seconds>s
Retiring refuses a key the gateway saw within --seen-within (default 1h; LAST SEEN in fedjwt list), unless
--force: a writer still uses it. The default hour also covers a writer that runs less often than the overlap
(for writers that run daily, use --seen-within 25h).`,
  flags,
  examples: [
    "fedjwt rotate --local --issuer orders-service --public-key keys/next/orders-service-local.pub",
    "fedjwt rotate --local --issuer orders-service --retire -abc123 --seen-within 305s",
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
  const plan = rotationPlan({
    issuer,
    newKid: key!.kid!,
    alg: key!.alg,
    created,
    oldKids: old,
    maxLifetimeSeconds: policy.max_token_lifetime_seconds,
    connectionFlags: values.local ? ["--local"] : values.url !== undefined ? ["--url", values.url] : [],
    now: Date.now(),
  });
  if (values.json) printJson(io, plan.json);
  else io.out(plan.text);
}

/** The gateway's key cache TTL by default (FEDJWT_KEY_CACHE_TTL_MS): how long it may take to see a registry change. */
export const KEY_CACHE_SECONDS = 5;

/**
 * The rest of a rotation once the new key is registered, numbered as docs/key-rotation.md numbers it: 3. switch the
 * writer once the gateway's key cache has the new key; 4. retire each old key once the gateway has not seen it for a
 * window, with the command that is accepted then: `--seen-within <max token lifetime + cache>s` right after the
 * overlap, or the default hour.
 */
export function rotationPlan(p: {
  issuer: string;
  newKid: string;
  alg: string;
  created: boolean;
  oldKids: string[];
  maxLifetimeSeconds: number;
  connectionFlags: string[];
  now: number;
}): { text: string; json: Record<string, unknown> } {
  const overlap = p.maxLifetimeSeconds + KEY_CACHE_SECONDS;
  const at = (seconds: number) => new Date(p.now + seconds * 1000).toISOString().slice(11, 19);
  const conn = p.connectionFlags.length ? ` ${p.connectionFlags.join(" ")}` : "";
  const retire = (kid: string, window?: string) =>
    `fedjwt rotate --issuer ${p.issuer} --retire ${kid}${window ? ` --seen-within ${window}` : ""}${conn}`;
  const lines = [
    `Rotation for issuer "${p.issuer}" (times in UTC):`,
    `  2. ${p.created ? "registered" : "already registered:"} new key ${p.newKid} (${p.alg}) beside ${p.oldKids.length ? p.oldKids.join(", ") : "no other active key"}`,
    `  3. from ${at(KEY_CACHE_SECONDS)} on (${KEY_CACHE_SECONDS} s from now: the gateway's key cache, ${KEY_CACHE_SECONDS} s by default), switch the writer to`,
    `     the new private key; its tokens then carry kid ${p.newKid}`,
  ];
  if (p.oldKids.length > 0) {
    lines.push(
      `  4. retire the old key once the gateway has not seen it for ${overlap} s (the issuer's max token lifetime,`,
      `     ${p.maxLifetimeSeconds} s, + the ${KEY_CACHE_SECONDS} s cache: no token signed with it is valid any more); ${at(KEY_CACHE_SECONDS + overlap)} after a switch now:`,
      ...p.oldKids.map((k) => `       ${retire(k, `${overlap}s`)}`),
      `     or with the default window, an hour after its last use (${at(KEY_CACHE_SECONDS + 3600)} after a switch now):`,
      ...p.oldKids.map((k) => `       ${retire(k)}`),
      `     Both refuse while a writer still uses the old key (LAST SEEN in fedjwt list). A writer that runs less`,
      `     often than every ${overlap} s may not have switched yet: check that the new key has a LAST SEEN, or keep`,
      `     the hour (--seen-within 25h for writers that run daily).`,
    );
  }
  return {
    text: lines.join("\n"),
    json: {
      issuer: p.issuer,
      newKid: p.newKid,
      created: p.created,
      oldKids: p.oldKids,
      switchAfterSeconds: KEY_CACHE_SECONDS,
      overlapSeconds: overlap,
      retireCommands: p.oldKids.map((k) => retire(k, `${overlap}s`)),
    },
  };
}

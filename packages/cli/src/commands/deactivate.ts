import { CliError } from "../errors.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";
import { CONNECTION_FLAGS, connection, enc, type KeyRow, type RegistryClient } from "../registry-client.ts";
import { refuseIfRecentlySeen, SEEN_WITHIN_FLAG, seenWithin, staticKids } from "../usage.ts";

const flags = {
  issuer: { type: "string", value: "<name>", required: true, description: "the issuer" },
  kid: { type: "string", value: "<kid>", description: "only this key (for a JWKS registration: --kid jwks)" },
  force: { type: "boolean", default: false, description: "with --kid: deactivate even if the gateway saw the key recently" },
  ...SEEN_WITHIN_FLAG,
  ...CONNECTION_FLAGS,
} as const satisfies FlagSpecs;

/** `fedjwt deactivate`: its flags, help and runner. */
export const deactivateCommand = defineCommand({
  name: "deactivate",
  summary: "stop accepting an issuer's (or one key's) tokens",
  usage: ["--issuer <name> [--kid <kid>]"],
  description: `Stop accepting a writer's tokens: the whole issuer, or one of its keys. The row stays (audited); the
gateway refuses new requests within its key cache TTL (5 s by default). With --kid, a key the gateway saw
within --seen-within (default 1h) is refused unless --force: a writer still uses it. Deactivating a whole
issuer is the emergency stop and is never held back.`,
  flags,
  examples: ["fedjwt deactivate --issuer orders-service --kid <kid>", "fedjwt deactivate --issuer orders-service"],
  run: ({ values }, io) => deactivate(values, io),
});

/** Deactivates one key of an issuer; throws when there is no such key. */
export async function deactivateKey(client: RegistryClient, issuer: string, kid: string): Promise<void> {
  const filter = kid === "jwks" ? "kid=is.null" : `kid=eq.${enc(kid)}`;
  const rows = await client.request<unknown[]>("PATCH", `jwt_public_keys?issuer=eq.${enc(issuer)}&${filter}&select=kid`, {
    is_active: false,
  });
  if (rows.length === 0) throw new CliError("no_such_key", `issuer "${issuer}" has no key ${kid}`);
}

/** `fedjwt deactivate`. */
export async function deactivate(values: FlagValues<typeof flags>, io: Io): Promise<void> {
  const issuer = values.issuer;
  const window = seenWithin(values);
  if (values.force && values.kid === undefined) throw new CliError("bad_arguments", "--force applies to --kid only");
  const client = connection(values, "deactivate");
  if (values.kid !== undefined) {
    if (!values.force) {
      const keys = await client.request<KeyRow[]>("GET", `jwt_public_keys?issuer=eq.${enc(issuer)}&select=kid`);
      const kid = values.kid === "jwks" ? null : values.kid;
      const kids = staticKids(keys);
      if (kid === null || kids.includes(kid))
        await refuseIfRecentlySeen(client, { issuer, kid, staticKids: kids }, window, "deactivate it");
    }
    await deactivateKey(client, issuer, values.kid);
  } else {
    const rows = await client.request<unknown[]>("PATCH", `jwt_issuers?issuer=eq.${enc(issuer)}&select=issuer`, { is_active: false });
    if (rows.length === 0) throw new CliError("no_such_issuer", `no issuer named "${issuer}"`);
  }
  const what = values.kid !== undefined ? `key ${values.kid} of issuer "${issuer}"` : `issuer "${issuer}" (all its keys)`;
  if (values.json) printJson(io, { issuer, kid: values.kid ?? null, deactivated: true });
  else io.out(`Deactivated ${what}. The gateway refuses its tokens within its key cache TTL (5 s by default).`);
}

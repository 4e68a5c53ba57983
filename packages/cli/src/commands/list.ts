import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";
import { CONNECTION_FLAGS, connection, enc, type IssuerRow, type KeyRow } from "../registry-client.ts";

const flags = {
  issuer: { type: "string", value: "<name>", description: "only this issuer" },
  ...CONNECTION_FLAGS,
} as const satisfies FlagSpecs;

/** `fedjwt list`: its flags, help and runner. */
export const listCommand = defineCommand({
  name: "list",
  summary: "list registered issuers and keys",
  usage: ["[--issuer <name>] [--json]"],
  description: "List registered issuers, their policy and their keys (active or not).",
  flags,
  examples: ['fedjwt list --url https://prod-abc123.supabase.co --service-role-key "$SUPABASE_SECRET_KEY"'],
  run: ({ values }, io) => list(values, io),
});

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** `fedjwt list`. */
export async function list(values: FlagValues<typeof flags>, io: Io): Promise<void> {
  const client = connection(values, "list");
  const filter = values.issuer ? `&issuer=eq.${enc(values.issuer)}` : "";
  const issuers = await client.request<IssuerRow[]>("GET", `jwt_issuers?select=*&order=issuer${filter}`);
  const keys = await client.request<KeyRow[]>(
    "GET",
    `jwt_public_keys?select=issuer,kid,alg,jwks_uri,is_active,not_before,expires_at,created_at&order=issuer,created_at${filter}`,
  );
  if (values.json) {
    printJson(io, { issuers: issuers.map((i) => ({ ...i, keys: keys.filter((k) => k.issuer === i.issuer) })) });
    return;
  }
  if (issuers.length === 0) {
    io.out(values.issuer ? `No issuer named "${values.issuer}".` : "No issuers registered yet (fedjwt register --help).");
    return;
  }
  const rows: string[][] = [];
  for (const i of issuers) {
    const own = keys.filter((k) => k.issuer === i.issuer);
    const policy = [i.db_role, i.allowed_roles.join(",") || "-", `${i.max_token_lifetime_seconds}s`, i.require_jti ? "yes" : "no"];
    if (own.length === 0) rows.push([i.issuer, "(no keys)", "", "", i.is_active ? "yes" : "NO", ...policy]);
    for (const k of own) {
      const active = i.is_active && k.is_active ? "yes" : "NO";
      rows.push([i.issuer, k.kid ?? "(from JWKS)", k.alg, k.jwks_uri ?? "public key", active, ...policy]);
    }
  }
  io.out(table(["ISSUER", "KID", "ALG", "SOURCE", "ACTIVE", "DB_ROLE", "ALLOWED_ROLES", "MAX_LIFETIME", "REQUIRE_JTI"], rows));
}

import { CliError } from "../errors.ts";
import { printJson, type Io } from "../output.ts";
import { defineCommand, type FlagSpecs, type FlagValues } from "../spec.ts";
import { CONNECTION_FLAGS, connection, enc, type IssuerRow, type KeyRow, type TrustPolicyRow } from "../registry-client.ts";
import { ago, fetchUsage, parseDuration, policyUsageOf, staticKids, usageOf } from "../usage.ts";

const flags = {
  issuer: { type: "string", value: "<name>", description: "only this issuer" },
  "usage-window": {
    type: "string",
    value: "<duration>",
    default: "24h",
    description: "count requests and errors over this window, in whole hours (e.g. 1h, 24h, 7d)",
  },
  ...CONNECTION_FLAGS,
} as const satisfies FlagSpecs;

/** `fedjwt list`: its flags, help and runner. */
export const listCommand = defineCommand({
  name: "list",
  summary: "list registered writers, their keys and trust policies",
  usage: ["[--issuer <name>] [--json]"],
  description: `List registered issuers (writers), their policy, their keys and their trust policies (active or not), with
each key's and each trust policy's usage as the gateway records it: LAST SEEN, and REQUESTS and ERRORS
(answers of 400 or more) over --usage-window. --json lists each trust policy, with its id, under its writer.
Counts are kept per hour, so the window takes in the whole hour it starts in; each gateway instance
writes its counts every few seconds, and they are kept 35 days.`,
  flags,
  examples: [
    'fedjwt list --url https://prod-abc123.supabase.co --service-role-key "$SUPABASE_SECRET_KEY"',
    "fedjwt list --local --usage-window 1h",
  ],
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
  const windowMs = parseDuration(values["usage-window"], "--usage-window");
  const client = connection(values, "list");
  const filter = values.issuer ? `&issuer=eq.${enc(values.issuer)}` : "";
  const issuers = await client.request<IssuerRow[]>("GET", `jwt_issuers?select=*&order=issuer${filter}`);
  const keys = await client.request<KeyRow[]>(
    "GET",
    `jwt_public_keys?select=issuer,kid,alg,jwks_uri,is_active,not_before,expires_at,created_at&order=issuer,created_at${filter}`,
  );
  const writerFilter = values.issuer ? `&writer=eq.${enc(values.issuer)}` : "";
  // A registry from before trust policies lists keys only.
  const policies = await client
    .request<TrustPolicyRow[]>("GET", `jwt_trust_policies?select=*&order=writer,created_at${writerFilter}`)
    .catch((e: unknown) => {
      if (e instanceof CliError && e.code === "registry_missing") return [] as TrustPolicyRow[];
      throw e;
    });
  const now = Date.now();
  // A registry from before usage was recorded still lists; its usage shows as unknown.
  const usage = await fetchUsage(client, now - windowMs).catch((e: unknown) => {
    if (e instanceof CliError && e.code === "registry_outdated") return null;
    throw e;
  });
  const withUsage = (i: IssuerRow) => {
    const own = keys.filter((k) => k.issuer === i.issuer);
    const kids = staticKids(own);
    return own.map((k) => ({ ...k, usage: usage ? usageOf(usage, i.issuer, k.kid, kids) : null }));
  };
  // Each policy's usage is in the same summary: the gateway counts it as (writer, kid policy:<id>).
  const policiesOf = (i: IssuerRow) =>
    policies.filter((p) => p.writer === i.issuer).map((p) => ({ ...p, usage: usage ? policyUsageOf(usage, i.issuer, p.id) : null }));
  if (values.json) {
    printJson(io, {
      usage_window: values["usage-window"],
      issuers: issuers.map((i) => ({ ...i, keys: withUsage(i), policies: policiesOf(i) })),
    });
    return;
  }
  if (issuers.length === 0) {
    io.out(values.issuer ? `No issuer named "${values.issuer}".` : "No issuers registered yet (fedjwt register --help).");
    return;
  }
  const rows: string[][] = [];
  for (const i of issuers) {
    const own = withUsage(i);
    const rate =
      i.rate_limit_per_second == null
        ? "-"
        : `${i.rate_limit_per_second}/s${i.rate_limit_burst == null ? "" : ` burst ${i.rate_limit_burst}`}`;
    const policy = [i.db_role, i.allowed_roles.join(",") || "-", `${i.max_token_lifetime_seconds}s`, i.require_jti ? "yes" : "no", rate];
    if (own.length === 0 && policiesOf(i).length === 0)
      rows.push([i.issuer, "(no keys)", "", "", i.is_active ? "yes" : "NO", "", "", "", ...policy]);
    for (const k of own) {
      const active = i.is_active && k.is_active ? "yes" : "NO";
      const seen = !k.usage ? "?" : k.usage.last_seen_at ? ago(k.usage.last_seen_at, now) : "never";
      const source = k.jwks_uri ?? "public key";
      rows.push([
        i.issuer,
        k.kid ?? "(from JWKS)",
        k.alg,
        source,
        active,
        seen,
        String(k.usage?.requests ?? "?"),
        String(k.usage?.errors ?? "?"),
        ...policy,
      ]);
    }
    // A trust policy is one row: KID is policy:<id>, ALG its provider, SOURCE its issuer URL and conditions.
    for (const p of policiesOf(i)) {
      const active = i.is_active && p.is_active ? "yes" : "NO";
      const seen = !p.usage ? "?" : p.usage.last_seen_at ? ago(p.usage.last_seen_at, now) : "never";
      const conditions = Object.entries(p.conditions)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      rows.push([
        i.issuer,
        `policy:${p.id}`,
        p.provider,
        `${p.issuer_url} ${conditions}`,
        active,
        seen,
        String(p.usage?.requests ?? "?"),
        String(p.usage?.errors ?? "?"),
        ...policy,
      ]);
    }
  }
  const w = values["usage-window"];
  io.out(
    table(
      [
        "ISSUER",
        "KID",
        "ALG",
        "SOURCE",
        "ACTIVE",
        "LAST SEEN",
        `REQUESTS (${w})`,
        `ERRORS (${w})`,
        "DB_ROLE",
        "ALLOWED_ROLES",
        "MAX_LIFETIME",
        "REQUIRE_JTI",
        "RATE_LIMIT",
      ],
      rows,
    ),
  );
  if (!usage) io.err(`Usage unknown (?): ${client.url} has no key usage yet; apply the template's latest migrations (supabase db push).`);
}

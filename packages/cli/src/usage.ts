// Per-key usage as the gateway records it (public.key_usage_summary): what list shows and what rotate
// --retire / deactivate --kid check before they retire a key that is still in use.
import { CliError } from "./errors.ts";
import type { RegistryClient } from "./registry-client.ts";
import type { FlagSpecs } from "./spec.ts";

/** One key's usage: last seen (ever, within the 35 days kept) and counts over the asked window. */
export interface KeyUsage {
  last_seen_at: string | null;
  requests: number;
  errors: number;
}

interface SummaryRow {
  issuer: string;
  kid: string;
  last_seen_at: string;
  requests: number;
  errors: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as 90s, 15m, 24h or 7d into milliseconds; a clear error names the flag. */
export function parseDuration(text: string, flag: string): number {
  const m = /^([1-9][0-9]{0,5})(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new CliError("bad_arguments", `${flag} ${JSON.stringify(text)} is not a duration such as 30m, 24h or 7d`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** The window flag of the commands that refuse to retire a recently used key. */
export const SEEN_WITHIN_FLAG = {
  "seen-within": {
    type: "string",
    value: "<duration>",
    default: "1h",
    description: "refuse (unless --force) when the gateway saw the key within this window, e.g. 30m, 1h, 25h",
  },
} as const satisfies FlagSpecs;

/** The --seen-within window of rotate --retire and deactivate --kid, parsed (and as the user wrote it). */
export function seenWithin(values: { "seen-within": string }): { ms: number; text: string } {
  return { ms: parseDuration(values["seen-within"], "--seen-within"), text: values["seen-within"] };
}

/** The kids of an issuer's static keys (its registry rows other than a JWKS row): what usageOf tells apart. */
export function staticKids(keys: readonly { kid: string | null }[]): string[] {
  return keys.flatMap((k) => (k.kid === null ? [] : [k.kid]));
}

/** The gateway records a trust policy's usage as (writer, `policy:<id>`). */
export const POLICY_KID_PREFIX = "policy:";

/** A trust policy's usage (its writer's `policy:<id>` row). */
export function policyUsageOf(usage: Map<string, KeyUsage>, writer: string, policyId: string): KeyUsage {
  return usage.get(`${writer}\n${POLICY_KID_PREFIX}${policyId}`) ?? { last_seen_at: null, requests: 0, errors: 0 };
}

/** A short "how long ago": 42s ago, 5m ago, 3h ago, 2d ago. */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/**
 * Usage per (issuer, kid) since `sinceMs` (whole hours: the hour `sinceMs` falls in counts). Keyed
 * `issuer\nkid`; a JWKS key without kid is under "".
 */
export async function fetchUsage(client: RegistryClient, sinceMs: number): Promise<Map<string, KeyUsage>> {
  let rows: SummaryRow[];
  try {
    rows = await client.request<SummaryRow[]>("POST", "rpc/key_usage_summary", { p_since: new Date(sinceMs).toISOString() });
  } catch (e) {
    if (e instanceof CliError && (e.upstreamCode === "PGRST202" || e.upstreamCode === "42883")) {
      throw new CliError(
        "registry_outdated",
        `${client.url} has no key usage yet (public.key_usage_summary is missing): apply the template's latest migrations (supabase db push)`,
        { exitCode: 1, cause: e },
      );
    }
    throw e;
  }
  return new Map(
    rows.map((r) => [`${r.issuer}\n${r.kid}`, { last_seen_at: r.last_seen_at, requests: Number(r.requests), errors: Number(r.errors) }]),
  );
}

/**
 * A registry key's usage. A static key is looked up by its kid; a JWKS row (kid null) sums every kid of the
 * issuer that is not one of its static keys.
 */
export function usageOf(usage: Map<string, KeyUsage>, issuer: string, kid: string | null, staticKids: string[]): KeyUsage {
  if (kid !== null) return usage.get(`${issuer}\n${kid}`) ?? { last_seen_at: null, requests: 0, errors: 0 };
  const out: KeyUsage = { last_seen_at: null, requests: 0, errors: 0 };
  for (const [key, u] of usage) {
    const [iss, k] = key.split("\n") as [string, string];
    // A trust policy's usage is recorded under kid policy:<id>: it is not a key of the JWKS.
    if (iss !== issuer || staticKids.includes(k) || k.startsWith(POLICY_KID_PREFIX)) continue;
    out.requests += u.requests;
    out.errors += u.errors;
    if (u.last_seen_at && (!out.last_seen_at || Date.parse(u.last_seen_at) > Date.parse(out.last_seen_at)))
      out.last_seen_at = u.last_seen_at;
  }
  return out;
}

/**
 * Refuses (code key_in_use) to retire a key the gateway saw within `windowMs`, naming when and how much,
 * unless `force`. The usage is at most one flush interval (5 s) behind per gateway instance.
 */
export async function refuseIfRecentlySeen(
  client: RegistryClient,
  key: { issuer: string; kid: string | null; staticKids: string[] },
  window: { ms: number; text: string },
  action: string,
): Promise<void> {
  const now = Date.now();
  const usage = usageOf(await fetchUsage(client, now - window.ms), key.issuer, key.kid, key.staticKids);
  if (usage.last_seen_at && now - Date.parse(usage.last_seen_at) <= window.ms) {
    throw new CliError(
      "key_in_use",
      `key ${key.kid ?? "jwks"} of issuer "${key.issuer}" was last seen ${ago(usage.last_seen_at, now)} (${usage.requests} requests within ${window.text}): a writer still uses it; switch it to the new key first, or pass --force to ${action} anyway`,
    );
  }
}

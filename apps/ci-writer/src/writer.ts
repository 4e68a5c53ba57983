import { getIDToken } from "@actions/core";
import { createClient } from "@supabase/supabase-js";
import { decodeJwt } from "jose";

/** How the CI job reaches the target project. */
export interface CiWriterConfig {
  /** The project URL, e.g. https://<ref>.supabase.co. */
  apiUrl: string;
  /** The project's anon/publishable key (sent as apikey; grants nothing by itself). */
  anonKey: string;
  /** The audience the gateway expects (its FEDJWT_AUDIENCE; by default the project URL). */
  audience: string;
  /** The gateway function's name (default "rest"). */
  functionName?: string;
  /** What the job writes down (default: $GITHUB_REPOSITORY@$GITHUB_SHA, as the runner sets them). */
  label?: string;
}

/** One attempted write or read and what happened. */
export interface Outcome {
  action: string;
  ok: boolean;
  status: number;
  code?: string;
  message: string;
}

/**
 * The job's OIDC token for `audience`, from the Actions runtime (`@actions/core` getIDToken, which needs
 * `permissions: id-token: write`). A token is reused until 60 s before it expires (GitHub's live 5 min), so a
 * burst of requests asks the runtime once.
 */
export function idTokenSource(audience: string, fetchToken: (aud: string) => Promise<string> = getIDToken): () => Promise<string> {
  let current: { token: string; refreshAt: number } | undefined;
  let pending: Promise<string> | undefined;
  return () => {
    if (current && Date.now() < current.refreshAt) return Promise.resolve(current.token);
    pending ??= fetchToken(audience)
      .then((token) => {
        const exp = decodeJwt(token).exp;
        current = { token, refreshAt: typeof exp === "number" ? exp * 1000 - 60_000 : 0 };
        return token;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}

/** A Supabase client for the job: unchanged supabase-js pointed at the gateway, its token the job's own. */
export function ciClient(config: CiWriterConfig, tokens: () => Promise<string> = idTokenSource(config.audience)) {
  return createClient(`${config.apiUrl}/functions/v1/${config.functionName ?? "rest"}`, config.anonKey, {
    accessToken: tokens,
  });
}

/** Records the build (insert into widgets), then reads it back: what the trust policy's writer may do. */
export async function runCiWriter(config: CiWriterConfig, tokens?: () => Promise<string>): Promise<Outcome[]> {
  const supabase = ciClient(config, tokens);
  const label = config.label ?? `build of ${process.env.GITHUB_REPOSITORY ?? "?"}@${(process.env.GITHUB_SHA ?? "?").slice(0, 12)}`;
  const out: Outcome[] = [];
  const inserted = await supabase
    .from("widgets")
    .insert({ name: label.slice(0, 200) })
    .select("id, name, owner_issuer, created_by")
    .single();
  out.push({
    action: "insert into widgets",
    ok: !inserted.error,
    status: inserted.status,
    ...(inserted.error ? { code: inserted.error.code } : {}),
    message: inserted.error
      ? inserted.error.message
      : `widget ${inserted.data.id} "${inserted.data.name}", owner_issuer=${inserted.data.owner_issuer}, created_by=${inserted.data.created_by}`,
  });
  if (!inserted.error) {
    const read = await supabase.from("widgets").select("id").eq("id", inserted.data.id);
    out.push({
      action: "select its widget",
      ok: !read.error && read.data.length === 1,
      status: read.status,
      ...(read.error ? { code: read.error.code } : {}),
      message: read.error ? read.error.message : `${read.data.length} row`,
    });
  }
  return out;
}

/** One line per outcome: ✓ when allowed, ✗ with the gateway's or PostgREST's code otherwise. */
export function formatOutcomes(title: string, outcomes: Outcome[]): string {
  return [
    title,
    ...outcomes.map(
      (o) =>
        `  ${o.ok ? "✓" : "✗"} ${o.action.padEnd(20)} ${String(o.status).padEnd(4)} ${o.ok ? "allowed" : `denied (${o.code ?? "?"})`}: ${o.message}`,
    ),
  ].join("\n");
}

import type pg from "pg";

/** What PostgREST knows about a request when it runs SQL for it. */
export interface RequestContext {
  /** The database role from the JWT `role` claim (anon when there is no token). */
  role: string;
  /** The verified JWT claims (empty for anon). */
  claims?: Record<string, unknown>;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** PostgREST's `Prefer: tx=rollback`: run everything, then roll back (default commit). */
  tx?: "commit" | "rollback";
}

const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/**
 * Runs `fn` the way PostgREST runs a request: one transaction, `SET LOCAL ROLE` to the token's role, and
 * request.jwt.claims / request.method / request.path / request.headers as transaction-local settings.
 * Commits when `fn` resolves (or rolls back for `tx: "rollback"`), rolls back when it throws (and rethrows).
 */
export async function asPostgrest<T>(client: pg.ClientBase, ctx: RequestContext, fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
  if (!ROLE_NAME.test(ctx.role)) throw new Error(`invalid role name ${JSON.stringify(ctx.role)}`);
  await client.query("begin");
  try {
    await client.query(`set local role "${ctx.role}"`);
    await client.query(
      `select set_config('request.jwt.claims', $1, true), set_config('request.method', $2, true),
              set_config('request.path', $3, true), set_config('request.headers', $4, true)`,
      [JSON.stringify(ctx.claims ?? {}), ctx.method ?? "GET", ctx.path ?? "/", JSON.stringify(ctx.headers ?? {})],
    );
    const result = await fn(client);
    await client.query(ctx.tx === "rollback" ? "rollback" : "commit");
    return result;
  } catch (e) {
    await client.query("rollback").catch(() => undefined);
    throw e;
  }
}

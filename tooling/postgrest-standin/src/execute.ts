// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. Execution: the JWT → role and claims, then one
// transaction per request as PostgREST runs it — SET LOCAL ROLE (Postgres refuses roles the authenticator
// may not become), request.jwt.claims / request.method / request.path / request.headers, commit or rollback.
import type { IncomingMessage } from "node:http";
import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, jwtVerify, type JWTVerifyGetKey } from "jose";
import type pg from "pg";
import { ident } from "./catalog.ts";
import { fromPgError, PgrstError } from "./errors.ts";
import { type RoleSettingList, roleSettingsSql } from "./role-settings.ts";

/** Who runs the request and the settings PostgREST gives its transaction. */
export interface Ctx {
  role: string;
  claims: Record<string, unknown>;
  authenticated: boolean;
  schema: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  rollback: boolean;
  /** Schemas after the request's own (PostgREST's db-extra-search-path). */
  extraSearchPath: string[];
  /** The role's own settings (ALTER ROLE … SET) as loaded with the configuration. */
  roleSettings: RoleSettingList;
}

/** How tokens are verified: the HS256 secret, plus the JWKS's keys when one is configured. */
export interface Verification {
  key: Uint8Array | JWTVerifyGetKey;
  algorithms: string[];
}

/** The HS256 secret, and the keys of a JWKS (ES256/RS256) when one is given, as PostgREST trusts them. */
export function verification(secret: Uint8Array, jwks: JSONWebKeySet | undefined): Verification {
  if (!jwks) return { key: secret, algorithms: ["HS256"] };
  const set = createLocalJWKSet(jwks);
  return { key: (header, token) => (header.alg === "HS256" ? secret : set(header, token)), algorithms: ["HS256", "ES256", "RS256"] };
}

/** Verifies the bearer token and gives the role and claims; no token → the anonymous role. */
export async function authenticate(
  req: IncomingMessage,
  verify: Verification,
  anonRole: string,
): Promise<{ role: string; claims: Record<string, unknown>; authenticated: boolean }> {
  const auth = req.headers.authorization;
  if (!auth) return { role: anonRole, claims: {}, authenticated: false };
  const m = /^Bearer (.+)$/i.exec(auth);
  const bad = (message: string, code = "PGRST301") =>
    new PgrstError(401, code, message, null, null, { "www-authenticate": `Bearer error="invalid_token", error_description="${message}"` });
  if (!m) throw bad("Missing or invalid Authorization header");
  try {
    const { payload } =
      typeof verify.key === "function"
        ? await jwtVerify(m[1]!, verify.key, { algorithms: verify.algorithms })
        : await jwtVerify(m[1]!, verify.key, { algorithms: verify.algorithms });
    // PostgREST: a request is "authenticated" (42501 → 403 rather than 401) when its JWT carries a role.
    const hasRole = typeof payload.role === "string" && payload.role !== "";
    return { role: hasRole ? (payload.role as string) : anonRole, claims: payload as Record<string, unknown>, authenticated: hasRole };
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) throw bad("JWT expired", "PGRST303");
    if (e instanceof joseErrors.JWTClaimValidationFailed) throw bad("JWT claims validation failed", "PGRST303");
    throw bad("JWSError JWSInvalidSignature");
  }
}

/** SQLSTATEs that mean the connection itself is gone (server shutting down, crashed, not accepting). */
function connectionLost(code: string | undefined): boolean {
  return code === undefined || !/^[0-9A-Z]{5}$/.test(code) || code.startsWith("08") || /^57P0[1-3]$/.test(code);
}

/** Runs `fn` in one transaction as PostgREST does for a request. */
export async function inTransaction<T>(pool: pg.Pool, ctx: Ctx, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect().catch((e: Error) => {
    throw new PgrstError(503, "PGRST000", "Could not connect to the database", e.message);
  });
  // A checked-out connection that dies emits "error"; the failing query reports it, so only swallow the event.
  const ignore = () => undefined;
  client.on("error", ignore);
  let broken: Error | undefined;
  try {
    await client.query("begin");
    await client.query(`set local role ${ident(ctx.role)}`);
    // One statement, as PostgREST sets its transaction's settings: the role's own settings first.
    await client.query(
      `select ${roleSettingsSql(6, 7)}, set_config('search_path', $1, true), set_config('request.jwt.claims', $2, true),
              set_config('request.method', $3, true), set_config('request.path', $4, true),
              set_config('request.headers', $5, true)`,
      [
        [ctx.schema, ...ctx.extraSearchPath].map(ident).join(", "),
        JSON.stringify(ctx.claims),
        ctx.method,
        ctx.path,
        JSON.stringify(ctx.headers),
        ctx.roleSettings.names,
        ctx.roleSettings.values,
      ],
    );
    const result = await fn(client);
    await client.query(ctx.rollback ? "rollback" : "commit");
    return result;
  } catch (e) {
    if (e instanceof PgrstError) {
      await client.query("rollback").catch(() => undefined);
      throw e;
    }
    const err = e as { code?: string; message: string };
    if (connectionLost(err.code)) {
      // Like PostgREST: a lost connection is a 503, and the connection is discarded, not reused.
      broken = e as Error;
      throw new PgrstError(503, "PGRST001", "Database client error. Retrying the connection.", err.message);
    }
    await client.query("rollback").catch(() => undefined);
    throw fromPgError(err, ctx.authenticated);
  } finally {
    client.off("error", ignore);
    client.release(broken);
  }
}

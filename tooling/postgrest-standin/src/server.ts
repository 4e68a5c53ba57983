// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY.
//
// PostgREST has no npm or Debian package, so the Docker-free stack runs this small, clearly labelled
// subset of its behaviour, written from PostgREST's documentation: HS256 JWT verification with the JWT
// secret; the `role` claim → SET LOCAL ROLE as the `authenticator` login (so Postgres itself refuses
// roles the authenticator may not become; no token → anon); request.jwt.claims / request.method /
// request.path / request.headers as transaction-local settings; one transaction per request; PostgREST's
// error bodies and status codes; and the requests supabase-js / postgrest-js make for select with
// filters, order, limit/offset/Range, insert, upsert (on_conflict), update, delete, Prefer return= /
// count=exact / tx=rollback, and rpc. No embedding, no OpenAPI, no aggregates. With Docker, `supabase start`
// runs the real PostgREST and this is not used.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import pg from "pg";
import { ident, SchemaCache, type Relation, type RpcFunction } from "./catalog.ts";
import { fromPgError, PgrstError } from "./errors.ts";
import { column, orderClause, Params, parsePrefer, range, selectList, whereClause, type Prefer } from "./query.ts";

export interface StandInOptions {
  /** Connection URL of the `authenticator` login role. */
  dbUrl: string;
  /** The JWT secret tokens are verified with (HS256). */
  jwtSecret: string;
  /**
   * Public signing keys trusted besides the secret (ES256/RS256), as PostgREST trusts a JWKS: a project's
   * asymmetric JWT signing keys (`supabase gen signing-key`, `[auth] signing_keys_path`).
   */
  jwks?: JSONWebKeySet;
  /** Exposed schemas; the first is the default (default ["public", "graphql_public"]). */
  schemas?: string[];
  anonRole?: string;
  port?: number;
  host?: string;
  /** Largest request body (default 10 MiB). */
  maxBodyBytes?: number;
}

export interface RunningStandIn {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface Ctx {
  role: string;
  claims: Record<string, unknown>;
  authenticated: boolean;
  schema: string;
  prefer: Prefer;
  method: string;
  path: string;
  headers: Record<string, string>;
}

const OBJECT_MEDIA = "application/vnd.pgrst.object+json";

/** How tokens are verified: the HS256 secret, plus the JWKS's keys when one is configured. */
interface Verification {
  key: Uint8Array | JWTVerifyGetKey;
  algorithms: string[];
}

function verification(secret: Uint8Array, jwks: JSONWebKeySet | undefined): Verification {
  if (!jwks) return { key: secret, algorithms: ["HS256"] };
  const set = createLocalJWKSet(jwks);
  return { key: (header, token) => (header.alg === "HS256" ? secret : set(header, token)), algorithms: ["HS256", "ES256", "RS256"] };
}

async function authenticate(req: IncomingMessage, verify: Verification, anonRole: string): Promise<{ role: string; claims: Record<string, unknown>; authenticated: boolean }> {
  const auth = req.headers.authorization;
  if (!auth) return { role: anonRole, claims: {}, authenticated: false };
  const m = /^Bearer (.+)$/i.exec(auth);
  const bad = (message: string, code = "PGRST301") =>
    new PgrstError(401, code, message, null, null, { "www-authenticate": `Bearer error="invalid_token", error_description="${message}"` });
  if (!m) throw bad("Missing or invalid Authorization header");
  try {
    const { payload } = typeof verify.key === "function"
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

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new PgrstError(413, "PGRST102", "Request body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new PgrstError(400, "PGRST102", "Empty or invalid json");
  }
}

/** SQLSTATEs that mean the connection itself is gone (server shutting down, crashed, not accepting). */
function connectionLost(code: string | undefined): boolean {
  return code === undefined || !/^[0-9A-Z]{5}$/.test(code) || code.startsWith("08") || /^57P0[1-3]$/.test(code);
}

/** Runs `fn` in one transaction as PostgREST does for a request. */
async function inTransaction<T>(pool: pg.Pool, ctx: Ctx, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
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
    await client.query(
      `select set_config('search_path', $1, true), set_config('request.jwt.claims', $2, true),
              set_config('request.method', $3, true), set_config('request.path', $4, true),
              set_config('request.headers', $5, true)`,
      [`${ident(ctx.schema)}, extensions`, JSON.stringify(ctx.claims), ctx.method, ctx.path, JSON.stringify(ctx.headers)],
    );
    const result = await fn(client);
    await client.query(ctx.prefer.tx === "rollback" ? "rollback" : "commit");
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

/** Wraps a row source as PostgREST does: a JSON array built by Postgres, plus the row count. */
function aggregate(source: string, cols: string): string {
  return `with pgrst_source as (${source}) select coalesce(json_agg(_), '[]')::text as body, count(*)::int as n from (select ${cols} from pgrst_source) _`;
}

function contentRange(offset: number, n: number, total: number | null): string {
  const t = total === null ? "*" : String(total);
  return n === 0 ? `*/${t}` : `${offset}-${offset + n - 1}/${t}`;
}

/** Creates the stand-in's request handler (for node:http) over a pool of `authenticator` connections. */
export function standInHandler(options: StandInOptions & { pool: pg.Pool }) {
  const schemas = options.schemas ?? ["public", "graphql_public"];
  const cache = new SchemaCache(options.pool, schemas);
  const verify = verification(new TextEncoder().encode(options.jwtSecret), options.jwks);
  const anonRole = options.anonRole ?? "anon";
  const maxBody = options.maxBodyBytes ?? 10 * 1024 * 1024;

  async function relationOr404(schema: string, name: string): Promise<Relation> {
    const rel = await cache.relation(schema, name);
    if (!rel) throw new PgrstError(404, "PGRST205", `Could not find the table '${schema}.${name}' in the schema cache`, null, null);
    return rel;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const method = req.method ?? "GET";
    const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const write = ["POST", "PATCH", "PUT", "DELETE"].includes(method);
    const profile = (write ? req.headers["content-profile"] : req.headers["accept-profile"]) as string | undefined;
    const schema = profile ?? schemas[0]!;
    if (!schemas.includes(schema)) {
      throw new PgrstError(406, "PGRST106", `The schema must be one of the following: ${schemas.join(", ")}`);
    }
    const auth = await authenticate(req, verify, anonRole);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "authorization" && k !== "cookie") headers[k] = v;
    const ctx: Ctx = { ...auth, schema, prefer: parsePrefer((req.headers.prefer as string | undefined) ?? null), method, path: url.pathname, headers };
    const wantsObject = (req.headers.accept ?? "").includes(OBJECT_MEDIA);
    const body = write && method !== "DELETE" ? parseJson(await readBody(req, maxBody)) : undefined;

    let status = 200;
    let rows: { body: string; n: number };
    let total: number | null = null;
    const params = new Params();
    const extraHeaders: Record<string, string> = {};

    if (segments.length === 2 && segments[0] === "rpc") {
      if (method !== "GET" && method !== "POST" && method !== "HEAD") throw new PgrstError(405, "PGRST101", "Only GET and POST are allowed for functions");
      const args: Record<string, unknown> = method === "POST"
        ? ((body ?? {}) as Record<string, unknown>)
        : Object.fromEntries([...url.searchParams].filter(([k]) => !["select", "order", "limit", "offset"].includes(k)));
      if (typeof args !== "object" || args === null || Array.isArray(args)) throw new PgrstError(400, "PGRST102", "Function arguments must be a JSON object");
      const fn = pickFunction(await cache.functions(schema, segments[1]!), Object.keys(args), schema, segments[1]!);
      const call = `${ident(fn.schema)}.${ident(fn.name)}(${fn.args.filter((a) => a.name in args).map((a) => {
        const v = args[a.name];
        return `${ident(a.name)} := ${params.add(v === null ? null : typeof v === "object" ? JSON.stringify(v) : String(v))}::${a.type}`;
      }).join(", ")})`;
      const sql = fn.returnsComposite || fn.returnsSet
        ? `select coalesce(json_agg(_), '[]')::text as body, count(*)::int as n from ${call} _`
        : `select to_json(${call})::text as body, 1 as n`;
      rows = await inTransaction(options.pool, ctx, async (c) => {
        // As PostgREST: GET calls run read-only, so a function that writes fails with 25006 (405).
        if (method !== "POST") await c.query("set transaction read only");
        return (await c.query(sql, params.values)).rows[0];
      });
      if (!fn.returnsSet && fn.returnsComposite) rows.body = JSON.stringify((JSON.parse(rows.body) as unknown[])[0] ?? null);
    } else if (segments.length === 1) {
      const rel = await relationOr404(schema, segments[0]!);
      const target = `${ident(rel.schema)}.${ident(rel.name)}`;
      const cols = selectList(rel, url.searchParams.get("select"));
      const where = whereClause(rel, url.searchParams, params);
      if (method === "GET" || method === "HEAD") {
        const { limit, offset } = range(url.searchParams, (req.headers.range as string | undefined) ?? null);
        const source = `select * from ${target} where ${where}${orderClause(rel, url.searchParams.get("order"))}` +
          `${limit !== null ? ` limit ${limit}` : ""}${offset ? ` offset ${offset}` : ""}`;
        ({ rows, total } = await inTransaction(options.pool, ctx, async (c) => {
          await c.query("set transaction read only");
          const r = (await c.query(aggregate(source, cols), params.values)).rows[0];
          const t = ctx.prefer.count === "exact"
            ? Number((await c.query(`select count(*) from ${target} where ${where}`, params.values)).rows[0].count)
            : null;
          return { rows: r, total: t };
        }));
        extraHeaders["content-range"] = contentRange(offset, rows.n, total);
      } else if (method === "POST") {
        const list = Array.isArray(body) ? body : body === undefined ? null : [body];
        if (!list || !list.every((o) => o && typeof o === "object" && !Array.isArray(o))) {
          throw new PgrstError(400, "PGRST102", "Empty or invalid json");
        }
        const columns = insertColumns(rel, list as Record<string, unknown>[], url.searchParams.get("columns"));
        const colSql = columns.map(ident).join(", ");
        let source = columns.length === 0
          ? `insert into ${target} default values returning *`
          : `insert into ${target} (${colSql}) select ${colSql} from json_populate_recordset(null::${target}, ${params.add(JSON.stringify(list))}::json) _`;
        if (columns.length > 0) {
          if (ctx.prefer.resolution) {
            const conflict = (url.searchParams.get("on_conflict")?.split(",").map((c) => c.trim()) ?? rel.primaryKey);
            if (conflict.length === 0) throw new PgrstError(400, "PGRST100", "on_conflict is required: the table has no primary key");
            const conflictSql = conflict.map((c) => column(rel, c)).join(", ");
            const updates = columns.filter((c) => !conflict.includes(c)).map((c) => `${ident(c)} = excluded.${ident(c)}`);
            source += ctx.prefer.resolution === "ignore-duplicates" || updates.length === 0
              ? ` on conflict (${conflictSql}) do nothing`
              : ` on conflict (${conflictSql}) do update set ${updates.join(", ")}`;
          }
          source += " returning *";
        }
        rows = await inTransaction(options.pool, ctx, async (c) => (await c.query(aggregate(source, cols), params.values)).rows[0]);
        status = 201;
        extraHeaders["content-range"] = `*/${ctx.prefer.count === "exact" ? rows.n : "*"}`;
      } else if (method === "PATCH") {
        if (!body || typeof body !== "object" || Array.isArray(body)) throw new PgrstError(400, "PGRST102", "Empty or invalid json");
        const keys = Object.keys(body as object);
        if (keys.length === 0) {
          rows = { body: "[]", n: 0 };
        } else {
          const record = `json_populate_record(null::${target}, ${params.add(JSON.stringify(body))}::json)`;
          const sets = keys.map((k) => `${column(rel, k)} = (${record}).${ident(k)}`).join(", ");
          const source = `update ${target} set ${sets} where ${where} returning *`;
          rows = await inTransaction(options.pool, ctx, async (c) => (await c.query(aggregate(source, cols), params.values)).rows[0]);
        }
        extraHeaders["content-range"] = rows.n === 0 ? "*/*" : `0-${rows.n - 1}/${ctx.prefer.count === "exact" ? rows.n : "*"}`;
      } else if (method === "DELETE") {
        const source = `delete from ${target} where ${where} returning *`;
        rows = await inTransaction(options.pool, ctx, async (c) => (await c.query(aggregate(source, cols), params.values)).rows[0]);
        extraHeaders["content-range"] = rows.n === 0 ? "*/*" : `0-${rows.n - 1}/${ctx.prefer.count === "exact" ? rows.n : "*"}`;
      } else {
        throw new PgrstError(405, "PGRST117", `Unsupported HTTP method: ${method}`);
      }
    } else {
      throw new PgrstError(404, "PGRST125", `Invalid path specified in request URL: the local stand-in serves /<table> and /rpc/<function> only`);
    }

    const applied: string[] = [];
    if (ctx.prefer.return) applied.push(`return=${ctx.prefer.return}`);
    if (ctx.prefer.count) applied.push(`count=${ctx.prefer.count}`);
    if (ctx.prefer.tx) applied.push(`tx=${ctx.prefer.tx}`);
    if (applied.length) extraHeaders["preference-applied"] = applied.join(", ");

    let payload: string | null = rows.body;
    if (write && segments[0] !== "rpc" && ctx.prefer.return !== "representation") {
      payload = null;
      if (method !== "POST") status = 204;
    }
    if (payload !== null && wantsObject) {
      const list = JSON.parse(payload) as unknown;
      if (Array.isArray(list)) {
        if (list.length !== 1) {
          throw new PgrstError(406, "PGRST116", "JSON object requested, multiple (or no) rows returned", `The result contains ${list.length} rows`);
        }
        payload = JSON.stringify(list[0]);
      }
    }
    res.writeHead(status, {
      ...extraHeaders,
      ...(payload !== null ? { "content-type": `${wantsObject ? OBJECT_MEDIA : "application/json"}; charset=utf-8` } : {}),
    });
    res.end(method === "HEAD" ? undefined : payload ?? undefined);
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await handle(req, res);
    } catch (e) {
      const err = e instanceof PgrstError
        ? e
        : new PgrstError(500, "PGRSTX00", "Internal error in the local PostgREST stand-in", (e as Error)?.message ?? null);
      if (!res.headersSent) res.writeHead(err.status, { "content-type": "application/json; charset=utf-8", ...err.headers });
      res.end(err.body());
    }
  };
}

function insertColumns(rel: Relation, rows: Record<string, unknown>[], columnsParam: string | null): string[] {
  if (columnsParam) {
    const cols = columnsParam.split(",").map((c) => c.trim().replace(/^"(.*)"$/, "$1"));
    for (const c of cols) {
      if (!rel.columns.has(c)) throw new PgrstError(400, "PGRST204", `Could not find the '${c}' column of '${rel.name}' in the schema cache`);
    }
    return cols;
  }
  const first = Object.keys(rows[0] ?? {}).sort();
  for (const r of rows.slice(1)) {
    if (Object.keys(r).sort().join(",") !== first.join(",")) throw new PgrstError(400, "PGRST102", "All object keys must match");
  }
  for (const c of first) {
    if (!rel.columns.has(c)) throw new PgrstError(400, "PGRST204", `Could not find the '${c}' column of '${rel.name}' in the schema cache`);
  }
  return first;
}

function pickFunction(candidates: RpcFunction[], argNames: string[], schema: string, name: string): RpcFunction {
  const fits = candidates.filter((f) =>
    argNames.every((a) => f.args.some((x) => x.name === a)) && f.args.every((x) => x.hasDefault || argNames.includes(x.name))
  );
  if (fits.length === 1) return fits[0]!;
  if (fits.length > 1) throw new PgrstError(300, "PGRST203", `Could not choose the best candidate function between several ${schema}.${name}`);
  throw new PgrstError(
    404,
    "PGRST202",
    `Could not find the function ${schema}.${name}(${argNames.join(", ")}) in the schema cache`,
    null,
    "If a new function was created in the database with this name and parameters, try reloading the schema cache.",
  );
}

/** Starts the stand-in on 127.0.0.1. */
export async function startPostgrestStandIn(options: StandInOptions): Promise<RunningStandIn> {
  const pool = new pg.Pool({ connectionString: options.dbUrl, max: 10, idleTimeoutMillis: 10_000 });
  pool.on("error", () => undefined); // a dropped idle connection must not crash the stack; requests report 503
  const server: Server = createServer(standInHandler({ ...options, pool }));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pool.end();
    },
  };
}

// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. One request through the stages: parse
// (request.ts) → plan against the schema cache (plan.ts) → SQL (sql.ts) → one transaction (execute.ts) →
// response (response.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JSONWebKeySet } from "jose";
import type pg from "pg";
import { type Catalog, type Relation, SchemaCache } from "./catalog.ts";
import { PgrstError } from "./errors.ts";
import { closest } from "./fuzzy.ts";
import { authenticate, type Ctx, inTransaction, verification } from "./execute.ts";
import { isFilterValue, parseColumns, parseCondition, parseSelect, type SelectItem } from "./grammar.ts";
import { findRoutine, nonNegative, readPlan, refuseMutationPaging, returningFor, type Scoped, scopeQuery } from "./plan.ts";
import type { ReadPlan } from "./plan-types.ts";
import { type ApiRequest, parseRequest, unsupported } from "./request.ts";
import type { RoleSettingList } from "./role-settings.ts";
import { type Outcome, respond } from "./response.ts";
import {
  callSources,
  countSql,
  deleteSql,
  INSERTED_SETTING,
  type InsertSpec,
  insertSql,
  mutationResponseSql,
  Params,
  readSql,
  responseSql,
  updateSql,
} from "./sql.ts";

export interface HandlerOptions {
  pool: pg.Pool;
  jwtSecret: string;
  /** Signing keys trusted besides the secret (ES256/RS256). */
  jwks?: JSONWebKeySet;
  schemas?: string[];
  anonRole?: string;
  /** Schemas after the request's own on the search_path (PostgREST's db-extra-search-path). */
  extraSearchPath?: string[];
  maxBodyBytes?: number;
  /** PostgREST's db-max-rows (Supabase's `[api] max_rows`, 1000 by default); null: no limit. */
  maxRows?: number | null;
  /** The roles' own settings as loaded with the configuration (see role-settings.ts). */
  roleSettings: { of(role: string): RoleSettingList };
}

type Row = { body: string | null; n: number; affected?: number };

function pgrstColumnNotFound(rel: Relation, c: string): PgrstError {
  return new PgrstError(400, "PGRST204", `Could not find the '${c}' column of '${rel.name}' in the schema cache`);
}

/** Only the top level's filters (for the WHERE of a write). */
function rootOnly(s: Scoped): Scoped {
  const pick = <T>(m: Map<string, T>) => new Map([...m].filter(([k]) => k === ""));
  return { filters: pick(s.filters), logic: pick(s.logic), order: new Map(), limit: new Map(), offset: new Map() };
}

/** Everything but the top level's filters and paging (for the representation of a write). */
function embedsOnly(s: Scoped): Scoped {
  const drop = <T>(m: Map<string, T>) => new Map([...m].filter(([k]) => k !== ""));
  return { filters: drop(s.filters), logic: drop(s.logic), order: drop(s.order), limit: drop(s.limit), offset: drop(s.offset) };
}

function format(api: ApiRequest): "json" | "csv" {
  const m = api.media;
  return m.kind === "csv" || (m.kind === "plan" && m.for === "csv") ? "csv" : "json";
}

function explainSql(api: ApiRequest, sql: string): string | null {
  if (api.media.kind !== "plan") return null;
  const opts = [`FORMAT ${api.media.format.toUpperCase()}`, ...api.media.options.map((o) => o.toUpperCase())];
  return `EXPLAIN (${opts.join(", ")}) ${sql}`;
}

/** The plan of `sql` as the request's outcome (Accept: application/vnd.pgrst.plan). */
async function runExplain(c: pg.PoolClient, api: ApiRequest, sql: string, values: unknown[], kind: Outcome["kind"]): Promise<Outcome> {
  const r = await c.query(explainSql(api, sql)!, values);
  const body =
    api.media.kind === "plan" && api.media.format === "json"
      ? JSON.stringify(r.rows[0]["QUERY PLAN"])
      : r.rows.map((x) => x["QUERY PLAN"] as string).join("\n");
  return { body, n: 0, kind, total: null, offset: 0, inserted: 0, single: false, void: false };
}

/** The planner's row estimate for a statement (count=planned). */
async function plannedCount(c: pg.PoolClient, sql: string, values: unknown[]): Promise<number> {
  const r = await c.query(`EXPLAIN (FORMAT JSON) ${sql}`, values);
  return Number(r.rows[0]["QUERY PLAN"][0].Plan["Plan Rows"]);
}

/**
 * PostgREST lets SQL set the response's status and headers (the response.status and response.headers
 * settings); the stand-in does not implement that, so a request whose SQL set them is refused (and rolled back).
 */
async function refuseResponseSettings(c: pg.PoolClient): Promise<void> {
  const r = await c.query(
    "select coalesce(current_setting('response.status', true), '') as status, coalesce(current_setting('response.headers', true), '') as headers",
  );
  const { status, headers } = r.rows[0] as { status: string; headers: string };
  if (status !== "" || headers !== "") {
    throw unsupported(
      `Setting ${status !== "" ? "response.status" : "response.headers"} from SQL`,
      "PostgREST would change the response's status or headers; the stand-in rolled the request back instead.",
    );
  }
}

/** Parameters and preferences that only some requests honour: refused elsewhere rather than ignored. */
function refuseIgnored(api: ApiRequest): void {
  const table = api.target.kind === "table";
  const insert = table && api.method === "POST";
  const update = table && api.method === "PATCH";
  const what = table ? api.method : "rpc";
  const p = api.prefer;
  if (!insert && !update && api.search.has("columns"))
    throw unsupported(`columns= on ${what}`, "The stand-in reads columns= on inserts and updates (PostgREST ignores it on PUT).");
  if (!insert && api.search.has("on_conflict")) throw unsupported(`on_conflict= on ${what}`);
  if (!insert && p.resolution) throw unsupported(`Prefer: resolution on ${what}`, "PostgREST applies it to inserts (PUT always merges).");
  if (!insert && !update && p.missing) throw unsupported(`Prefer: missing on ${what}`, "PostgREST applies it to inserts and updates.");
  if (api.range && api.method !== "GET") {
    throw unsupported(`A Range header on ${api.method}`, "PostgREST reads the Range header on GET only and ignores it on other methods.");
  }
  const maxAffectedApplies = api.target.kind === "rpc" || api.method === "PATCH" || api.method === "DELETE";
  if (p.maxAffected !== undefined && !maxAffectedApplies)
    throw unsupported(`Prefer: max-affected on ${api.method} of a table`, "PostgREST applies it to PATCH, DELETE and rpc.");
  if (p.maxAffected !== undefined && p.handling !== "strict") {
    throw unsupported("Prefer: max-affected without handling=strict", "PostgREST ignores max-affected unless handling=strict.");
  }
}

/** The JSON payload's rows (one for an object) and, unless columns= names them, their keys: PGRST102 as PostgREST. */
function readPayload(api: ApiRequest, listed: boolean): { rows: Array<Record<string, unknown>>; keys: string[] } {
  const body = api.body;
  const isObject = (o: unknown) => o !== null && typeof o === "object" && !Array.isArray(o);
  if (api.method === "PATCH") {
    if (Array.isArray(body)) {
      throw unsupported(
        "A JSON array body on PATCH",
        "PostgREST updates each matching row from one of the array's elements, as Postgres picks it.",
      );
    }
    if (!isObject(body)) throw new PgrstError(400, "PGRST102", "Empty or invalid json");
    return { rows: [body as Record<string, unknown>], keys: Object.keys(body as object) };
  }
  const rows = Array.isArray(body) ? body : body === undefined ? null : [body];
  if (!rows || !rows.every(isObject)) throw new PgrstError(400, "PGRST102", "Empty or invalid json");
  const list = rows as Array<Record<string, unknown>>;
  const keys = Object.keys(list[0] ?? {});
  if (!listed) {
    const sorted = [...keys].sort().join(",");
    for (const r of list.slice(1)) {
      if (Object.keys(r).sort().join(",") !== sorted) throw new PgrstError(400, "PGRST102", "All object keys must match");
    }
  }
  return { rows: list, keys };
}

/** PUT takes no limit or offset (400 PGRST114, as PostgREST; an offset of 0 is no offset). */
function refusePutRange(scoped: Scoped): void {
  if (scoped.offset.get("") === "0") scoped.offset.delete("");
  if (scoped.limit.has("") || scoped.offset.has("")) {
    throw new PgrstError(400, "PGRST114", "limit/offset querystring parameters are not allowed for PUT");
  }
}

/**
 * PostgREST's rule for PUT (Plan.mutatePlan): no logic tree, the filtered columns are exactly the primary key's,
 * and every filter is a plain `eq`; otherwise 405 PGRST105.
 */
function checkPutFilters(api: ApiRequest, rel: Relation, scoped: Scoped): void {
  const keys = [...api.search.keys()].filter(
    (k) => !["select", "columns", "on_conflict"].includes(k) && !/(^|\.)(order|limit|offset|and|or)$/.test(k),
  );
  const logic = [...api.search.keys()].some((k) => /(^|\.)(and|or)$/.test(k));
  const fields = new Set(keys);
  const pk = new Set(rel.primaryKey);
  const eqOnly = (scoped.filters.get("") ?? []).every(([k, v]) => {
    const c = parseCondition(k, v);
    return c.op === "eq" && !c.negate && c.quant === undefined;
  });
  if (logic || pk.size === 0 || fields.size !== pk.size || ![...pk].every((c) => fields.has(c)) || !eqOnly) {
    throw new PgrstError(405, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators");
  }
}

/** Creates the stand-in's request handler (for node:http) over a pool of `authenticator` connections. */
export function standInHandler(options: HandlerOptions) {
  const schemas = options.schemas ?? ["public", "graphql_public"];
  const cache = new SchemaCache(options.pool, schemas);
  const verify = verification(new TextEncoder().encode(options.jwtSecret), options.jwks);
  const anonRole = options.anonRole ?? "anon";
  const maxBody = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const maxRows = options.maxRows === undefined ? 1000 : options.maxRows;

  /**
   * The rows a read or a call returns, as PostgREST computes them (ApiRequest.getRanges, RangeQuery,
   * Plan.treeRestrictRange): limit/offset make a range of row numbers, intersected with the Range header's
   * (PostgREST reads that header on GET only); limit=0 alone means no rows whatever the header says; any
   * other empty result is 416 PGRST103. db-max-rows then caps every level of the read, embeddings included.
   */
  function page(api: ApiRequest, plan: ReadPlan): void {
    const queryLast = plan.limit === null ? null : plan.offset + plan.limit - 1;
    if (queryLast !== -1) {
      let first = plan.offset;
      let last = queryLast;
      const header = api.method === "GET" ? api.range : null;
      const headerEmpty = header !== null && header.last !== null && header.last < header.first;
      if (header) {
        first = Math.max(first, header.first);
        if (header.last !== null) last = last === null ? header.last : Math.min(last, header.last);
      }
      if (headerEmpty || (last !== null && last < first)) {
        throw new PgrstError(
          416,
          "PGRST103",
          "Requested range not satisfiable",
          headerEmpty
            ? "The lower boundary must be lower than or equal to the upper boundary in the Range header."
            : "Limit should be greater than or equal to zero.",
        );
      }
      plan.offset = first;
      plan.limit = last === null ? null : last - first + 1;
    }
    capRows(plan);
  }

  function capRows(plan: ReadPlan): void {
    if (maxRows !== null) plan.limit = plan.limit === null ? maxRows : Math.min(plan.limit, maxRows);
    for (const e of plan.embeds) capRows(e.plan);
  }

  /** PostgREST's failNotSingular: with Accept: application/vnd.pgrst.object+json, anything but one row is
   * refused inside the transaction, which then rolls back. */
  function failNotSingular(api: ApiRequest, rows: number): void {
    if (api.media.kind === "object" && rows !== 1) {
      throw new PgrstError(406, "PGRST116", "Cannot coerce the result to a single JSON object", `The result contains ${rows} rows`);
    }
  }

  /** The total for Prefer: count, given the exact count and the statement whose plan estimates it. */
  async function counted(
    c: pg.PoolClient,
    api: ApiRequest,
    exact: () => Promise<number> | number,
    explain: { sql: string; values: unknown[] },
  ): Promise<number | null> {
    const kind = api.prefer.count;
    if (!kind) return null;
    if (kind === "exact") return exact();
    const planned = await plannedCount(c, explain.sql, explain.values);
    if (kind === "planned") return planned;
    // estimated: PostgREST counts exactly up to db-max-rows, beyond it (or without it) takes the larger of both.
    const n = await exact();
    return maxRows !== null && n <= maxRows ? n : Math.max(n, planned);
  }

  function total(c: pg.PoolClient, api: ApiRequest, plan: ReadPlan): Promise<number | null> {
    const params = new Params();
    const sql = countSql(plan, params);
    const plannedParams = new Params();
    const explain = readSql({ ...plan, limit: null, offset: 0, order: [] }, plannedParams);
    return counted(c, api, async () => (await c.query(sql, params.values)).rows[0].n, { sql: explain, values: plannedParams.values });
  }

  function read(ctx: Ctx, api: ApiRequest, cat: Catalog, rel: Relation, items: SelectItem[]): Promise<Outcome> {
    const scoped = scopeQuery(api.search);
    const plan = readPlan({ cat, schema: api.schema, scoped }, rel, { kind: "table", rel }, rel.name, items);
    page(api, plan);
    const params = new Params();
    const sql = responseSql(readSql(plan, params), format(api));
    return inTransaction(options.pool, ctx, async (c) => {
      await c.query("set transaction read only");
      if (api.media.kind === "plan") return runExplain(c, api, sql, params.values, "read");
      const row: Row = (await c.query(sql, params.values)).rows[0];
      await refuseResponseSettings(c);
      failNotSingular(api, row.n);
      return {
        kind: "read",
        body: row.body,
        n: row.n,
        total: await total(c, api, plan),
        offset: plan.offset,
        inserted: 0,
        single: false,
        void: false,
      };
    });
  }

  function write(ctx: Ctx, api: ApiRequest, cat: Catalog, rel: Relation, items: SelectItem[]): Promise<Outcome> {
    const scoped = scopeQuery(api.search);
    const put = api.method === "PUT";
    if (put) refusePutRange(scoped);
    refuseMutationPaging(scoped);
    const p = api.prefer;
    const columnsParam = api.search.get("columns");
    const listed = columnsParam === null ? null : parseColumns(columnsParam);
    const params = new Params();
    const payload = api.method === "DELETE" ? null : readPayload(api, listed !== null);
    const rep = readPlan(
      { cat, schema: api.schema, scoped: embedsOnly(scoped) },
      rel,
      { kind: "cte", name: "pgrst_source" },
      rel.name,
      items,
    );
    const returning = returningFor(rep, p.return === "representation");
    if (returning.kind === "some" && returning.computed.size > 0) rep.source = { kind: "cte", name: "pgrst_source", computedColumns: true };
    if (put) checkPutFilters(api, rel, scoped);
    const filterPlan = readPlan({ cat, schema: api.schema, scoped: rootOnly(scoped) }, rel, { kind: "table", rel }, rel.name, []);
    const checked = (columns: string[]) => {
      for (const c of columns) if (!rel.columns.has(c)) throw pgrstColumnNotFound(rel, c);
      return columns;
    };
    let mutation: string;
    let kind: Outcome["kind"];
    // An upsert that may update counts what it inserted (insertSql); any other insert inserted every row it touched.
    let countsInserted = false;
    if (api.method === "POST" || put) {
      kind = put ? "put" : "insert";
      if (!put && filterPlan.filters.length) throw unsupported("Filters on an insert");
      const { rows, keys } = payload!;
      const spec: InsertSpec = {
        rel,
        alias: rel.name,
        columns: checked(listed ?? keys),
        rows,
        missingDefault: !put && p.missing === "default",
        returning,
      };
      const onConflict = api.search.get("on_conflict");
      if (put) spec.put = { ...filterPlan, alias: "pgrst_body" };
      else if (p.resolution) {
        const cols = onConflict !== null ? onConflict.split(",").map((c) => c.trim().replace(/^"(.*)"$/, "$1")) : rel.primaryKey;
        if (cols.length === 0) throw new PgrstError(400, "PGRST100", "on_conflict is required: the table has no primary key");
        for (const c of cols) if (!rel.columns.has(c)) throw pgrstColumnNotFound(rel, c);
        spec.onConflict = { columns: cols, resolution: p.resolution };
      } else if (onConflict !== null) {
        throw unsupported("on_conflict without Prefer: resolution", "Send Prefer: resolution=merge-duplicates or ignore-duplicates.");
      }
      countsInserted = put || (spec.onConflict?.resolution === "merge-duplicates" && spec.columns.length > 0);
      mutation = insertSql(spec, params);
    } else if (api.method === "PATCH") {
      kind = "update";
      const body = payload!.rows[0]!;
      const columns = checked(listed ?? Object.keys(body));
      if (columns.length === 0) {
        // As PostgREST: an empty body updates nothing (it selects no row), so a single object is not there.
        failNotSingular(api, 0);
        return Promise.resolve({ kind, body: "[]", n: 0, total: null, offset: 0, inserted: 0, single: false, void: false });
      }
      mutation = updateSql(filterPlan, columns, body, p.missing === "default", returning, params);
    } else {
      kind = "delete";
      mutation = deleteSql(filterPlan, returning, params);
    }
    const sql = mutationResponseSql(mutation, returning.kind === "none" ? null : rep, format(api), params);
    return inTransaction(options.pool, ctx, async (c) => {
      if (api.media.kind === "plan") return runExplain(c, api, sql, params.values, kind);
      const row: Row = (await c.query(sql, params.values)).rows[0];
      await refuseResponseSettings(c);
      // PostgREST's page total of a write: the rows of the representation when one is returned, else every
      // row the statement touched. The checks run before the commit and roll the change back.
      const rows = p.return === "representation" ? row.n : (row.affected ?? 0);
      if (put && rows !== 1) throw new PgrstError(400, "PGRST115", "Payload values do not match URL in primary key column(s)");
      if (!put) failNotSingular(api, rows);
      if (p.handling === "strict" && p.maxAffected !== undefined && kind !== "insert" && rows > p.maxAffected) {
        throw new PgrstError(400, "PGRST124", "Query result exceeds max-affected preference constraint", `The query affects ${rows} rows`);
      }
      const inserted = countsInserted
        ? (await c.query(`select coalesce(nullif(current_setting('${INSERTED_SETTING}', true), '')::int, 0) as n`)).rows[0].n
        : kind === "insert"
          ? (row.affected ?? 0)
          : 0;
      return { kind, body: row.body, n: rows, total: p.count ? rows : null, offset: 0, inserted, single: false, void: false };
    });
  }

  function call(ctx: Ctx, api: ApiRequest, cat: Catalog, name: string, items: SelectItem[] | null): Promise<Outcome> {
    const isPost = api.method === "POST";
    let args: Record<string, unknown> = {};
    let raw: string | null = null;
    let argKeys = new Set<string>();
    if (isPost) {
      if (Array.isArray(api.body)) throw unsupported("Calling a function with a JSON array body");
      if (api.body !== undefined && (api.body === null || typeof api.body !== "object"))
        throw new PgrstError(400, "PGRST102", "Function arguments must be a JSON object");
      if (api.body !== undefined) {
        args = api.body as Record<string, unknown>;
        raw = JSON.stringify(api.body);
      }
    } else {
      // As PostgREST: a parameter whose value has an operator is a filter on the result, any other an argument.
      for (const [k, v] of api.search) {
        if (["select", "columns", "on_conflict"].includes(k) || /(^|\.)(order|limit|offset|and|or)$/.test(k) || isFilterValue(v)) continue;
        if (Object.hasOwn(args, k)) throw unsupported(`Repeating the function argument "${k}" (variadic arguments)`);
        args[k] = v;
      }
      argKeys = new Set(Object.keys(args));
    }
    const fn = findRoutine(cat, api.schema, name, Object.keys(args), isPost, api.jsonBody);
    const scoped = scopeQuery(api.search, argKeys);

    let returnsRel = fn.returnsRelation ? cat.relation(fn.returnsRelation.schema, fn.returnsRelation.name) : undefined;
    if (!returnsRel && fn.returnsComposite && fn.outColumns.length > 0) {
      // RETURNS TABLE (...) / OUT parameters: the function's own columns, as a relation without keys.
      const columns = new Map(fn.outColumns.map((c) => [c.name, { name: c.name, type: c.type, nullable: true, defaultExpr: null }]));
      returnsRel = { schema: fn.schema, name: fn.name, isView: true, columns, primaryKey: [], uniques: [] };
    }
    const shaped = scoped.filters.size + scoped.logic.size + scoped.order.size > 0;
    const selecting = items !== null && !(items.length === 1 && items[0]!.kind === "star");
    let plan: ReadPlan | undefined;
    let range = { offset: 0, limit: null as number | null, embeds: [] as ReadPlan["embeds"] };
    if (returnsRel) {
      plan = readPlan(
        { cat, schema: api.schema, scoped },
        returnsRel,
        { kind: "cte", name: "pgrst_call" },
        fn.name,
        items ?? [{ kind: "star" }],
      );
      page(api, plan);
    } else {
      const kindOf = fn.returnsVoid ? "void" : fn.returnsComposite ? "an anonymous record" : "a scalar";
      if (shaped || selecting) throw unsupported(`select=, filters and order on a function that returns ${kindOf}`);
      if ([...scoped.limit.keys(), ...scoped.offset.keys()].some((k) => k !== ""))
        throw unsupported(`Embedded limit or offset on a function that returns ${kindOf}`);
      if (format(api) === "csv") throw unsupported("text/csv from a function that does not return rows of a table");
      // limit, offset, the Range header and db-max-rows page a set of values as they page rows (PostgREST
      // reads them all through the same range); the stand-in does not page a function returning one value.
      range = { offset: nonNegative(scoped.offset.get(""), "offset") ?? 0, limit: nonNegative(scoped.limit.get(""), "limit"), embeds: [] };
      const explicit = scoped.limit.size + scoped.offset.size > 0 || (api.method === "GET" && api.range !== null);
      page(api, range as ReadPlan);
      if (!fn.returnsSet && explicit) {
        throw unsupported(
          `limit, offset or a Range header on a function that returns ${fn.returnsVoid ? "void" : kindOf.replace(/^an? /, "one ")}`,
        );
      }
    }

    /** The statement (called once, in a CTE that the page and the count both read, as PostgREST does). */
    const statement = (params: Params, what: "response" | "unpaged", exactCount: boolean): string => {
      const { record, call: callExpr } = callSources(fn, args, raw, params);
      const source = `${record ? `${record}, LATERAL ` : ""}${callExpr}`;
      let withClause = "";
      let main: string;
      let unpaged: () => string;
      if (plan) {
        withClause = `WITH pgrst_call AS MATERIALIZED (SELECT _pgrst_s.* FROM ${source} AS _pgrst_s) `;
        const p = plan;
        if (what === "unpaged") return `${withClause}${readSql({ ...p, limit: null, offset: 0, order: [] }, params)}`;
        main = responseSql(readSql(p, params), format(api));
        unpaged = () => readSql({ ...p, limit: null, offset: 0, order: [] }, params);
      } else if (fn.returnsSet) {
        const value = fn.returnsComposite ? "_pgrst_s" : "_pgrst_s.v";
        withClause = `WITH pgrst_call AS MATERIALIZED (SELECT ${value} AS v FROM ${source} AS _pgrst_s${fn.returnsComposite ? "" : "(v)"}) `;
        if (what === "unpaged") return `${withClause}SELECT v FROM pgrst_call`;
        const paging = `${range.limit !== null ? ` LIMIT ${range.limit}` : ""}${range.offset ? ` OFFSET ${range.offset}` : ""}`;
        main = `SELECT coalesce(json_agg(_pgrst_t.v), '[]')::text AS body, count(*)::int AS n FROM (SELECT v FROM pgrst_call${paging}) _pgrst_t`;
        unpaged = () => "SELECT v FROM pgrst_call";
      } else if (fn.returnsVoid) {
        main = `SELECT NULL::text AS body, 0 AS n FROM (SELECT ${callExpr}${record ? ` FROM ${record}` : ""}) _pgrst_v`;
        unpaged = () => "SELECT 1";
      } else {
        // A NULL result is the JSON body `null`, as PostgREST answers it (never an empty body).
        main = `SELECT coalesce(to_jsonb(${callExpr}), 'null'::jsonb)::text AS body, 1 AS n${record ? ` FROM ${record}` : ""}`;
        unpaged = () => "SELECT 1";
      }
      if (what === "unpaged") return `${withClause}${main}`;
      const count = exactCount ? `(SELECT count(*) FROM (${unpaged()}) _pgrst_c)::int` : "NULL::int";
      return `${withClause}SELECT _r.body, _r.n, ${count} AS total FROM (${main}) _r`;
    };
    const params = new Params();
    const exactCount = api.prefer.count === "exact" || api.prefer.count === "estimated";
    const sql = statement(params, "response", exactCount && (plan !== undefined || fn.returnsSet));
    const single = !fn.returnsSet && !fn.returnsVoid;
    return inTransaction(options.pool, ctx, async (c) => {
      // As PostgREST: GET calls, and POST calls of stable or immutable functions, run read-only, so a
      // function that writes fails there with 25006 (405).
      if (!isPost || !fn.volatile) await c.query("set transaction read only");
      if (api.media.kind === "plan") return runExplain(c, api, sql, params.values, "call");
      const row: Row & { total: number | null } = (await c.query(sql, params.values)).rows[0];
      await refuseResponseSettings(c);
      // PostgREST counts one row for a function that does not return a set, whatever it returned.
      failNotSingular(api, fn.returnsSet ? row.n : 1);
      if (api.prefer.handling === "strict" && api.prefer.maxAffected !== undefined) {
        if (!fn.returnsSet)
          throw new PgrstError(
            400,
            "PGRST128",
            "Function must return SETOF or TABLE when max-affected preference is used with handling=strict",
          );
        if (row.n > api.prefer.maxAffected)
          throw new PgrstError(
            400,
            "PGRST124",
            "Query result exceeds max-affected preference constraint",
            `The query affects ${row.n} rows`,
          );
      }
      let body = row.body;
      if (single && returnsRel && format(api) === "json") body = JSON.stringify((JSON.parse(body ?? "[]") as unknown[])[0] ?? null);
      const explainParams = new Params();
      const explain = { sql: statement(explainParams, "unpaged", false), values: explainParams.values };
      const t = await counted(c, api, () => row.total ?? row.n, explain);
      return { kind: "call", body, n: row.n, total: t, offset: plan?.offset ?? range.offset, inserted: 0, single, void: fn.returnsVoid };
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const api = await parseRequest(req, schemas, maxBody);
    const auth = await authenticate(req, verify, anonRole);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "authorization" && k !== "cookie") headers[k] = v;
    const ctx: Ctx = {
      ...auth,
      schema: api.schema,
      method: req.method ?? "GET",
      path: api.path,
      headers,
      rollback: api.prefer.tx === "rollback",
      extraSearchPath: options.extraSearchPath ?? ["public", "extensions"],
      roleSettings: options.roleSettings.of(auth.role),
    };
    const cat = await cache.snapshot();
    if (api.media.kind === "plan" && !cat.settings.plan) {
      throw new PgrstError(
        406,
        "PGRST107",
        `None of these media types are available: ${req.headers.accept}`,
        null,
        "PostgREST serves execution plans with db-plan-enabled (here: alter role authenticator set pgrst.db_plan_enabled = 'true').",
      );
    }
    refuseIgnored(api);
    // PostgREST's db-tx-end: with "commit" or "rollback" it ignores Prefer: tx; the stand-in refuses it instead.
    // When the database does not set it, the stand-in honours Prefer: tx (as commit-allow-override).
    const txEnd = cat.settings.txEnd ?? "commit-allow-override";
    if (api.prefer.tx !== undefined && !txEnd.endsWith("-allow-override")) {
      throw new PgrstError(
        400,
        "PGRST122",
        "Invalid preferences given with handling=strict",
        `Invalid preferences: tx=${api.prefer.tx}`,
        `The database sets db-tx-end to ${txEnd}, which does not let a request choose.`,
      );
    }
    ctx.rollback = api.prefer.tx === "rollback" || (api.prefer.tx === undefined && txEnd.startsWith("rollback"));
    const select = api.search.get("select");
    const items = select === null ? null : parseSelect(select);
    let outcome: Outcome;
    if (api.target.kind === "rpc") {
      if (api.method === "PUT" || api.method === "PATCH" || api.method === "DELETE")
        throw new PgrstError(405, "PGRST101", "Only GET and POST are allowed for functions");
      outcome = await call(ctx, api, cat, api.target.name, items);
    } else {
      const rel = cat.relation(api.schema, api.target.name);
      if (!rel) {
        const near = closest(cat.relationNames(api.schema), api.target.name, 0.75);
        throw new PgrstError(
          404,
          "PGRST205",
          `Could not find the table '${api.schema}.${api.target.name}' in the schema cache`,
          null,
          near === null ? null : `Perhaps you meant the table '${api.schema}.${near}'`,
        );
      }
      const list = items ?? [{ kind: "star" } as const];
      outcome =
        api.method === "GET" || api.method === "HEAD" ? await read(ctx, api, cat, rel, list) : await write(ctx, api, cat, rel, list);
    }
    respond(res, api, outcome);
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await handle(req, res);
    } catch (e) {
      const err =
        e instanceof PgrstError
          ? e
          : new PgrstError(500, "PGRSTX00", "Internal error in the local PostgREST stand-in", (e as Error)?.message ?? null);
      if (!res.headersSent) res.writeHead(err.status, { "content-type": "application/json; charset=utf-8", ...err.headers });
      res.end(err.body());
    }
  };
}

// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. SQL building: read plans become one SELECT with a
// LATERAL join per embedding (row_to_json for to-one, json_agg for to-many, as PostgREST builds them).
// Identifiers come from the catalog and are quoted; every value from the request is a bound parameter.
import { ident, qualified, type Relation, type Routine } from "./catalog.ts";
import { PgrstError } from "./errors.ts";
import type { Condition, FilterNode, JsonStep } from "./grammar.ts";
import type { EmbedPlan, FieldExpr, ReadPlan, Returning, SelectField } from "./plan-types.ts";

/** Collects bound parameters and hands out their placeholders. */
export class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/** A cast target from the request: letters, digits, spaces, underscores, an optional []. */
function castType(t: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_ ]*(\[\])?$/.test(t)) throw new PgrstError(400, "PGRST100", `"${t}" is not a valid type to cast to`);
  return t;
}

function jsonPath(path: JsonStep[], params: Params): string {
  return path.map((s) => `${s.arrow}${/^-?\d+$/.test(s.key) ? `${params.add(s.key)}::int` : `${params.add(s.key)}::text`}`).join("");
}

/** The row of `alias` as a value of `rel`'s row type (a CTE's rows are anonymous records). */
export function rowOf(alias: string, rel: Relation, fromCte: boolean): string {
  return fromCte ? `json_populate_record(null::${qualified(rel)}, row_to_json(${ident(alias)}))` : ident(alias);
}

function fieldSql(plan: ReadPlan, e: FieldExpr, params: Params): string {
  let sql: string;
  if (e.kind === "count") sql = "*";
  else if (e.kind === "computed" && plan.source.kind === "cte" && plan.source.computedColumns)
    sql = `${ident(plan.alias)}.${ident(e.name)}`;
  else if (e.kind === "computed") sql = `${qualified(e.fn!)}(${rowOf(plan.alias, plan.rel, plan.source.kind === "cte")})`;
  else sql = `${ident(plan.alias)}.${ident(e.name)}`;
  if (e.path.length) sql = `${e.kind === "computed" ? `to_jsonb(${sql})` : sql}${jsonPath(e.path, params)}`;
  if (e.cast !== undefined) sql = `CAST(${sql} AS ${castType(e.cast)})`;
  return sql;
}

function selectFieldSql(plan: ReadPlan, f: SelectField, params: Params): string {
  let sql = fieldSql(plan, f.expr, params);
  if (f.aggregate) {
    sql = `${f.aggregate.fn}(${sql})`;
    if (f.aggregate.cast !== undefined) sql = `CAST(${sql} AS ${castType(f.aggregate.cast)})`;
  }
  return `${sql} AS ${ident(f.out)}`;
}

const SIMPLE: Record<string, string> = {
  eq: "=",
  neq: "<>",
  gt: ">",
  gte: ">=",
  lt: "<",
  lte: "<=",
  like: "LIKE",
  ilike: "ILIKE",
  match: "~",
  imatch: "~*",
  cs: "@>",
  cd: "<@",
  ov: "&&",
  sl: "<<",
  sr: ">>",
  nxr: "&<",
  nxl: "&>",
  adj: "-|-",
};
const FTS: Record<string, string> = {
  fts: "to_tsquery",
  plfts: "plainto_tsquery",
  phfts: "phraseto_tsquery",
  wfts: "websearch_to_tsquery",
};

/** A list literal `(a,"b,c")` as a Postgres array literal's elements. */
function listItems(value: string): string[] {
  const m = /^\(([\s\S]*)\)$/.exec(value);
  if (!m) throw new PgrstError(400, "PGRST100", `"${value}" must be a parenthesised list`, "in.(a,b,c)");
  if (m[1] === "") return [];
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  const s = m[1]!;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quoted && ch === "\\" && i + 1 < s.length) cur += s[++i];
    else if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function conditionSql(plan: ReadPlan, c: Condition, params: Params): string {
  const expr: FieldExpr = plan.rel.columns.has(c.field.name)
    ? { kind: "column", name: c.field.name, path: c.field.path }
    : { kind: "computed", name: c.field.name, path: c.field.path, fn: computedOf(plan, c.field.name) };
  const col = fieldSql(plan, expr, params);
  let sql: string;
  const v = c.value;
  switch (c.op) {
    case "is": {
      const kw: Record<string, string> = { null: "NULL", not_null: "NOT NULL", true: "TRUE", false: "FALSE", unknown: "UNKNOWN" };
      const k = kw[v.toLowerCase()];
      if (!k) throw new PgrstError(400, "PGRST100", `"is.${v}" is not null, not_null, true, false or unknown`);
      sql = `${col} IS ${k}`;
      break;
    }
    case "isdistinct":
      sql = `${col} IS DISTINCT FROM ${params.add(v)}`;
      break;
    case "in": {
      // As PostgREST: a list of one empty element is the empty list.
      const items = c.list ?? listItems(v);
      sql = `${col} = ANY(${params.add(items.length === 1 && items[0] === "" ? [] : items)})`;
      break;
    }
    case "fts":
    case "plfts":
    case "phfts":
    case "wfts": {
      // As PostgREST: a column that is not a tsvector is converted with the same configuration.
      const lang = c.lang !== undefined ? `${params.add(c.lang)}::regconfig` : null;
      const isTsv = plan.rel.columns.get(c.field.name)?.type === "tsvector" && c.field.path.length === 0;
      const doc = isTsv ? col : `to_tsvector(${lang ? `${lang}, ` : ""}${col})`;
      sql = `${doc} @@ ${FTS[c.op]}(${lang ? `${lang}, ` : ""}${params.add(v)})`;
      break;
    }
    default: {
      const op = SIMPLE[c.op]!;
      const pattern = c.op === "like" || c.op === "ilike";
      if (c.quant) {
        const items = listItems(v.startsWith("{") && v.endsWith("}") ? `(${v.slice(1, -1)})` : v);
        sql = `${col} ${op} ${c.quant.toUpperCase()}(${params.add(pattern ? items.map((x) => x.replace(/\*/g, "%")) : items)})`;
      } else {
        sql = `${col} ${op} ${params.add(pattern ? v.replace(/\*/g, "%") : v)}`;
      }
    }
  }
  return c.negate ? `NOT (${sql})` : sql;
}

function computedOf(plan: ReadPlan, name: string) {
  const fn = plan.computed.get(name);
  if (!fn) throw new Error(`computed field ${name} was not resolved`);
  return fn;
}

/** A filter tree as SQL over `plan`'s alias. */
export function filterSql(plan: ReadPlan, n: FilterNode, params: Params): string {
  if (n.kind === "cond") return conditionSql(plan, n, params);
  const inner = n.children.map((c) => filterSql(plan, c, params)).join(n.op === "or" ? " OR " : " AND ");
  return `${n.negate ? "NOT " : ""}(${inner || (n.op === "or" ? "FALSE" : "TRUE")})`;
}

function orderSql(plan: ReadPlan, params: Params): string {
  if (plan.order.length === 0) return "";
  return (
    " ORDER BY " +
    plan.order
      .map((t) => {
        let sql: string;
        if (t.aggAlias !== undefined) sql = `${ident(t.aggAlias)}.${ident(t.field.name)}${jsonPath(t.field.path, params)}`;
        else if (plan.rel.columns.has(t.field.name))
          sql = fieldSql(plan, { kind: "column", name: t.field.name, path: t.field.path }, params);
        else sql = fieldSql(plan, { kind: "computed", name: t.field.name, path: t.field.path, fn: computedOf(plan, t.field.name) }, params);
        return `${sql}${t.dir ? ` ${t.dir.toUpperCase()}` : ""}${t.nulls ? ` NULLS ${t.nulls.toUpperCase()}` : ""}`;
      })
      .join(", ")
  );
}

function isEmpty(p: ReadPlan): boolean {
  return !p.star && p.fields.length === 0 && p.embeds.every((e) => isEmpty(e.plan));
}

/** Output names of a plan's select (for spreading it into its parent). */
function outputNames(p: ReadPlan): string[] {
  const names = p.star ? [...p.rel.columns.keys()] : [];
  for (const f of p.fields) names.push(f.out);
  for (const e of p.embeds) {
    if (isEmpty(e.plan)) continue;
    if (e.spread) names.push(...outputNames(e.plan));
    else names.push(e.out);
  }
  return [...new Set(names)];
}

function fromSql(plan: ReadPlan, params: Params): string {
  const s = plan.source;
  if (s.kind === "table") return `${qualified(s.rel)} AS ${ident(plan.alias)}`;
  if (s.kind === "cte") return `${ident(s.name)} AS ${ident(plan.alias)}`;
  if (s.kind === "rpc") {
    const { record, call } = callSources(s.fn, s.args, s.raw, params);
    return `${record ? `${record}, LATERAL ` : ""}${call} AS ${ident(plan.alias)}`;
  }
  return `${qualified(s.fn)}(${rowOf(s.parentAlias, s.parentRel, s.parentIsCte)}) AS ${ident(plan.alias)}`;
}

function joinConditions(plan: ReadPlan, params: Params): { from: string; where: string[] } {
  const p = plan.parent;
  if (!p) return { from: fromSql(plan, params), where: [] };
  const r = p.rel;
  if (r.junction) {
    const j = r.junction;
    const jAlias = `${j.table.name}_${plan.depth}`;
    return {
      from: `${fromSql(plan, params)}, ${qualified(j.table)} AS ${ident(jAlias)}`,
      where: [
        ...j.fromCols.map(([pc, jc]) => `${ident(jAlias)}.${ident(jc)} = ${ident(p.alias)}.${ident(pc)}`),
        ...j.toCols.map(([jc, cc]) => `${ident(jAlias)}.${ident(jc)} = ${ident(plan.alias)}.${ident(cc)}`),
      ],
    };
  }
  return {
    from: fromSql(plan, params),
    where: r.columns.map(([pc, cc]) => `${ident(plan.alias)}.${ident(cc)} = ${ident(p.alias)}.${ident(pc)}`),
  };
}

/** A read plan as one SELECT statement. */
export function readSql(plan: ReadPlan, params: Params): string {
  const selects: string[] = [];
  if (plan.star) selects.push(`${ident(plan.alias)}.*`);
  for (const f of plan.fields) selects.push(selectFieldSql(plan, f, params));
  const joins: string[] = [];
  const groupExtra: string[] = [];
  for (const e of plan.embeds) {
    const { select, join, group } = embedSql(e, params);
    selects.push(...select);
    joins.push(join);
    groupExtra.push(...group);
  }
  const { from, where } = joinConditions(plan, params);
  const conds = [...where, ...plan.filters.map((f) => filterSql(plan, f, params))];
  for (const n of plan.embedNullFilters) conds.push(`${ident(n.aggAlias)} IS ${n.isNull ? "NOT " : ""}DISTINCT FROM NULL`);
  let sql = `SELECT ${selects.length ? selects.join(", ") : "NULL"} FROM ${from}${joins.join("")}`;
  if (conds.length) sql += ` WHERE ${conds.join(" AND ")}`;
  if (plan.fields.some((f) => f.aggregate)) {
    const groups = [
      ...plan.fields.filter((f) => !f.aggregate).map((f) => ident(f.out)),
      ...(plan.star ? [...plan.rel.columns.keys()].map((c) => `${ident(plan.alias)}.${ident(c)}`) : []),
      ...groupExtra,
    ];
    if (groups.length) sql += ` GROUP BY ${groups.join(", ")}`;
  }
  sql += orderSql(plan, params);
  if (plan.limit !== null) sql += ` LIMIT ${plan.limit}`;
  if (plan.offset) sql += ` OFFSET ${plan.offset}`;
  return sql;
}

function embedSql(e: EmbedPlan, params: Params): { select: string[]; join: string; group: string[] } {
  const a = ident(e.aggAlias);
  const sub = readSql(e.plan, params);
  const kind = e.inner ? "INNER" : "LEFT";
  const empty = isEmpty(e.plan);
  if (e.toOne) {
    const join = ` ${kind} JOIN LATERAL (${sub}) AS ${a} ON TRUE`;
    if (empty) return { select: [], join, group: [] };
    if (e.spread) {
      const names = outputNames(e.plan);
      return { select: names.map((n) => `${a}.${ident(n)} AS ${ident(n)}`), join, group: names.map((n) => `${a}.${ident(n)}`) };
    }
    return { select: [`row_to_json(${a}.*)::jsonb AS ${ident(e.out)}`], join, group: [ident(e.out)] };
  }
  if (e.spread) {
    const names = outputNames(e.plan);
    const aggs = names.map((n) => `COALESCE(json_agg(${a}.${ident(n)}), '[]')::jsonb AS ${ident(n)}`);
    const join = ` ${kind} JOIN LATERAL (SELECT ${aggs.length ? aggs.join(", ") : "NULL"} FROM (${sub}) AS ${a}) AS ${a} ON TRUE`;
    return { select: names.map((n) => `${a}.${ident(n)} AS ${ident(n)}`), join, group: names.map((n) => `${a}.${ident(n)}`) };
  }
  const join = ` ${kind} JOIN LATERAL (SELECT json_agg(${a})::jsonb AS ${a} FROM (${sub}) AS ${a}) AS ${a} ON ${e.inner ? `${a} IS NOT NULL` : "TRUE"}`;
  if (empty) return { select: [], join, group: [] };
  return { select: [`COALESCE(${a}.${a}, '[]') AS ${ident(e.out)}`], join, group: [ident(e.out)] };
}

/** Wraps a read as PostgREST does: the rows as a JSON array built by Postgres, plus their number. */
export function bodySql(inner: string): string {
  return `SELECT coalesce(json_agg(_pgrst_t), '[]')::text AS body, count(*)::int AS n FROM (${inner}) _pgrst_t`;
}

/** The body of a response in the negotiated format, built by Postgres over the rows of `inner`. */
export function responseSql(inner: string, format: "json" | "csv"): string {
  if (format === "json") return bodySql(inner);
  // As PostgREST: the header from the first row's keys, each row as its record text without the parentheses.
  return (
    `SELECT (SELECT coalesce(string_agg(k, ','), '') FROM (SELECT json_object_keys(row_to_json(_h)) AS k FROM (SELECT * FROM (${inner}) _h0 LIMIT 1) _h) _k)` +
    ` || chr(10) || coalesce(string_agg(substring(_pgrst_t::text, 2, length(_pgrst_t::text) - 2), chr(10)), '') AS body, count(*)::int AS n FROM (${inner}) _pgrst_t`
  );
}

/** The statement that counts what a read would return without paging. */
export function countSql(plan: ReadPlan, params: Params): string {
  return `SELECT count(*)::int AS n FROM (${readSql({ ...plan, limit: null, offset: 0, order: [] }, params)}) _pgrst_c`;
}

function returningSql(alias: string, r: Returning): string {
  if (r.kind === "none") return "RETURNING 1";
  if (r.kind === "all") return `RETURNING ${ident(alias)}.*`;
  const cols = r.columns.map((c) => `${ident(alias)}.${ident(c)}`);
  const computed = [...r.computed].map(([name, fn]) => `${qualified(fn)}(${ident(alias)}) AS ${ident(name)}`);
  return `RETURNING ${[...cols, ...computed].join(", ")}`;
}

/** The setting an upsert counts its inserted rows in (reading xmax would need SELECT on the table). */
export const INSERTED_SETTING = "pgrst_standin.inserted";

/** A condition that is true and adds `delta` to the inserted-rows count, for a WHERE evaluated once per row. */
function countInserted(delta: 1 | -1): string {
  const current = `coalesce(nullif(current_setting('${INSERTED_SETTING}', true), '')::int, 0)`;
  return `set_config('${INSERTED_SETTING}', (${current} ${delta > 0 ? "+" : "-"} 1)::text, true) IS NOT NULL`;
}

export interface InsertSpec {
  rel: Relation;
  alias: string;
  columns: string[];
  rows: Array<Record<string, unknown>>;
  /** Missing keys take the column default (Prefer: missing=default) instead of NULL. */
  missingDefault: boolean;
  onConflict?: { columns: string[]; resolution: "merge-duplicates" | "ignore-duplicates" };
  /** PUT: the URL's primary-key conditions, checked on the payload's row (a plan aliased pgrst_body). */
  put?: ReadPlan;
  returning: Returning;
}

/**
 * INSERT ... (upsert with ON CONFLICT) as PostgREST builds it; the rows are one bound JSON parameter, read as
 * `pgrst_body` with only the inserted columns. An upsert that may update (merge-duplicates, PUT) counts the rows
 * it inserts in INSERTED_SETTING.
 */
export function insertSql(spec: InsertSpec, params: Params): string {
  const t = `${qualified(spec.rel)} AS ${ident(spec.alias)}`;
  const cols = spec.columns.map(ident).join(", ");
  const merge = spec.put !== undefined || spec.onConflict?.resolution === "merge-duplicates";
  let source: string;
  if (spec.missingDefault && spec.columns.length > 0) {
    // As PostgREST: every row is merged over an object of the columns' defaults (evaluated for every row).
    const defs = spec.columns.flatMap((c) => {
      const d = spec.rel.columns.get(c)?.defaultExpr;
      return d ? [`${params.add(c)}::text, ${d}`] : [];
    });
    const rows = `(SELECT jsonb_agg(jsonb_build_object(${defs.join(", ")}) || _e) FROM jsonb_array_elements(${params.add(JSON.stringify(spec.rows))}::jsonb) _e)`;
    source = `jsonb_populate_recordset(null::${qualified(spec.rel)}, ${rows})`;
  } else source = `json_populate_recordset(null::${qualified(spec.rel)}, ${params.add(JSON.stringify(spec.rows))}::json)`;
  let sql: string;
  if (spec.columns.length === 0 && !spec.put) {
    sql = spec.rows.length === 0 ? `INSERT INTO ${t} SELECT * FROM ${qualified(spec.rel)} WHERE false` : `INSERT INTO ${t} DEFAULT VALUES`;
  } else {
    // The key conditions first: only a row that passes them is counted.
    const where = [...(spec.put ? spec.put.filters.map((f) => filterSql(spec.put!, f, params)) : []), ...(merge ? [countInserted(1)] : [])];
    sql =
      `INSERT INTO ${t}${cols ? ` (${cols})` : ""} SELECT ${cols} FROM (SELECT ${cols} FROM ${source} _) pgrst_body` +
      (where.length ? ` WHERE ${where.join(" AND ")}` : "");
  }
  const conflict = spec.put ? { columns: spec.rel.primaryKey, resolution: "merge-duplicates" as const } : spec.onConflict;
  if (conflict && (spec.columns.length > 0 || spec.put)) {
    const target = conflict.columns.map(ident).join(", ");
    sql +=
      conflict.resolution === "ignore-duplicates" || spec.columns.length === 0
        ? ` ON CONFLICT (${target}) DO NOTHING`
        : ` ON CONFLICT (${target}) DO UPDATE SET ${spec.columns.map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`).join(", ")} WHERE ${countInserted(-1)}`;
  }
  return `${sql} ${returningSql(spec.alias, spec.returning)}`;
}

/**
 * UPDATE ... SET the `columns` from one bound JSON object read as `pgrst_body` (with the listed columns' defaults
 * under it for Prefer: missing=default, evaluated once as PostgREST does), with the request's filters.
 */
export function updateSql(
  filterPlan: ReadPlan,
  columns: string[],
  body: Record<string, unknown>,
  missingDefault: boolean,
  returning: Returning,
  params: Params,
): string {
  const rel = filterPlan.rel;
  let source: string;
  if (missingDefault) {
    const defs = columns.flatMap((c) => {
      const d = rel.columns.get(c)?.defaultExpr;
      return d ? [`${params.add(c)}::text, ${d}`] : [];
    });
    source = `jsonb_populate_record(null::${qualified(rel)}, jsonb_build_object(${defs.join(", ")}) || ${params.add(JSON.stringify(body))}::jsonb)`;
  } else source = `json_populate_record(null::${qualified(rel)}, ${params.add(JSON.stringify(body))}::json)`;
  const sets = columns.map((k) => `${ident(k)} = pgrst_body.${ident(k)}`).join(", ");
  const where = filterPlan.filters.map((f) => filterSql(filterPlan, f, params));
  const sql = `UPDATE ${qualified(rel)} AS ${ident(filterPlan.alias)} SET ${sets} FROM ${source} AS pgrst_body${where.length ? ` WHERE ${where.join(" AND ")}` : ""}`;
  return `${sql} ${returningSql(filterPlan.alias, returning)}`;
}

/** DELETE with the request's filters. */
export function deleteSql(filterPlan: ReadPlan, returning: Returning, params: Params): string {
  const rel = filterPlan.rel;
  const where = filterPlan.filters.map((f) => filterSql(filterPlan, f, params));
  const sql = `DELETE FROM ${qualified(rel)} AS ${ident(filterPlan.alias)}${where.length ? ` WHERE ${where.join(" AND ")}` : ""}`;
  return `${sql} ${returningSql(filterPlan.alias, returning)}`;
}

/**
 * A write and its response: the statement in a CTE (pgrst_source), the representation read over it (none when
 * RETURNING gives nothing), the number of rows it touched.
 */
export function mutationResponseSql(mutation: string, read: ReadPlan | null, format: "json" | "csv", params: Params): string {
  const withClause = `WITH pgrst_source AS (${mutation}) `;
  if (read === null) return `${withClause}SELECT NULL::text AS body, count(*)::int AS n, count(*)::int AS affected FROM pgrst_source`;
  const inner = readSql(read, params);
  return `${withClause}SELECT _r.body, _r.n, (SELECT count(*) FROM pgrst_source)::int AS affected FROM (${responseSql(inner, format)}) _r`;
}

/** How a function is called: positional (whole body to one unnamed parameter) or by name from a JSON object. */
export function callSources(
  fn: Routine,
  args: Record<string, unknown> | null,
  rawBody: string | null,
  params: Params,
): { record: string | null; call: string } {
  if (fn.params.length === 1 && fn.params[0]!.name === "") {
    if (rawBody === null) return { record: null, call: `${qualified(fn)}()` };
    return { record: null, call: `${qualified(fn)}(${params.add(rawBody)}::${fn.params[0]!.type})` };
  }
  const present = fn.params.filter((p) => args !== null && Object.hasOwn(args, p.name));
  if (present.length === 0) return { record: null, call: `${qualified(fn)}()` };
  const record = `json_to_record(${params.add(JSON.stringify(args))}::json) AS pgrst_args(${present.map((p) => `${ident(p.name)} ${p.type}`).join(", ")})`;
  const call = `${qualified(fn)}(${present.map((p) => `${p.variadic ? "VARIADIC " : ""}${ident(p.name)} := pgrst_args.${ident(p.name)}`).join(", ")})`;
  return { record, call };
}

// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. The query-string grammar supabase-js and
// postgrest-js use: select=, horizontal filters (eq neq gt gte lt lte like ilike is in, not., or=(), and=()),
// order=, limit=, offset=. Every column is checked against the catalog; every value is a bound parameter.
import { ident, type Relation } from "./catalog.ts";
import { PgrstError } from "./errors.ts";

/** Collects bound parameters and hands out their placeholders. */
export class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

const RESERVED = new Set(["select", "order", "limit", "offset", "on_conflict", "columns", "or", "and"]);
const OPS: Record<string, string> = { eq: "=", neq: "<>", gt: ">", gte: ">=", lt: "<", lte: "<=" };

function parseError(message: string, details: string | null = null): PgrstError {
  return new PgrstError(400, "PGRST100", message, details);
}

/** Checks a column name against the relation; PostgREST answers 42703 (400) for an unknown column. */
export function column(rel: Relation, name: string): string {
  if (!rel.columns.has(name)) {
    throw new PgrstError(400, "42703", `column ${rel.name}.${name} does not exist`);
  }
  return ident(name);
}

/** select=a,b,c or * (no embedding, no casts, no aliases in the stand-in). */
export function selectList(rel: Relation, select: string | null): string {
  if (select === null || select.trim() === "*" || select.trim() === "") return "*";
  const cols = select.split(",").map((c) => c.trim());
  for (const c of cols) {
    if (/[()!:]/.test(c)) {
      throw new PgrstError(400, "PGRST100", `"${c}" is not supported by the local PostgREST stand-in`, "Resource embedding, casts and aliases are not implemented.", "Run against real PostgREST (supabase start) for these features.");
    }
  }
  return cols.map((c) => column(rel, c)).join(", ");
}

/** Splits on commas that are not inside parentheses or double quotes. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = "";
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === "(") depth++;
    if (!quoted && ch === ")") depth--;
    if (!quoted && depth === 0 && ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\"/g, '"') : v;
}

/** One condition `<col>` + `[not.]op.value` as SQL. */
function condition(rel: Relation, col: string, expr: string, params: Params): string {
  let negate = false;
  let rest = expr;
  if (rest.startsWith("not.")) {
    negate = true;
    rest = rest.slice(4);
  }
  const dot = rest.indexOf(".");
  if (dot < 0) throw parseError(`"${expr}" is not an operator and a value`, 'Filters look like column=eq.value');
  const op = rest.slice(0, dot);
  const value = rest.slice(dot + 1);
  const c = column(rel, col);
  let sql: string;
  if (OPS[op]) sql = `${c} ${OPS[op]} ${params.add(value)}`;
  else if (op === "like" || op === "ilike") sql = `${c}::text ${op} ${params.add(value.replace(/\*/g, "%"))}`;
  else if (op === "is") {
    const v = value.toLowerCase();
    if (!["null", "true", "false", "unknown"].includes(v)) throw parseError(`is.${value} is not null, true, false or unknown`);
    sql = `${c} is ${v}`;
  } else if (op === "in") {
    const m = /^\((.*)\)$/s.exec(value);
    if (!m) throw parseError(`in.${value} must be a parenthesised list`);
    const items = m[1] === "" ? [] : splitTopLevel(m[1]!).map(unquote);
    sql = `${c} = any(${params.add(items)})`;
  } else throw parseError(`unknown operator "${op}"`);
  return negate ? `not (${sql})` : sql;
}

/** `or=(a.eq.1,and(b.gt.2,c.lt.3))` as SQL. */
function logical(rel: Relation, kind: "or" | "and", inner: string, params: Params, negate = false): string {
  const parts = splitTopLevel(inner).map((item) => {
    const m = /^(not\.)?(and|or)\((.*)\)$/s.exec(item);
    if (m) return logical(rel, m[2] as "and" | "or", m[3]!, params, Boolean(m[1]));
    const dot = item.indexOf(".");
    if (dot < 0) throw parseError(`"${item}" is not a condition`);
    return condition(rel, item.slice(0, dot), item.slice(dot + 1), params);
  });
  const sql = `(${parts.join(kind === "or" ? " or " : " and ")})`;
  return negate ? `not ${sql}` : sql;
}

/** The WHERE clause (without the keyword) for a request's filters, or "true". */
export function whereClause(rel: Relation, search: URLSearchParams, params: Params): string {
  const conds: string[] = [];
  for (const [key, value] of search) {
    if (key === "or" || key === "and") {
      const m = /^\((.*)\)$/s.exec(value);
      if (!m) throw parseError(`${key}=${value} must be parenthesised`);
      conds.push(logical(rel, key, m[1]!, params));
    } else if (key === "not.or" || key === "not.and") {
      const m = /^\((.*)\)$/s.exec(value);
      if (!m) throw parseError(`${key}=${value} must be parenthesised`);
      conds.push(logical(rel, key.slice(4) as "or" | "and", m[1]!, params, true));
    } else if (!RESERVED.has(key)) {
      conds.push(condition(rel, key, value, params));
    }
  }
  return conds.length ? conds.join(" and ") : "true";
}

/** order=a.desc.nullslast,b */
export function orderClause(rel: Relation, order: string | null): string {
  if (!order) return "";
  const parts = order.split(",").map((term) => {
    const [col, ...mods] = term.trim().split(".");
    const sql = [column(rel, col!)];
    for (const m of mods) {
      if (m === "asc" || m === "desc") sql.push(m);
      else if (m === "nullsfirst") sql.push("nulls first");
      else if (m === "nullslast") sql.push("nulls last");
      else throw parseError(`unknown order modifier "${m}"`);
    }
    return sql.join(" ");
  });
  return ` order by ${parts.join(", ")}`;
}

/** limit/offset from the query string or a Range header ("0-9"). */
export function range(search: URLSearchParams, rangeHeader: string | null): { limit: number | null; offset: number } {
  let limit: number | null = null;
  let offset = 0;
  if (rangeHeader) {
    const m = /^(\d+)-(\d*)$/.exec(rangeHeader.trim());
    if (!m) throw new PgrstError(416, "PGRST103", "Requested range not satisfiable");
    offset = Number(m[1]);
    if (m[2] !== "") limit = Number(m[2]) - offset + 1;
  }
  const l = search.get("limit");
  const o = search.get("offset");
  if (l !== null) {
    if (!/^\d+$/.test(l)) throw parseError(`limit=${l} is not a number`);
    limit = limit === null ? Number(l) : Math.min(limit, Number(l));
  }
  if (o !== null) {
    if (!/^\d+$/.test(o)) throw parseError(`offset=${o} is not a number`);
    offset = Number(o);
  }
  return { limit, offset };
}

/** The `Prefer` header's tokens. */
export interface Prefer {
  return?: "representation" | "minimal" | "headers-only";
  count?: "exact" | "planned" | "estimated";
  resolution?: "merge-duplicates" | "ignore-duplicates";
  tx?: "commit" | "rollback";
  missing?: "default" | "null";
}

export function parsePrefer(header: string | null): Prefer {
  const out: Record<string, string> = {};
  for (const token of (header ?? "").split(",")) {
    const [k, v] = token.trim().split("=");
    if (k && v) out[k] = v;
  }
  return out as Prefer;
}

// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. The query-string grammar (docs.postgrest.org →
// API → Tables and Views, Resource Embedding): select=, filters with their operators, logic trees, order=.
// Pure parsing: nothing here touches the catalog; names are checked when the plan is built.
import { PgrstError } from "./errors.ts";

/** A JSON path step: `->key` / `->>key` (a number is an array index). */
export interface JsonStep {
  arrow: "->" | "->>";
  key: string;
}

export interface FieldItem {
  kind: "field";
  name: string;
  path: JsonStep[];
  alias?: string;
  cast?: string;
  aggregate?: { fn: string; cast?: string };
}
export interface StarItem {
  kind: "star";
}
/** `count()` with no column. */
export interface CountItem {
  kind: "count";
  alias?: string;
  cast?: string;
}
export interface EmbedItem {
  kind: "embed";
  name: string;
  alias?: string;
  hint?: string;
  join?: "inner" | "left";
  spread: boolean;
  items: SelectItem[];
}
export type SelectItem = FieldItem | StarItem | CountItem | EmbedItem;

/** The aggregate functions select= accepts (`col.sum()`, `count()`). */
export const AGGREGATES = new Set(["count", "sum", "avg", "max", "min"]);

/** PostgREST's parse error (400 PGRST100). */
export function parseError(message: string, details: string | null = null): PgrstError {
  return new PgrstError(400, "PGRST100", message, details);
}

/** Splits on `sep` outside parentheses and double quotes. */
export function splitTopLevel(s: string, sep = ","): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "\\" && quoted && i + 1 < s.length) {
      cur += ch + s[++i];
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === "(") depth++;
    if (!quoted && ch === ")") depth--;
    if (!quoted && depth === 0 && ch === sep) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Removes surrounding double quotes (and their escapes). */
export function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, "$1") : v;
}

const NAME = String.raw`(?:"(?:[^"\\]|\\.)*"|[^\s,.:()!"\-][^,.:()!"]*?)`;
const CAST = String.raw`[A-Za-z_][A-Za-z0-9_ ]*(?:\[\])?`;

/** Parses `a->b->>c` into the column and its JSON path. */
export function parseFieldPath(s: string): { name: string; path: JsonStep[] } {
  const parts = s.split(/(->>?)/);
  const name = unquote(parts[0]!);
  const path: JsonStep[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    const key = unquote(parts[i + 1] ?? "");
    if (key === "") throw parseError(`"${s}" has an empty JSON path step`);
    path.push({ arrow: parts[i] as "->" | "->>", key });
  }
  if (name === "") throw parseError(`"${s}" names no column`);
  return { name, path };
}

/** The select= parameter as a tree. */
export function parseSelect(select: string): SelectItem[] {
  const items: SelectItem[] = [];
  if (select.trim() === "") return [{ kind: "star" }];
  for (const raw of splitTopLevel(select)) {
    const s = raw.trim();
    if (s === "") throw parseError(`"${select}" has an empty item`, "Unexpected ',' in select");
    items.push(parseItem(s));
  }
  return items;
}

function parseItem(s: string): SelectItem {
  if (s === "*") return { kind: "star" };
  // Embedding: [...][alias:]name[!hint][!inner|!left](items)
  const open = indexOutsideQuotes(s, "(");
  const head0 = s.slice(0, open).replace(new RegExp(`^${NAME}:(?!:)`), "");
  const isAggregateCall = open > 0 && s.slice(open) === "()" && (head0 === "count" || /\.\w+$/.test(head0));
  if (open > 0 && s.endsWith(")") && !isAggregateCall) {
    let head = s.slice(0, open);
    const inner = s.slice(open + 1, -1);
    const spread = head.startsWith("...");
    if (spread) head = head.slice(3);
    const m = new RegExp(`^(?:(${NAME}):)?(${NAME})((?:!${NAME})*)$`).exec(head);
    if (!m) throw parseError(`"${s}" is not a valid embedding`);
    const item: EmbedItem = { kind: "embed", name: unquote(m[2]!), spread, items: inner.trim() === "" ? [] : parseSelect(inner) };
    if (m[1] !== undefined) {
      if (spread) throw parseError(`"${s}": a spread embedding cannot have an alias`);
      item.alias = unquote(m[1]);
    }
    for (const h of (m[3] ?? "").split("!").filter(Boolean).map(unquote)) {
      if (h === "inner" || h === "left") item.join = h;
      else if (item.hint === undefined) item.hint = h;
      else throw parseError(`"${s}" has more than one hint`);
    }
    return item;
  }
  // [alias:]field[->path][::cast][.agg()][::cast] or [alias:]count()[::cast]
  const m = new RegExp(`^(?:(${NAME}):(?!:))?(.+?)(?:\\.(\\w+)\\(\\))?(?:::(${CAST}))?$`).exec(s);
  if (!m) throw parseError(`"${s}" is not a valid select item`);
  const alias = m[1] !== undefined ? unquote(m[1]) : undefined;
  let body = m[2]!;
  const aggFn = m[3];
  const outerCast = m[4];
  if (/^count\(\)$/.test(body) && aggFn === undefined) {
    const item: CountItem = { kind: "count" };
    if (alias !== undefined) item.alias = alias;
    if (outerCast !== undefined) item.cast = outerCast;
    return item;
  }
  let innerCast: string | undefined;
  const castAt = body.indexOf("::");
  if (castAt >= 0) {
    innerCast = body.slice(castAt + 2);
    body = body.slice(0, castAt);
    if (!new RegExp(`^${CAST}$`).test(innerCast)) throw parseError(`"${s}" has an invalid cast`);
  }
  if (/[()]/.test(body)) throw parseError(`"${s}" is not a valid select item`);
  const { name, path } = parseFieldPath(body);
  const item: FieldItem = { kind: "field", name, path };
  if (alias !== undefined) item.alias = alias;
  if (aggFn !== undefined) {
    if (!AGGREGATES.has(aggFn))
      throw parseError(`"${aggFn}()" is not an aggregate function`, "Supported aggregates: avg, count, max, min, sum");
    item.aggregate = { fn: aggFn };
    if (innerCast !== undefined) item.cast = innerCast;
    if (outerCast !== undefined) item.aggregate.cast = outerCast;
  } else {
    const cast = innerCast ?? outerCast;
    if (cast !== undefined) item.cast = cast;
  }
  return item;
}

function indexOutsideQuotes(s: string, ch: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '"') quoted = !quoted;
    else if (!quoted && s[i] === ch) return i;
  }
  return -1;
}

// ---- filters ----

export type Operator =
  | "eq"
  | "neq"
  | "gt"
  | "gte"
  | "lt"
  | "lte"
  | "like"
  | "ilike"
  | "match"
  | "imatch"
  | "in"
  | "is"
  | "isdistinct"
  | "fts"
  | "plfts"
  | "phfts"
  | "wfts"
  | "cs"
  | "cd"
  | "ov"
  | "sl"
  | "sr"
  | "nxr"
  | "nxl"
  | "adj";

const OPERATORS = new Set<string>([
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "like",
  "ilike",
  "match",
  "imatch",
  "in",
  "is",
  "isdistinct",
  "fts",
  "plfts",
  "phfts",
  "wfts",
  "cs",
  "cd",
  "ov",
  "sl",
  "sr",
  "nxr",
  "nxl",
  "adj",
]);
const QUANTIFIABLE = new Set(["eq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"]);

export interface Condition {
  kind: "cond";
  field: { name: string; path: JsonStep[] };
  negate: boolean;
  op: Operator;
  quant?: "any" | "all";
  /** The text-search configuration of fts operators. */
  lang?: string;
  value: string;
}
export interface Logic {
  kind: "logic";
  op: "and" | "or";
  negate: boolean;
  children: Array<Condition | Logic>;
}
export type FilterNode = Condition | Logic;

/** Whether a query-string value is `[not.]op[(modifier)].value` with a known operator. */
export function isFilterValue(v: string): boolean {
  const m = /^(?:not\.)?([a-z]+)(?:\([^)]*\))?\./.exec(v);
  return m !== null && OPERATORS.has(m[1]!);
}

/** `[not.]op[(quant)].value` applied to `field`. */
export function parseCondition(field: string, expr: string): Condition {
  let rest = expr;
  let negate = false;
  if (rest.startsWith("not.")) {
    negate = true;
    rest = rest.slice(4);
  }
  const m = /^([a-z]+)(?:\(([^)]*)\))?\.([\s\S]*)$/.exec(rest);
  if (!m) throw parseError(`"${expr}" is not an operator and a value`, "Filters look like column=eq.value");
  const op = m[1]!;
  if (!OPERATORS.has(op)) throw parseError(`"${op}" is not an operator`, `Unknown operator in "${field}=${expr}"`);
  const cond: Condition = { kind: "cond", field: parseFieldPath(field), negate, op: op as Operator, value: m[3]! };
  if (m[2] !== undefined) {
    if (["fts", "plfts", "phfts", "wfts"].includes(op)) cond.lang = m[2];
    else if ((m[2] === "any" || m[2] === "all") && QUANTIFIABLE.has(op)) cond.quant = m[2];
    else throw parseError(`"${op}(${m[2]})" is not a valid operator modifier`);
  }
  return cond;
}

/** The inside of `or=(...)` / `and=(...)`. */
export function parseLogic(op: "and" | "or", negate: boolean, value: string): Logic {
  const m = /^\(([\s\S]*)\)$/.exec(value);
  if (!m) throw parseError(`"${value}" must be parenthesised`, `Logic trees look like ${op}=(a.eq.1,b.eq.2)`);
  const children = splitTopLevel(m[1]!).map((item): FilterNode => {
    const l = /^(not\.)?(and|or)(\([\s\S]*\))$/.exec(item);
    if (l) return parseLogic(l[2] as "and" | "or", Boolean(l[1]), l[3]!);
    // column.op.value — the column may carry a JSON path or be quoted
    const q = /^("(?:[^"\\]|\\.)*"(?:->>?[^.]+)*|[^.]+)\.([\s\S]*)$/.exec(item);
    if (!q) throw parseError(`"${item}" is not a condition`);
    return parseCondition(q[1]!, q[2]!);
  });
  return { kind: "logic", op, negate, children };
}

// ---- order ----

export interface OrderTerm {
  /** Ordering by a to-one embedded resource's column: `rel(col)`. */
  relation?: string;
  field: { name: string; path: JsonStep[] };
  dir?: "asc" | "desc";
  nulls?: "first" | "last";
}

/** order=a.desc.nullslast,b,rel(c).asc */
export function parseOrder(order: string): OrderTerm[] {
  return splitTopLevel(order).map((term) => {
    const t = term.trim();
    const m = /^(?:(\w+)\(([^)]+)\)|("(?:[^"\\]|\\.)*"(?:->>?[^.]+)*|[^.]+))((?:\.[a-z]+)*)$/.exec(t);
    if (!m) throw parseError(`"${t}" is not an order term`);
    const out: OrderTerm = { field: parseFieldPath(m[2] ?? m[3]!) };
    if (m[1] !== undefined) out.relation = m[1];
    for (const mod of (m[4] ?? "").split(".").filter(Boolean)) {
      if (mod === "asc" || mod === "desc") out.dir = mod;
      else if (mod === "nullsfirst") out.nulls = "first";
      else if (mod === "nullslast") out.nulls = "last";
      else throw parseError(`unknown order modifier "${mod}"`);
    }
    return out;
  });
}

// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. The query-string grammar (docs.postgrest.org →
// API → Tables and Views, Resource Embedding): select=, filters with their operators, logic trees, columns=,
// order=; filters, logic trees and columns= as PostgREST's own Parsec parsers read them (ApiRequest/QueryParams).
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

export interface Condition {
  kind: "cond";
  field: { name: string; path: JsonStep[] };
  negate: boolean;
  op: Operator;
  quant?: "any" | "all";
  /** The text-search configuration of fts operators. */
  lang?: string;
  value: string;
  /** The elements of `in.(...)`, split as PostgREST's pListVal splits them. */
  list?: string[];
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

// ---- PostgREST's Parsec grammar (its ApiRequest/QueryParams module), for filters, logic trees and columns= ----

/** A parse failure: where, and what was expected there (Parsec's ParseError). */
class ParseFailure {
  readonly pos: number;
  readonly expected: Set<string>;
  constructor(pos: number, expected: Set<string>) {
    this.pos = pos;
    this.expected = expected;
  }
  /** Parsec's mergeError: the later position wins; at the same position, both expectations. */
  merge(other: ParseFailure): ParseFailure {
    if (other.pos !== this.pos) return other.pos > this.pos ? other : this;
    return new ParseFailure(this.pos, new Set([...this.expected, ...other.expected]));
  }
}

/**
 * A cursor with the few Parsec combinators PostgREST's parsers use, and Parsec's error reporting: the failures
 * of alternatives that consumed nothing (after `try`) are merged into the next failure at the same point.
 */
class Cursor {
  i = 0;
  readonly s: string;
  /** Failed alternatives, by the position they backtracked to. */
  private pending: Array<{ at: number; failure: ParseFailure }> = [];

  constructor(s: string) {
    this.s = s;
  }

  peek(): string | undefined {
    return this.s[this.i];
  }
  /** Consumes `str` when it is next. */
  eat(str: string): boolean {
    if (!this.s.startsWith(str, this.i)) return false;
    this.i += str.length;
    return true;
  }
  /** Fails unless `str` is next (Parsec's `string`/`char`). */
  need(str: string, expected = `"${str}"`): void {
    if (!this.eat(str)) this.fail(expected);
  }
  /** `try (string word *> pDelimiter)` (a `.` after the word when `dot`): consumed when next, else nothing is. */
  tryNeed(word: string, expected: string, dot = false): boolean {
    return this.attempt(() => (this.need(word, expected), dot && this.need(".", "delimiter (.)"), true)) === true;
  }
  /** Spaces and tabs (PostgREST's `ws`). */
  ws(): void {
    while (this.s[this.i] === " " || this.s[this.i] === "\t") this.i++;
  }
  /** The failure at `pos`, merged with the alternatives that failed here without consuming. */
  private failure(expected: Set<string>, pos: number, since = 0, until = this.pending.length): ParseFailure {
    const here = this.pending.slice(since, until).filter((p) => p.at === this.i);
    return [...here.map((p) => p.failure), new ParseFailure(pos, expected)].reduce((a, b) => a.merge(b));
  }
  fail(expected: string, pos = this.i): never {
    throw this.failure(new Set([expected]), pos);
  }
  /** Where the alternatives of a labelled parser start (for `failLabelled`). */
  mark(): number {
    return this.pending.length;
  }
  /**
   * Parsec's `p <?> label` for a `p` whose alternatives (tried since `mark`) all failed without consuming: their
   * merged failure expects `label`, then merges with what failed here before them.
   */
  failLabelled(mark: number, label: string): never {
    const own = this.failure(new Set([label]), this.i, mark);
    throw this.failure(new Set([label]), own.pos, 0, mark);
  }
  /** Parsec's `try p`: on failure, back to where it started and undefined. */
  attempt<T>(p: () => T): T | undefined {
    const at = this.i;
    try {
      return p();
    } catch (e) {
      if (!(e instanceof ParseFailure)) throw e;
      this.i = at;
      this.pending = this.pending.filter((x) => x.at <= at);
      this.pending.push({ at, failure: e });
      return undefined;
    }
  }
  /** Runs a whole-input parser; a failure, or text left after it, is PostgREST's 400 PGRST100 message. */
  static parse<T>(s: string, what: string, p: (c: Cursor) => T): T {
    const c = new Cursor(s);
    try {
      const out = p(c);
      // PostgREST stops where its parser stops and ignores the rest; the stand-in refuses the rest.
      if (c.i < s.length) c.fail("end of input");
      return out;
    } catch (e) {
      if (!(e instanceof ParseFailure)) throw e;
      const found = e.pos < s.length ? `"${s[e.pos]}"` : "end of input";
      const expected = [...e.expected];
      const list = expected.length > 1 ? `${expected.slice(0, -1).join(", ")} or ${expected[expected.length - 1]}` : (expected[0] ?? "");
      throw parseError(`"failed to parse ${what}" (line 1, column ${e.pos + 1})`, `unexpected ${found} expecting ${list}`);
    }
  }
}

/** `"..."` with backslash escapes (pQuotedValue). */
function pQuotedValue(c: Cursor): string {
  c.need('"');
  let out = "";
  for (;;) {
    const ch = c.peek();
    if (ch === undefined) c.fail('"\\"" or any character');
    c.i++;
    if (ch === '"') return out;
    if (ch === "\\") {
      const next = c.peek();
      if (next === undefined) c.fail("any character");
      c.i++;
      out += next;
    } else out += ch;
  }
}

/** many1 of letters, digits, `_`, space and `$`, stripped (pIdentifier). */
function pIdentifier(c: Cursor, expected = "field name (* or [a..z0..9_$])"): string {
  const m = /^[\p{L}0-9_ $]+/u.exec(c.s.slice(c.i));
  if (!m) c.fail(expected);
  c.i += m[0].length;
  return m[0].trim();
}

/** `p` separated by dashes that do not start an arrow (sepByDash). */
function sepByDash(c: Cursor, p: () => string): string {
  const parts = [p()];
  while (c.s[c.i] === "-" && c.s[c.i + 1] !== ">") {
    c.i++;
    parts.push(p());
  }
  return parts.join("-");
}

/** A column name: quoted, or identifiers joined by dashes (pFieldName). */
function pFieldName(c: Cursor): string {
  return c.peek() === '"' ? pQuotedValue(c) : sepByDash(c, () => pIdentifier(c));
}

/** `->key`, `->>key`, `->0`, `->>-1`, ... (pJsonPath). */
function pJsonPath(c: Cursor): JsonStep[] {
  const path: JsonStep[] = [];
  for (;;) {
    const arrow = c.eat("->>") ? "->>" : c.eat("->") ? "->" : null;
    if (arrow === null) return path;
    const index = c.attempt(() => {
      const m = /^-?[0-9]+/.exec(c.s.slice(c.i));
      if (!m) c.fail("digit");
      c.i += m[0].length;
      const rest = c.s.slice(c.i);
      if (!(rest === "" || /^(->|::|\.|,)/.test(rest))) c.fail('"->", "::", ".", "," or end of input');
      return m[0];
    });
    const key =
      index ??
      (c.peek() === '"'
        ? pQuotedValue(c)
        : sepByDash(c, () => {
            const m = /^[^(\-:.,>)]+/.exec(c.s.slice(c.i));
            if (!m) c.fail("any non reserved character different from: .,>()");
            c.i += m[0].length;
            return m[0].trim();
          }));
    path.push({ arrow, key });
  }
}

/** A column with its JSON path, spaces around (pField). */
function pField(c: Cursor): { name: string; path: JsonStep[] } {
  c.ws();
  const name = pFieldName(c);
  const path = pJsonPath(c);
  c.ws();
  return { name, path };
}

/** `(a,"b,c", d)`: an element is quoted when the quotes end it, else everything up to `,` or `)` (pListVal). */
function pListVal(c: Cursor): string[] {
  c.ws();
  c.need("(");
  c.ws();
  const items: string[] = [];
  do {
    const quoted = c.attempt(() => {
      const v = pQuotedValue(c);
      if (c.peek() !== undefined && !",)".includes(c.peek()!)) c.fail('"," or ")"');
      return v;
    });
    items.push(quoted ?? takeUntil(c, ",)"));
  } while (c.eat(","));
  c.ws();
  c.need(")");
  c.ws();
  return items;
}

/** Everything up to one of `stops` (many (noneOf stops)). */
function takeUntil(c: Cursor, stops: string): string {
  const start = c.i;
  while (c.i < c.s.length && !stops.includes(c.s[c.i]!)) c.i++;
  return c.s.slice(start, c.i);
}

/** A value inside a logic tree: quoted, a `{...}` array literal, or up to `,` or `)` (pLogicSingleVal). */
function pLogicSingleVal(c: Cursor): string {
  const quoted = c.attempt(() => {
    const v = pQuotedValue(c);
    if (c.peek() !== undefined && !",)".includes(c.peek()!)) c.fail('"," or ")"');
    return v;
  });
  if (quoted !== undefined) return quoted;
  const array = c.attempt(() => {
    c.need("{");
    const inner = takeUntil(c, "{}");
    c.need("}");
    return `{${inner}}`;
  });
  return array ?? takeUntil(c, ",)");
}

const SIMPLE_OPS = ["neq", "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj"] as const;
const QUANT_OPS = ["eq", "gte", "gt", "lte", "lt", "like", "ilike", "match", "imatch"] as const;
const FTS_OPS = ["fts", "plfts", "phfts", "wfts"] as const;
const IS_VALUES = ["null", "not_null", "true", "false", "unknown"] as const;
const OPERATION = "operator (eq, gt, ...)";

/** One of `names`, then `(modifier)` when `modifier` reads one, a `.` and the value (pFts, pSimpleOp, pQuantOp, tried). */
function pOperator<N extends string, M extends string>(
  c: Cursor,
  names: readonly N[],
  modifier: (() => M) | null,
  value: (c: Cursor) => string,
): { name: N; modifier?: M; value: string } | undefined {
  return c.attempt(() => {
    const name = names.find((o) => c.s.startsWith(o, c.i));
    if (name === undefined) c.fail(OPERATION);
    c.i += name.length;
    const m = modifier
      ? c.attempt(() => {
          c.need("(");
          const read = modifier();
          c.need(")");
          return read;
        })
      : undefined;
    c.need(".", "delimiter (.)");
    return { name, value: value(c), ...(m ? { modifier: m } : {}) };
  });
}

/** `[not.]op[(modifier)].value` (pOpExpr), the value read by `value`. */
function pOpExpr(c: Cursor, value: (c: Cursor) => string): Omit<Condition, "kind" | "field"> {
  const negate = c.tryNeed("not", '"not"', true);
  const start = c.mark();
  const op = (name: string) => c.tryNeed(name, OPERATION, true);
  if (op("in")) {
    const list = pListVal(c);
    return { negate, op: "in", value: "", list };
  }
  if (op("is")) {
    const v = IS_VALUES.find((k) => c.s.slice(c.i, c.i + k.length).toLowerCase() === k);
    if (v === undefined) c.fail("isVal: (null, not_null, true, false, unknown)");
    c.i += v.length;
    return { negate, op: "is", value: v };
  }
  if (op("isdistinct")) return { negate, op: "isdistinct", value: value(c) };
  const fts = pOperator(c, FTS_OPS, () => pIdentifier(c, "identifier"), value);
  if (fts) return { negate, op: fts.name, value: fts.value, ...(fts.modifier !== undefined ? { lang: fts.modifier } : {}) };
  const simple = pOperator(c, SIMPLE_OPS, null, value);
  if (simple) return { negate, op: simple.name, value: simple.value };
  const quantifier = () => (c.eat("any") ? "any" : c.eat("all") ? "all" : c.fail('"any" or "all"'));
  const quant = pOperator(c, QUANT_OPS, quantifier, value);
  if (quant) return { negate, op: quant.name, value: quant.value, ...(quant.modifier !== undefined ? { quant: quant.modifier } : {}) };
  return c.failLabelled(start, OPERATION);
}

/** `[not.]op[(modifier)].value` applied to `field`: the value is the rest of the parameter, as PostgREST's pSingleVal. */
export function parseCondition(field: string, expr: string): Condition {
  const op = Cursor.parse(expr, `filter (${expr})`, (c) => pOpExpr(c, (r) => takeUntil(r, "")));
  return { kind: "cond", field: parseFieldPath(field), ...op };
}

/** `p` one or more times, separated by commas with spaces around them (`p `sepBy1` lexeme (char ','))`). */
function sepByComma<T>(c: Cursor, p: () => T): T[] {
  const out = [p()];
  for (;;) {
    const at = c.i;
    c.ws();
    if (!c.eat(",")) {
      // Spaces consumed without a comma after them: Parsec's sepBy1 fails there.
      if (c.i !== at) c.fail('","');
      return out;
    }
    c.ws();
    out.push(p());
  }
}

/** A logic tree node (pLogicTree): a condition first, else `[not.]and(...)` / `[not.]or(...)` with nodes inside. */
function pLogicTree(c: Cursor): FilterNode {
  const cond = c.attempt((): Condition => {
    const field = pField(c);
    c.need(".", "delimiter (.)");
    return { kind: "cond", field, ...pOpExpr(c, pLogicSingleVal) };
  });
  if (cond) return cond;
  const negate = c.tryNeed("not", "negation operator (not)", true);
  const op = c.tryNeed("and", "logic operator (and, or)") ? "and" : (c.need("or", "logic operator (and, or)"), "or");
  c.ws();
  c.need("(");
  c.ws();
  const children = sepByComma(c, () => pLogicTree(c));
  c.ws();
  c.need(")");
  c.ws();
  return { kind: "logic", op, negate, children };
}

/**
 * `or=(...)`, `and=(...)`, `not.or=(...)` as PostgREST parses them: the key's operator and the value as one tree
 * (`or(...)`). Inside, commas separate nodes except within double quotes (backslash escapes), `{...}` and the
 * parentheses of `in.(...)`; errors are 400 PGRST100 at the column PostgREST reports.
 */
export function parseLogic(op: "and" | "or", negate: boolean, value: string): FilterNode {
  return Cursor.parse(`${negate ? "not." : ""}${op}${value}`, `logic tree (${value})`, pLogicTree);
}

/** columns=: names separated by commas with optional spaces, quoted or not (pColumns); duplicates once. */
export function parseColumns(value: string): string[] {
  return Cursor.parse(value, `columns parameter (${value})`, (c) => [...new Set(sepByComma(c, () => pFieldName(c)))]);
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

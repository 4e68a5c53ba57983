// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. The query plan: the parsed request resolved
// against the schema cache — columns, computed fields, relationships for embedding (PostgREST's findRel
// rules and its PGRST200/PGRST201 errors), filters and orders per embedding level, function choice for rpc.
import type { Catalog, FkRelationship, Relation, Relationship, Routine } from "./catalog.ts";
import { PgrstError } from "./errors.ts";
import { closest } from "./fuzzy.ts";
import type { EmbedPlan, FieldExpr, ReadPlan, Returning, SelectField, Source } from "./plan-types.ts";
import {
  type Condition,
  type EmbedItem,
  type FilterNode,
  type JsonStep,
  parseCondition,
  parseError,
  parseLogic,
  parseOrder,
  type SelectItem,
} from "./grammar.ts";

/** Query parameters grouped by embedding path ("" = the top level). */
export interface Scoped {
  filters: Map<string, Array<[string, string]>>;
  logic: Map<string, Array<[string, string]>>;
  order: Map<string, string>;
  limit: Map<string, string>;
  offset: Map<string, string>;
}

const RESERVED = new Set(["select", "columns", "on_conflict"]);

/** Groups the query string by embedding level; `exclude` lists keys that are not filters (rpc arguments). */
export function scopeQuery(search: URLSearchParams, exclude: Set<string> = new Set()): Scoped {
  const s: Scoped = { filters: new Map(), logic: new Map(), order: new Map(), limit: new Map(), offset: new Map() };
  const push = (m: Map<string, Array<[string, string]>>, k: string, v: [string, string]) => m.set(k, [...(m.get(k) ?? []), v]);
  for (const [k, v] of search) {
    if (RESERVED.has(k) || exclude.has(k)) continue;
    // Quoted names and JSON paths may hold dots: only split the part before any quote or arrow.
    const plain = /^[^"\-]*/.exec(k)![0];
    const dots = plain.split(".");
    const last = dots.length > 1 && !plain.endsWith(".") ? dots.length - 1 : 0;
    const prefix = dots.slice(0, last).join(".");
    const name = dots.slice(last).join(".") + k.slice(plain.length);
    const negated = prefix === "not" || prefix.endsWith(".not");
    if (negated && (name === "or" || name === "and")) push(s.logic, prefix.slice(0, Math.max(0, prefix.length - 4)), [`not.${name}`, v]);
    else if (name === "order") s.order.set(prefix, v);
    else if (name === "limit") s.limit.set(prefix, v);
    else if (name === "offset") s.offset.set(prefix, v);
    else if (name === "or" || name === "and") push(s.logic, prefix, [name, v]);
    else push(s.filters, prefix, [name, v]);
  }
  return s;
}

export function nonNegative(v: string | undefined, what: string): number | null {
  if (v === undefined) return null;
  if (!/^\d+$/.test(v)) throw parseError(`${what}=${v} is not a non-negative integer`);
  return Number(v);
}

/** Checks a column name; PostgREST lets Postgres answer 42703 "column <alias>.<name> does not exist". */
export function checkColumn(rel: Relation, alias: string, name: string): void {
  if (!rel.columns.has(name)) throw new PgrstError(400, "42703", `column ${alias}.${name} does not exist`);
}

export interface ReadContext {
  cat: Catalog;
  schema: string;
  scoped: Scoped;
}

/** Resolves a select tree over `rel` (read from `source`) into a read plan, with its embeddings. */
export function readPlan(
  ctx: ReadContext,
  rel: Relation,
  source: Source,
  alias: string,
  items: SelectItem[],
  path = "",
  depth = 0,
): ReadPlan {
  const plan: ReadPlan = {
    rel,
    source,
    alias,
    fields: [],
    star: false,
    embeds: [],
    filters: [],
    embedNullFilters: [],
    order: [],
    limit: null,
    offset: 0,
    depth,
    computed: new Map(),
  };
  const usedAgg = new Set<string>();
  for (const item of items) {
    if (item.kind === "star") plan.star = true;
    else if (item.kind === "count") {
      const f: SelectField = { expr: { kind: "count", name: "count", path: [] }, out: item.alias ?? "count", aggregate: { fn: "count" } };
      if (item.cast !== undefined) f.aggregate!.cast = item.cast;
      plan.fields.push(f);
    } else if (item.kind === "field") {
      if (item.name === "count" && item.path.length === 0 && !item.aggregate && !rel.columns.has("count")) {
        plan.fields.push({ expr: { kind: "count", name: "count", path: [] }, out: item.alias ?? "count", aggregate: { fn: "count" } });
        continue;
      }
      const expr = fieldExpr(ctx.cat, rel, alias, item.name, item.path);
      if (item.cast !== undefined) expr.cast = item.cast;
      const last = item.path[item.path.length - 1];
      const f: SelectField = { expr, out: item.alias ?? (item.aggregate ? item.aggregate.fn : last ? last.key : item.name) };
      if (item.aggregate) f.aggregate = item.aggregate;
      plan.fields.push(f);
    } else {
      const e = embedPlan(ctx, plan, item, path, depth);
      if (usedAgg.has(e.aggAlias)) throw new PgrstError(400, "42712", `table name "${e.aggAlias}" specified more than once`);
      usedAgg.add(e.aggAlias);
      plan.embeds.push(e);
    }
  }
  if (items.length === 0 && depth === 0) plan.star = true;
  if (!ctx.cat.settings.aggregates && plan.fields.some((f) => f.aggregate)) {
    throw new PgrstError(
      400,
      "PGRST123",
      "Use of aggregate functions is not allowed",
      null,
      "PostgREST allows them with db-aggregates-enabled (here: alter role authenticator set pgrst.db_aggregates_enabled = 'true').",
    );
  }

  for (const [k, v] of ctx.scoped.filters.get(path) ?? []) {
    const embed = plan.embeds.find((e) => e.out === k || (e.spread && e.plan.rel.name === k));
    if (embed && (v === "is.null" || v === "not.is.null")) {
      plan.embedNullFilters.push({ aggAlias: embed.aggAlias, isNull: v === "is.null" });
      continue;
    }
    const cond = parseCondition(k, v);
    checkField(ctx.cat, plan, cond.field.name);
    plan.filters.push(cond);
  }
  for (const [k, v] of ctx.scoped.logic.get(path) ?? []) {
    const negate = k.startsWith("not.");
    const tree = parseLogic(negate ? (k.slice(4) as "and" | "or") : (k as "and" | "or"), negate, v);
    walk(tree, (c) => checkField(ctx.cat, plan, c.field.name));
    plan.filters.push(tree);
  }
  const order = ctx.scoped.order.get(path);
  if (order !== undefined) {
    for (const term of parseOrder(order)) {
      if (term.relation !== undefined) {
        const e = plan.embeds.find((x) => x.out === term.relation);
        if (!e || !e.toOne) {
          throw new PgrstError(
            400,
            "PGRST118",
            `A related order on '${term.relation}' is not possible`,
            "Only a to-one embedded resource in the select can be ordered by",
          );
        }
        checkColumn(e.plan.rel, e.plan.alias, term.field.name);
        plan.order.push({ ...term, aggAlias: e.aggAlias });
      } else {
        checkField(ctx.cat, plan, term.field.name);
        plan.order.push(term);
      }
    }
  }
  plan.limit = nonNegative(ctx.scoped.limit.get(path), path ? `${path}.limit` : "limit");
  plan.offset = nonNegative(ctx.scoped.offset.get(path), path ? `${path}.offset` : "offset") ?? 0;
  if (depth === 0) checkScopes(plan, ctx.scoped);
  return plan;
}

/** Filters, orders and limits on an embedding path the select does not have: PGRST108, never ignored. */
function checkScopes(root: ReadPlan, scoped: Scoped): void {
  const paths = new Set([""]);
  const visit = (p: ReadPlan, prefix: string) => {
    for (const e of p.embeds) {
      const path = prefix ? `${prefix}.${e.out}` : e.out;
      paths.add(path);
      visit(e.plan, path);
    }
  };
  visit(root, "");
  for (const m of [scoped.filters, scoped.logic, scoped.order, scoped.limit, scoped.offset] as Array<Map<string, unknown>>) {
    for (const path of m.keys()) {
      if (!paths.has(path)) {
        throw new PgrstError(
          400,
          "PGRST108",
          `'${path}' is not an embedded resource in this request`,
          null,
          `Verify that '${path}' is included in the 'select' query parameter.`,
        );
      }
    }
  }
}

function walk(n: FilterNode, f: (c: Condition) => void): void {
  if (n.kind === "cond") f(n);
  else n.children.forEach((c) => walk(c, f));
}

function checkField(cat: Catalog, plan: ReadPlan, name: string): void {
  if (plan.rel.columns.has(name)) return;
  const fn = cat.computedField(plan.rel, name);
  if (fn) plan.computed.set(name, fn);
  else checkColumn(plan.rel, plan.alias, name);
}

function fieldExpr(cat: Catalog, rel: Relation, alias: string, name: string, path: JsonStep[]): FieldExpr {
  if (rel.columns.has(name)) return { kind: "column", name, path };
  const fn = cat.computedField(rel, name);
  if (fn) return { kind: "computed", name, path, fn };
  checkColumn(rel, alias, name);
  throw new Error("unreachable");
}

function embedPlan(ctx: ReadContext, parent: ReadPlan, item: EmbedItem, path: string, depth: number): EmbedPlan {
  const rel = findRelationship(ctx.cat, ctx.schema, parent.rel, item.name, item.hint);
  const out = item.alias ?? item.name;
  const childPath = path ? `${path}.${out}` : out;
  const childDepth = depth + 1;
  const childAlias = `${rel.to.name}_${childDepth}`;
  const aggAlias = `${parent.rel.name}_${out}_${childDepth}`;
  const source: Source =
    rel.kind === "computed"
      ? { kind: "call", fn: rel.fn, parentAlias: parent.alias, parentIsCte: parent.source.kind === "cte", parentRel: parent.rel }
      : { kind: "table", rel: rel.to };
  const plan = readPlan(ctx, rel.to, source, childAlias, item.items.length === 0 && !item.spread ? [] : item.items, childPath, childDepth);
  if (rel.kind === "fk") plan.parent = { alias: parent.alias, rel };
  const toOne = rel.kind === "computed" ? rel.toOne : rel.cardinality === "many-to-one" || rel.cardinality === "one-to-one";
  return { plan, rel, out, aggAlias, toOne, inner: item.join === "inner", spread: item.spread };
}

function describe(r: FkRelationship): { cardinality: string; embedding: string; relationship: string } {
  const cols = (side: 0 | 1) => r.columns.map((p) => p[side]).join(", ");
  if (r.junction) {
    const j = r.junction;
    return {
      cardinality: r.cardinality,
      embedding: `${r.from.name} with ${r.to.name}`,
      relationship: `${j.table.name} using ${j.constraint1}(${j.fromCols.map((p) => p[1]).join(", ")}) and ${j.constraint2}(${j.toCols.map((p) => p[0]).join(", ")})`,
    };
  }
  return {
    cardinality: r.cardinality,
    embedding: `${r.from.name} with ${r.to.name}`,
    relationship: `${r.constraint} using ${r.from.name}(${cols(0)}) and ${r.to.name}(${cols(1)})`,
  };
}

/** PostgREST's findRel: the one relationship from `from` that `target` (and `hint`) designate. */
export function findRelationship(cat: Catalog, schema: string, from: Relation, target: string, hint: string | undefined): Relationship {
  const single = (r: FkRelationship, side: 0 | 1) => (r.columns.length === 1 ? r.columns[0]![side] : undefined);
  const isFk = (r: Relationship): r is FkRelationship => r.kind === "fk";
  const matches = cat.relationships(from).filter((r) => {
    if (r.kind === "computed") return target === r.fn.name;
    if (!isFk(r)) return false;
    const viaConstraint = r.cardinality !== "many-to-many" && r.constraint === target;
    if (r.isSelf) {
      if (hint === undefined) {
        return (target === r.to.name && r.cardinality === "one-to-many") || (single(r, 0) === target && r.cardinality === "many-to-one");
      }
      return target === r.to.name && r.cardinality === "one-to-many" && single(r, 1) === hint;
    }
    if (hint === undefined) {
      return (
        target === r.to.name ||
        (viaConstraint && !r.to.isView) ||
        (r.cardinality !== "many-to-many" && single(r, 0) === target && !r.to.isView)
      );
    }
    return (
      target === r.to.name &&
      ((r.cardinality !== "many-to-many" && (r.constraint === hint || single(r, 0) === hint || single(r, 1) === hint)) ||
        (r.junction !== undefined && r.junction.table.name === hint))
    );
  });
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new PgrstError(
      400,
      "PGRST200",
      `Could not find a relationship between '${from.name}' and '${target}' in the schema cache`,
      `Searched for a foreign key relationship between '${from.name}' and '${target}'${hint !== undefined ? ` using the hint '${hint}'` : ""} in the schema '${schema}', but no matches were found.`,
    );
  }
  const fks = matches.filter(isFk);
  throw new PgrstError(
    300,
    "PGRST201",
    `Could not embed because more than one relationship was found for '${from.name}' and '${target}'`,
    fks.map(describe),
    `Try changing '${target}' to one of the following: ${fks.map((r) => `'${target}!${r.junction ? r.junction.table.name : r.constraint}'`).join(", ")}. Find the desired relationship in the 'details' key.`,
  );
}

// ---- functions ----

/** PostgREST's noRpcHint: a close function name, or (when the name exists) the closest parameter list. */
function noRoutineHint(cat: Catalog, schema: string, name: string, keys: string[], overloads: Routine[]): string | null {
  const list = (names: string[]) => `(${[...names].sort().join(", ")})`;
  const found =
    overloads.length === 0
      ? closest(cat.routineNames(schema), name, 0.75)
      : ((p) => (p === null ? null : name + p))(
          closest(
            overloads.map((r) => list(r.params.map((x) => x.name))),
            list(keys),
            0.33,
          ),
        );
  return found === null ? null : `Perhaps you meant to call the function ${schema}.${found}`;
}

/** PostgREST's findProc: the function `name` that the argument keys designate (PGRST202 / PGRST203). */
export function findRoutine(cat: Catalog, schema: string, name: string, keys: string[], isPost: boolean, jsonBody: boolean): Routine {
  const all = cat.routines(schema, name);
  const keySet = new Set(keys);
  const sameSet = (a: Set<string>, b: string[]) => a.size === new Set(b).size && b.every((x) => a.has(x));
  const candidates = all.filter((r) => r.callable);
  const named = candidates.filter((r) => {
    if (r.params.length === 0) return keySet.size === 0;
    const req = r.params.filter((p) => p.required).map((p) => p.name);
    const opt = r.params.filter((p) => !p.required).map((p) => p.name);
    if (opt.length === 0) return sameSet(keySet, req);
    if (req.length === 0) return [...keySet].every((k) => opt.includes(k));
    return sameSet(new Set([...keySet].filter((k) => !opt.includes(k))), req);
  });
  const fallback = candidates.filter(
    (r) =>
      !named.includes(r) &&
      isPost &&
      jsonBody &&
      r.params.length === 1 &&
      r.params[0]!.name === "" &&
      ["json", "jsonb"].includes(r.params[0]!.type),
  );
  const pick = named.length > 0 ? named : fallback;
  if (pick.length === 1) return pick[0]!;
  if (pick.length > 1) {
    const sig = (r: Routine) => `${r.schema}.${r.name}(${r.params.map((p) => `${p.name} => ${p.type}`).join(", ")})`;
    throw new PgrstError(
      300,
      "PGRST203",
      `Could not choose the best candidate function between: ${[...pick]
        .sort((a, b) => a.params.length - b.params.length || sig(a).localeCompare(sig(b)))
        .map(sig)
        .join(", ")}`,
      null,
      "Try renaming the parameters or the function itself in the database so function overloading can be resolved",
    );
  }
  const prms = keys.join(", ");
  const detailPrms = keys.length === 0 ? " without parameters" : ` with parameter${keys.length > 1 ? "s" : ""} ${prms}`;
  throw new PgrstError(
    404,
    "PGRST202",
    `Could not find the function ${schema}.${name}${keys.length === 0 ? " without parameters" : `(${prms})`} in the schema cache`,
    `Searched for the function ${schema}.${name}${detailPrms}${isPost && jsonBody ? " or with a single unnamed json/jsonb parameter" : ""}, but no matches were found in the schema cache.`,
    noRoutineHint(cat, schema, name, keys, candidates),
  );
}

/**
 * What a write must return for its representation `rep`, as PostgREST's inferColsEmbedNeeds decides: every
 * column when the select has `*` (or `count()`) or embeds a function, else the selected columns and computed
 * fields, the columns its embeddings join on and the primary key. Nothing without a representation.
 */
export function returningFor(rep: ReadPlan, representation: boolean): Returning {
  if (!representation) return { kind: "none" };
  if (rep.star || rep.embeds.some((e) => e.rel.kind === "computed")) return { kind: "all" };
  const columns = new Set<string>();
  const computed = new Map<string, Routine>();
  for (const f of rep.fields) {
    if (f.expr.kind === "count") return { kind: "all" };
    if (f.expr.kind === "computed") computed.set(f.expr.name, f.expr.fn!);
    else columns.add(f.expr.name);
  }
  for (const e of rep.embeds) {
    const r = e.rel as FkRelationship;
    for (const [parentCol] of r.junction ? r.junction.fromCols : r.columns) columns.add(parentCol);
  }
  for (const c of rep.rel.primaryKey) columns.add(c);
  return { kind: "some", columns: [...columns], computed };
}

/** An order term on mutations is refused: the stand-in does not implement limited updates/deletes. */
export function refuseMutationPaging(scoped: Scoped): void {
  if (scoped.limit.has("") || scoped.offset.has("") || scoped.order.has("")) {
    throw new PgrstError(
      400,
      "PGRST127",
      "limit/offset/order on a write are not supported by the local PostgREST stand-in",
      "Limited updates and deletes are not implemented.",
    );
  }
}

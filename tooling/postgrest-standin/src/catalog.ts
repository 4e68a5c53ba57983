// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. The schema cache: relations, their columns and
// keys, the relationships between them (foreign keys, junction tables, functions taking a row) and the
// functions callable over /rpc. Every identifier in a request is checked against it before it is quoted.
import type pg from "pg";
import { PgrstError } from "./errors.ts";

export interface Column {
  name: string;
  type: string;
  nullable: boolean;
  /** The column's default expression (SQL), if any. */
  defaultExpr: string | null;
}

export interface Relation {
  schema: string;
  name: string;
  isView: boolean;
  columns: Map<string, Column>;
  primaryKey: string[];
  /** Column sets that are unique (primary key and unique constraints). */
  uniques: string[][];
}

export interface RoutineParam {
  /** "" for an unnamed parameter. */
  name: string;
  /** The type as regtype text ("integer", "text", "users"). */
  type: string;
  required: boolean;
  variadic: boolean;
}

export interface Routine {
  schema: string;
  name: string;
  params: RoutineParam[];
  /** Parameter type OIDs, to recognise functions that take a row of a relation. */
  paramTypeOids: number[];
  returnsSet: boolean;
  /** Returns a row type (table, view, composite or OUT/TABLE parameters). */
  returnsComposite: boolean;
  returnsVoid: boolean;
  /** The relation whose row type the function returns, when it returns one. */
  returnsRelation: { schema: string; name: string } | null;
  /** The type of a scalar result. */
  returnType: string;
  volatile: boolean;
  /** The planner's row estimate (ROWS n). */
  rows: number;
  /** PostgREST exposes functions whose parameters are all named, or with one unnamed json/jsonb/text/xml/bytea one. */
  callable: boolean;
}

export type Cardinality = "many-to-one" | "one-to-many" | "one-to-one" | "many-to-many";

/** A foreign-key relationship seen from `from`; `columns` pairs a column of `from` with one of `to`. */
export interface FkRelationship {
  kind: "fk";
  from: Relation;
  to: Relation;
  cardinality: Cardinality;
  constraint: string;
  columns: Array<[string, string]>;
  isSelf: boolean;
  /** For many-to-many: the junction table and the column pairs from→junction and junction→to. */
  junction?: { table: Relation; constraint1: string; constraint2: string; fromCols: Array<[string, string]>; toCols: Array<[string, string]> };
}

/** A function that takes a row of `from` and returns rows of `to` (PostgREST's computed relationship). */
export interface ComputedRelationship {
  kind: "computed";
  from: Relation;
  to: Relation;
  fn: Routine;
  toOne: boolean;
}

export type Relationship = FkRelationship | ComputedRelationship;

/** Quotes an identifier that was already checked against the catalog. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** schema.name, both quoted. */
export function qualified(r: { schema: string; name: string }): string {
  return `${ident(r.schema)}.${ident(r.name)}`;
}

interface Snapshot {
  relations: Map<string, Relation>;
  routines: Map<string, Routine[]>;
  relationships: Map<string, Relationship[]>;
  /** relation key → computed fields (functions of one row argument returning a scalar). */
  computedFields: Map<string, Map<string, Routine>>;
}

const key = (schema: string, name: string) => `${schema}.${name}`;

/** Loads relations, relationships and functions of the exposed schemas; reloaded after `ttlMs`. */
export class SchemaCache {
  #loaded = 0;
  #snap: Snapshot = { relations: new Map(), routines: new Map(), relationships: new Map(), computedFields: new Map() };
  readonly #pool: pg.Pool;
  readonly #schemas: string[];
  readonly #ttlMs: number;
  #loading: Promise<void> | undefined;

  constructor(pool: pg.Pool, schemas: string[], ttlMs = 2000) {
    this.#pool = pool;
    this.#schemas = schemas;
    this.#ttlMs = ttlMs;
  }

  /** A fresh enough snapshot of the cache. */
  async snapshot(): Promise<Catalog> {
    await this.#fresh();
    return new Catalog(this.#snap);
  }

  #fresh(): Promise<void> {
    if (Date.now() - this.#loaded < this.#ttlMs) return Promise.resolve();
    this.#loading ??= this.#load()
      .catch((e: Error) => {
        // Like PostgREST: keep serving from the cache it has while the database is away; without one, 503.
        if (this.#snap.relations.size > 0) {
          this.#loaded = Date.now() - this.#ttlMs + 500; // try again in half a second
          return;
        }
        throw new PgrstError(503, "PGRST002", "Could not query the database for the schema cache. Retrying.", e.message);
      })
      .finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  async #load(): Promise<void> {
    const relations = new Map<string, Relation>();
    const byTypeOid = new Map<number, Relation>();
    const rels = await this.#pool.query(
      `select n.nspname as schema, c.relname as name, c.relkind in ('v', 'm') as is_view, c.reltype::int as type_oid,
              a.attname as column, format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable,
              pg_get_expr(d.adbin, d.adrelid) as default_expr
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
         left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
        where n.nspname = any($1) and c.relkind in ('r', 'v', 'm', 'p', 'f')
        order by c.relname, a.attnum`,
      [this.#schemas],
    );
    for (const r of rels.rows) {
      const k = key(r.schema, r.name);
      let rel = relations.get(k);
      if (!rel) {
        rel = { schema: r.schema, name: r.name, isView: r.is_view, columns: new Map(), primaryKey: [], uniques: [] };
        relations.set(k, rel);
        byTypeOid.set(r.type_oid, rel);
      }
      rel.columns.set(r.column, { name: r.column, type: r.type, nullable: r.nullable, defaultExpr: r.default_expr });
    }
    const cons = await this.#pool.query(
      `select c.contype as type, c.conname as name, n.nspname as schema, t.relname as table, fn.nspname as fschema, ft.relname as ftable,
              array(select a.attname from unnest(c.conkey) with ordinality k(num, i)
                      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.num order by k.i)::text[] as cols,
              array(select a.attname from unnest(c.confkey) with ordinality k(num, i)
                      join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.num order by k.i)::text[] as fcols
         from pg_constraint c
         join pg_class t on t.oid = c.conrelid
         join pg_namespace n on n.oid = t.relnamespace
         left join pg_class ft on ft.oid = c.confrelid
         left join pg_namespace fn on fn.oid = ft.relnamespace
        where c.contype in ('p', 'u', 'f') and n.nspname = any($1) and c.conparentid = 0
        order by c.conname`,
      [this.#schemas],
    );
    const fks: Array<{ name: string; from: Relation; to: Relation; cols: string[]; fcols: string[] }> = [];
    for (const c of cons.rows) {
      const rel = relations.get(key(c.schema, c.table));
      if (!rel) continue;
      if (c.type === "p") rel.primaryKey = c.cols;
      if (c.type === "p" || c.type === "u") rel.uniques.push(c.cols);
      if (c.type === "f") {
        const to = relations.get(key(c.fschema, c.ftable));
        if (to) fks.push({ name: c.name, from: rel, to, cols: c.cols, fcols: c.fcols });
      }
    }
    const relationships = new Map<string, Relationship[]>();
    const add = (r: Relationship) => {
      const k = key(r.from.schema, r.from.name);
      relationships.set(k, [...(relationships.get(k) ?? []), r]);
    };
    const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
    for (const fk of fks) {
      const oneToOne = fk.from.uniques.some((u) => sameSet(u, fk.cols));
      const pairs = fk.cols.map((c, i): [string, string] => [c, fk.fcols[i]!]);
      const isSelf = fk.from === fk.to;
      add({ kind: "fk", from: fk.from, to: fk.to, cardinality: oneToOne ? "one-to-one" : "many-to-one", constraint: fk.name, columns: pairs, isSelf });
      add({
        kind: "fk", from: fk.to, to: fk.from, cardinality: oneToOne ? "one-to-one" : "one-to-many", constraint: fk.name,
        columns: pairs.map(([a, b]): [string, string] => [b, a]), isSelf,
      });
    }
    // Many-to-many: a junction table whose two foreign keys' columns are all part of its primary key.
    for (const j of relations.values()) {
      const out = fks.filter((f) => f.from === j && f.cols.every((c) => j.primaryKey.includes(c)));
      for (const a of out) {
        for (const b of out) {
          if (a === b) continue;
          add({
            kind: "fk", from: a.to, to: b.to, cardinality: "many-to-many", constraint: `${a.name}, ${b.name}`,
            columns: [], isSelf: a.to === b.to,
            junction: {
              table: j, constraint1: a.name, constraint2: b.name,
              fromCols: a.fcols.map((c, i): [string, string] => [c, a.cols[i]!]),
              toCols: b.cols.map((c, i): [string, string] => [c, b.fcols[i]!]),
            },
          });
        }
      }
    }

    const fns = await this.#pool.query(
      `with args as (
         select p.oid,
                array_agg(json_build_object('name', coalesce(a.name, ''), 'type', a.type::regtype::text, 'oid', a.type::int,
                          'required', a.idx <= p.pronargs - p.pronargdefaults, 'variadic', coalesce(a.mode = 'v', false)) order by a.idx) as params,
                case count(*) - count(a.name)
                  when 0 then true
                  when 1 then (array_agg(a.type))[1] in ('bytea'::regtype, 'json'::regtype, 'jsonb'::regtype, 'text'::regtype, 'xml'::regtype)
                  else false end as callable
           from pg_proc p, unnest(p.proargnames, p.proargtypes, p.proargmodes) with ordinality as a(name, type, mode, idx)
          where a.type is not null
          group by p.oid
       )
       select n.nspname as schema, p.proname as name, p.proretset as returns_set, p.provolatile = 'v' as volatile, p.prorows::float8 as rows,
              coalesce(args.params, '{}') as params, coalesce(args.callable, true) as callable,
              (t.typtype = 'c' or coalesce(p.proargmodes::text[] && '{t,b,o}', false)) as returns_composite,
              t.oid = 'void'::regtype as returns_void, t.typrelid <> 0 as returns_relation,
              rn.nspname as ret_schema, coalesce(rc.relname, t.typname) as ret_name, p.prorettype::regtype::text as return_type
         from pg_proc p
         join pg_namespace n on n.oid = p.pronamespace
         join pg_type t on t.oid = p.prorettype
         left join pg_class rc on rc.oid = t.typrelid
         left join pg_namespace rn on rn.oid = rc.relnamespace
         left join args on args.oid = p.oid
        where n.nspname = any($1) and p.prokind = 'f' and t.oid <> 'trigger'::regtype`,
      [this.#schemas],
    );
    const routines = new Map<string, Routine[]>();
    const computedFields = new Map<string, Map<string, Routine>>();
    for (const f of fns.rows) {
      const params = (f.params as Array<{ name: string; type: string; oid: number; required: boolean; variadic: boolean }>);
      const routine: Routine = {
        schema: f.schema, name: f.name,
        params: params.map((p) => ({ name: p.name, type: p.type, required: p.required, variadic: p.variadic })),
        paramTypeOids: params.map((p) => p.oid),
        returnsSet: f.returns_set, returnsComposite: f.returns_composite, returnsVoid: f.returns_void,
        returnsRelation: f.returns_relation ? { schema: f.ret_schema, name: f.ret_name } : null,
        returnType: f.return_type, volatile: f.volatile, rows: f.rows, callable: f.callable,
      };
      const k = key(f.schema, f.name);
      routines.set(k, [...(routines.get(k) ?? []), routine]);
      // One argument that is a row of a relation: a computed field (scalar result) or relationship (rows).
      const argRel = routine.params.length === 1 ? byTypeOid.get(routine.paramTypeOids[0]!) : undefined;
      if (!argRel) continue;
      const target = routine.returnsRelation ? relations.get(key(routine.returnsRelation.schema, routine.returnsRelation.name)) : undefined;
      if (target) {
        add({ kind: "computed", from: argRel, to: target, fn: routine, toOne: !routine.returnsSet || routine.rows === 1 });
      } else if (!routine.returnsComposite) {
        const rk = key(argRel.schema, argRel.name);
        const m = computedFields.get(rk) ?? new Map<string, Routine>();
        m.set(routine.name, routine);
        computedFields.set(rk, m);
      }
    }
    this.#snap = { relations, routines, relationships, computedFields };
    this.#loaded = Date.now();
  }
}

/** One consistent view of the schema cache for a request. */
export class Catalog {
  readonly #s: Snapshot;
  constructor(s: Snapshot) {
    this.#s = s;
  }

  relation(schema: string, name: string): Relation | undefined {
    return this.#s.relations.get(key(schema, name));
  }

  routines(schema: string, name: string): Routine[] {
    return this.#s.routines.get(key(schema, name)) ?? [];
  }

  relationships(from: Relation): Relationship[] {
    return this.#s.relationships.get(key(from.schema, from.name)) ?? [];
  }

  computedField(rel: Relation, name: string): Routine | undefined {
    return this.#s.computedFields.get(key(rel.schema, rel.name))?.get(name);
  }
}

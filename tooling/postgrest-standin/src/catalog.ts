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
  /** OUT / TABLE columns of a function returning an anonymous record. */
  outColumns: Array<{ name: string; type: string }>;
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
  junction?: {
    table: Relation;
    constraint1: string;
    constraint2: string;
    fromCols: Array<[string, string]>;
    toCols: Array<[string, string]>;
  };
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

/** PostgREST's in-database configuration (role settings of the authenticator) that the stand-in honours. */
export interface DbSettings {
  /** pgrst.db_aggregates_enabled: aggregate functions in select= (PostgREST's default: off). */
  aggregates: boolean;
  /** pgrst.db_plan_enabled: the application/vnd.pgrst.plan media type (PostgREST's default: off). */
  plan: boolean;
  /** pgrst.db_tx_end when the database sets it (commit, commit-allow-override, rollback, rollback-allow-override). */
  txEnd: string | null;
}

interface Snapshot {
  settings: DbSettings;
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
  #snap: Snapshot = {
    settings: { aggregates: false, plan: false, txEnd: null },
    relations: new Map(),
    routines: new Map(),
    relationships: new Map(),
    computedFields: new Map(),
  };
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
              coalesce(pg_get_expr(d.adbin, d.adrelid), case when a.attidentity in ('a', 'd') then
                format('nextval(%L::regclass)', pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)) end) as default_expr
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
    const fks: Array<{ name: string; from: Relation; to: Relation; cols: string[]; fcols: string[]; viaView?: boolean; base?: Relation }> =
      [];
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
    // Views: which of their columns are plain copies of a table's column (the origin PostgreSQL records in
    // each target entry of the view's query), so foreign keys of the table apply to the view too.
    const origins = await this.#pool.query(
      `select vn.nspname as vschema, v.relname as view, m[1] as vcol, tn.nspname as tschema, t.relname as table, a.attname as tcol
         from pg_class v
         join pg_namespace vn on vn.oid = v.relnamespace
         join pg_rewrite r on r.ev_class = v.oid,
              regexp_matches(r.ev_action::text, ':resname (\\S+) :ressortgroupref \\d+ :resorigtbl (\\d+) :resorigcol (\\d+)', 'g') as m
         join pg_class t on t.oid = m[2]::oid
         join pg_namespace tn on tn.oid = t.relnamespace
         join pg_attribute a on a.attrelid = t.oid and a.attnum = m[3]::int
        where v.relkind = 'v' and vn.nspname = any($1)`,
      [this.#schemas],
    );
    // view → table → (table column → view column); a view column with two origins is left out.
    const viewCols = new Map<Relation, Map<Relation, Map<string, string>>>();
    const seen = new Map<string, string>();
    for (const o of origins.rows) {
      const view = relations.get(key(o.vschema, o.view));
      const table = relations.get(key(o.tschema, o.table));
      if (!view || !table || !view.columns.has(o.vcol)) continue;
      const id = `${o.vschema}.${o.view}.${o.vcol}`;
      const origin = `${o.tschema}.${o.table}.${o.tcol}`;
      if (seen.has(id) && seen.get(id) !== origin) {
        viewCols.get(view)?.get(table)?.delete(o.tcol);
        continue;
      }
      seen.set(id, origin);
      const byTable = viewCols.get(view) ?? new Map<Relation, Map<string, string>>();
      const cols = byTable.get(table) ?? new Map<string, string>();
      cols.set(o.tcol, o.vcol);
      byTable.set(table, cols);
      viewCols.set(view, byTable);
    }
    // As PostgREST (addViewPrimaryKeys): a view's primary key is the key of each table whose key columns it all exposes.
    for (const [view, byTable] of viewCols) {
      for (const [table, m] of byTable) {
        if (table.primaryKey.length > 0 && table.primaryKey.every((c) => m.has(c)))
          view.primaryKey.push(...table.primaryKey.map((c) => m.get(c)!));
      }
    }
    /** The relation itself and every view that exposes all of `cols` of it, with the columns renamed. */
    const overlays = (rel: Relation, cols: string[]): Array<{ rel: Relation; cols: string[] }> => {
      const out = [{ rel, cols }];
      for (const [view, byTable] of viewCols) {
        const m = byTable.get(rel);
        if (m && cols.every((c) => m.has(c))) out.push({ rel: view, cols: cols.map((c) => m.get(c)!) });
      }
      return out;
    };
    for (const fk of [...fks]) {
      for (const a of overlays(fk.from, fk.cols)) {
        for (const b of overlays(fk.to, fk.fcols)) {
          if (a.rel === fk.from && b.rel === fk.to) continue;
          fks.push({ name: fk.name, from: a.rel, to: b.rel, cols: a.cols, fcols: b.cols, viaView: true, base: fk.from });
        }
      }
    }
    const relationships = new Map<string, Relationship[]>();
    const add = (r: Relationship) => {
      const k = key(r.from.schema, r.from.name);
      relationships.set(k, [...(relationships.get(k) ?? []), r]);
    };
    const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
    for (const fk of fks) {
      // One-to-one when the referencing columns are unique in the table (for a view: in its base table).
      const base = fk.base ?? fk.from;
      const baseCols = fk.base ? (fks.find((f) => !f.viaView && f.name === fk.name && f.from === fk.base)?.cols ?? []) : fk.cols;
      const oneToOne = base.uniques.some((u) => sameSet(u, baseCols));
      const pairs = fk.cols.map((c, i): [string, string] => [c, fk.fcols[i]!]);
      const isSelf = fk.from === fk.to;
      add({
        kind: "fk",
        from: fk.from,
        to: fk.to,
        cardinality: oneToOne ? "one-to-one" : "many-to-one",
        constraint: fk.name,
        columns: pairs,
        isSelf,
      });
      add({
        kind: "fk",
        from: fk.to,
        to: fk.from,
        cardinality: oneToOne ? "one-to-one" : "one-to-many",
        constraint: fk.name,
        columns: pairs.map(([a, b]): [string, string] => [b, a]),
        isSelf,
      });
    }
    // Many-to-many: a junction table whose two foreign keys' columns are all part of its primary key.
    for (const j of relations.values()) {
      const out = fks.filter((f) => !f.viaView && f.from === j && f.cols.every((c) => j.primaryKey.includes(c)));
      for (const a of out) {
        for (const b of out) {
          if (a === b) continue;
          add({
            kind: "fk",
            from: a.to,
            to: b.to,
            cardinality: "many-to-many",
            constraint: `${a.name}, ${b.name}`,
            columns: [],
            isSelf: a.to === b.to,
            junction: {
              table: j,
              constraint1: a.name,
              constraint2: b.name,
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
              rn.nspname as ret_schema, coalesce(rc.relname, t.typname) as ret_name, p.prorettype::regtype::text as return_type,
              (select coalesce(json_agg(json_build_object('name', o.name, 'type', format_type(o.type, null)) order by o.idx), '[]')
                 from unnest(p.proargnames, p.proallargtypes, p.proargmodes) with ordinality as o(name, type, mode, idx)
                where o.mode in ('o', 'b', 't')) as out_columns
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
      const params = f.params as Array<{ name: string; type: string; oid: number; required: boolean; variadic: boolean }>;
      const routine: Routine = {
        schema: f.schema,
        name: f.name,
        params: params.map((p) => ({ name: p.name, type: p.type, required: p.required, variadic: p.variadic })),
        paramTypeOids: params.map((p) => p.oid),
        returnsSet: f.returns_set,
        returnsComposite: f.returns_composite,
        returnsVoid: f.returns_void,
        returnsRelation: f.returns_relation ? { schema: f.ret_schema, name: f.ret_name } : null,
        returnType: f.return_type,
        volatile: f.volatile,
        rows: f.rows,
        callable: f.callable,
        outColumns: f.out_columns,
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
    const set = await this.#pool.query(
      `select coalesce(current_setting('pgrst.db_aggregates_enabled', true), '') = 'true' as aggregates,
              coalesce(current_setting('pgrst.db_plan_enabled', true), '') = 'true' as plan,
              nullif(current_setting('pgrst.db_tx_end', true), '') as tx_end`,
    );
    const settings: DbSettings = { aggregates: set.rows[0].aggregates, plan: set.rows[0].plan, txEnd: set.rows[0].tx_end };
    this.#snap = { settings, relations, routines, relationships, computedFields };
    this.#loaded = Date.now();
  }
}

/** One consistent view of the schema cache for a request. */
export class Catalog {
  readonly #s: Snapshot;
  constructor(s: Snapshot) {
    this.#s = s;
  }

  /** PostgREST settings the database sets for the authenticator. */
  get settings(): DbSettings {
    return this.#s.settings;
  }

  /** A table or view of an exposed schema. */
  relation(schema: string, name: string): Relation | undefined {
    return this.#s.relations.get(key(schema, name));
  }

  /** Names of the relations of a schema (for "Perhaps you meant" hints). */
  relationNames(schema: string): string[] {
    return [...this.#s.relations.values()].filter((r) => r.schema === schema).map((r) => r.name);
  }

  /** Names of the callable functions of a schema (for "Perhaps you meant" hints). */
  routineNames(schema: string): string[] {
    return [...this.#s.routines.values()]
      .flat()
      .filter((r) => r.schema === schema && r.callable)
      .map((r) => r.name);
  }

  /** Every function of that name (overloads included), callable or not. */
  routines(schema: string, name: string): Routine[] {
    return this.#s.routines.get(key(schema, name)) ?? [];
  }

  /** Relationships seen from a relation: foreign keys both ways, junctions, views, functions of its row. */
  relationships(from: Relation): Relationship[] {
    return this.#s.relationships.get(key(from.schema, from.name)) ?? [];
  }

  /** A function of one row of `rel` returning a scalar, selectable as a column named after it. */
  computedField(rel: Relation, name: string): Routine | undefined {
    return this.#s.computedFields.get(key(rel.schema, rel.name))?.get(name);
  }
}

// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. A small schema cache: every identifier in a
// request is checked against it before it is quoted into SQL.
import type pg from "pg";
import { PgrstError } from "./errors.ts";

export interface Relation {
  schema: string;
  name: string;
  columns: Map<string, string>; // name → type
  primaryKey: string[];
}

export interface RpcFunction {
  schema: string;
  name: string;
  args: Array<{ name: string; type: string; hasDefault: boolean }>;
  returnsSet: boolean;
  /** Returns a row type (table or composite) rather than a scalar. */
  returnsComposite: boolean;
  volatile: boolean;
}

/** Quotes an identifier that was already checked against the catalog. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Loads relations and functions of the exposed schemas; reloaded after `ttlMs`. */
export class SchemaCache {
  #loaded = 0;
  #relations = new Map<string, Relation>();
  #functions = new Map<string, RpcFunction[]>();
  readonly #pool: pg.Pool;
  readonly #schemas: string[];
  readonly #ttlMs: number;
  #loading: Promise<void> | undefined;

  constructor(pool: pg.Pool, schemas: string[], ttlMs = 2000) {
    this.#pool = pool;
    this.#schemas = schemas;
    this.#ttlMs = ttlMs;
  }

  async relation(schema: string, name: string): Promise<Relation | undefined> {
    await this.#fresh();
    return this.#relations.get(`${schema}.${name}`);
  }

  async functions(schema: string, name: string): Promise<RpcFunction[]> {
    await this.#fresh();
    return this.#functions.get(`${schema}.${name}`) ?? [];
  }

  #fresh(): Promise<void> {
    if (Date.now() - this.#loaded < this.#ttlMs) return Promise.resolve();
    this.#loading ??= this.#load()
      .catch((e: Error) => {
        // Like PostgREST: keep serving from the cache it has while the database is away; without one, 503.
        if (this.#relations.size > 0) {
          this.#loaded = Date.now() - this.#ttlMs + 500; // try again in half a second
          return;
        }
        throw new PgrstError(503, "PGRST002", "Could not query the database for the schema cache. Retrying.", e.message);
      })
      .finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  async #load(): Promise<void> {
    const rels = await this.#pool.query(
      `select n.nspname as schema, c.relname as name, a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
              coalesce(a.attnum = any(pk.conkey), false) as is_pk, a.attnum
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
         left join pg_constraint pk on pk.conrelid = c.oid and pk.contype = 'p'
        where n.nspname = any($1) and c.relkind in ('r', 'v', 'm', 'p', 'f')
        order by c.relname, a.attnum`,
      [this.#schemas],
    );
    const relations = new Map<string, Relation>();
    for (const r of rels.rows) {
      const key = `${r.schema}.${r.name}`;
      let rel = relations.get(key);
      if (!rel) relations.set(key, (rel = { schema: r.schema, name: r.name, columns: new Map(), primaryKey: [] }));
      rel.columns.set(r.column, r.type);
      if (r.is_pk) rel.primaryKey.push(r.column);
    }
    const fns = await this.#pool.query(
      `select n.nspname as schema, p.proname as name, p.proretset as returns_set, p.provolatile <> 'v' as readonly,
              coalesce(p.proargnames, '{}') as arg_names, p.pronargs, p.pronargdefaults,
              array(select format_type(t, null) from unnest(p.proargtypes) as t) as arg_types,
              t.typtype = 'c' or p.prorettype = 'record'::regtype as returns_composite
         from pg_proc p
         join pg_namespace n on n.oid = p.pronamespace
         join pg_type t on t.oid = p.prorettype
        where n.nspname = any($1) and p.prokind = 'f'`,
      [this.#schemas],
    );
    const functions = new Map<string, RpcFunction[]>();
    for (const f of fns.rows) {
      const key = `${f.schema}.${f.name}`;
      const names: string[] = f.arg_names;
      const types: string[] = f.arg_types;
      const firstDefault = f.pronargs - f.pronargdefaults;
      const list = functions.get(key) ?? [];
      list.push({
        schema: f.schema,
        name: f.name,
        args: types.map((type, i) => ({ name: names[i] ?? "", type, hasDefault: i >= firstDefault })),
        returnsSet: f.returns_set,
        returnsComposite: f.returns_composite,
        volatile: !f.readonly,
      });
      functions.set(key, list);
    }
    this.#relations = relations;
    this.#functions = functions;
    this.#loaded = Date.now();
  }
}

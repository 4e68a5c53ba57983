// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. The plan's shapes, shared by the plan stage
// (plan.ts, which builds them) and the SQL stage (sql.ts, which renders them): kept apart so that neither
// stage imports the other.
import type { FkRelationship, Relation, Relationship, Routine } from "./catalog.ts";
import type { JsonStep, OrderTerm, FilterNode } from "./grammar.ts";

/** Where a read plan's rows come from. */
export type Source =
  | { kind: "table"; rel: Relation }
  /** A CTE's rows; `computedColumns`: a write's RETURNING computed the selected computed fields as columns. */
  | { kind: "cte"; name: string; computedColumns?: boolean }
  | { kind: "call"; fn: Routine; parentAlias: string; parentIsCte: boolean; parentRel: Relation }
  /** An rpc call: the function with its arguments (by name, or the raw body for one unnamed parameter). */
  | { kind: "rpc"; fn: Routine; args: Record<string, unknown> | null; raw: string | null };

export interface FieldExpr {
  kind: "column" | "computed" | "count";
  name: string;
  path: JsonStep[];
  cast?: string;
  fn?: Routine;
}

export interface SelectField {
  expr: FieldExpr;
  out: string;
  aggregate?: { fn: string; cast?: string };
}

export interface EmbedPlan {
  plan: ReadPlan;
  rel: Relationship;
  out: string;
  aggAlias: string;
  toOne: boolean;
  inner: boolean;
  spread: boolean;
}

export interface ReadPlan {
  rel: Relation;
  source: Source;
  alias: string;
  /** null: every column (`*`) and nothing else. */
  fields: SelectField[];
  star: boolean;
  embeds: EmbedPlan[];
  filters: FilterNode[];
  /** embed=is.null / embed=not.is.null on this level. */
  embedNullFilters: Array<{ aggAlias: string; isNull: boolean }>;
  order: Array<OrderTerm & { aggAlias?: string }>;
  limit: number | null;
  offset: number;
  /** Join conditions to the parent (rendered by the SQL stage). */
  parent?: { alias: string; rel: FkRelationship };
  depth: number;
  /** Computed fields referenced by filters and orders. */
  computed: Map<string, Routine>;
}

/**
 * What a write's RETURNING gives its representation: nothing (no representation), every column (`*`), or the
 * named columns and computed fields (PostgREST's returnings: the selected fields plus key and join columns).
 */
export type Returning = { kind: "none" } | { kind: "all" } | { kind: "some"; columns: string[]; computed: Map<string, Routine> };

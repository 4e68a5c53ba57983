import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import { sqlDir } from "./paths.ts";

/** One finding of our advisor lints, named and levelled like the Supabase dashboard's Advisors. */
export interface Lint {
  name: string;
  level: "ERROR" | "WARN" | "INFO";
  category: "SECURITY" | "PERFORMANCE";
  detail: string;
  cache_key: string;
}

/** The lints src/sql/advisor-lints.sql implements (our re-implementation, not Supabase's linter). */
export const ADVISOR_LINTS = [
  "rls_disabled_in_public",
  "policy_exists_rls_disabled",
  "security_definer_view",
  "auth_users_exposed",
  "sensitive_columns_exposed",
  "function_search_path_mutable",
  "extension_in_public",
  "function_executable_by_public",
  "auth_rls_initplan",
  "rls_enabled_no_policy",
  "unindexed_foreign_keys",
] as const;

/**
 * Runs this project's advisor lints (src/sql/advisor-lints.sql) on a database; `exposedSchemas` are the
 * schemas the Data API serves (default public, graphql_public). Read-only, one statement.
 */
export async function runAdvisorLints(client: pg.ClientBase, exposedSchemas: string[] = ["public", "graphql_public"]): Promise<Lint[]> {
  const sql = await readFile(join(sqlDir, "advisor-lints.sql"), "utf8");
  const { rows } = await client.query<Lint>(sql, [exposedSchemas]);
  return rows.map((r) => ({ name: r.name, level: r.level, category: r.category, detail: r.detail, cache_key: r.cache_key }));
}

export { freePort, assertPortFree } from "./ports.ts";
export { startPostgres, LOCAL_DB_PASSWORD, type RunningPostgres, type StartPostgresOptions } from "./postgres.ts";
export { bootstrapSupabase, startSupabaseDb, type StartSupabaseDbOptions, type SupabaseDb } from "./supabase-db.ts";
export { ADVISOR_LINTS, runAdvisorLints, type Lint } from "./advisor-lints.ts";
export { applyAuthSchema, AUTH_SCHEMA_SQL } from "./auth-schema.ts";
export { listDeployAssets, pushMigrations, runSupabaseCli, type CliResult } from "./supabase-cli.ts";
export { asPostgrest, type RequestContext } from "./sql-as.ts";
export { findPgtapSql, loadPgtap, runPgtapFile } from "./pgtap.ts";
export { repoRoot, supabaseCliPath } from "./paths.ts";
export {
  LOCAL_ANON_KEY,
  LOCAL_JWT_SECRET,
  LOCAL_PUBLISHABLE_KEY,
  LOCAL_SECRET_KEY,
  LOCAL_SERVICE_ROLE_KEY,
  jwtForApiKey,
} from "./keys.ts";

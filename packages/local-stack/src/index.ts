export { freePort, assertPortFree } from "./ports.ts";
export { startPostgres, LOCAL_DB_PASSWORD, type RunningPostgres, type StartPostgresOptions } from "./postgres.ts";
export { bootstrapSupabase, startSupabaseDb, type StartSupabaseDbOptions, type SupabaseDb } from "./supabase-db.ts";
export { pushMigrations, runSupabaseCli, type CliResult } from "./supabase-cli.ts";
export { asPostgrest, type RequestContext } from "./sql-as.ts";
export { repoRoot } from "./paths.ts";

/** Roles a writer's token must never switch to, whatever the registry says: Supabase's API and internal roles. */
const REFUSED = new Set(["anon", "authenticated", "service_role", "authenticator", "postgres", "dashboard_user", "pgbouncer"]);

/**
 * The gateway's own check of a registry db_role, on top of the registry's (federation.is_writer_role at
 * write and read time): a plain role name, and not anon, authenticated, service_role, authenticator,
 * postgres, `supabase_*`, `pg_*` or `pgsodium_*`.
 */
export function isWriterDbRoleName(role: string): boolean {
  return /^[a-z_][a-z0-9_]{0,62}$/.test(role) && !REFUSED.has(role) && !/^(supabase|pg_|pgsodium)/.test(role);
}

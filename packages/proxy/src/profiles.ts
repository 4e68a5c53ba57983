import { ProxyError } from "./errors.ts";

/**
 * Refuses (406 schema_not_allowed) a request whose Accept-Profile or Content-Profile names a schema outside
 * `allowed`, before anything is forwarded: PostgREST would otherwise switch to any exposed schema
 * (`graphql_public` + /rpc/graphql reaches pg_graphql).
 */
export function checkProfiles(headers: Headers, allowed: ReadonlySet<string>): void {
  for (const name of ["accept-profile", "content-profile"]) {
    const value = headers.get(name);
    if (value !== null && !allowed.has(value.trim())) throw new ProxyError("schema_not_allowed", `${name} must name an allowed schema`);
  }
}

/** `Prefer: count=…` values a writer may ask for. The planner's estimates are refused: they count rows RLS hides. */
const ALLOWED_COUNTS = new Set(["exact"]);

/**
 * Refuses (400 prefer_not_allowed) `Prefer: count=planned|estimated`: PostgREST answers those from the query
 * planner's statistics, which cover every row of the table, so a writer would learn how many rows of other
 * issuers exist (and whether a value does) on any table it may read. `count=exact` counts only visible rows.
 */
export function checkPrefer(headers: Headers): void {
  const prefer = headers.get("prefer");
  if (prefer === null) return;
  for (const token of prefer.split(/[,\s]+/)) {
    const m = /^count=(.*)$/i.exec(token.trim());
    if (m && !ALLOWED_COUNTS.has(m[1]!.toLowerCase())) {
      throw new ProxyError("prefer_not_allowed", "only Prefer: count=exact is served (planner estimates count rows RLS hides)");
    }
  }
}

/**
 * Refuses (406 plan_not_allowed) an Accept naming `application/vnd.pgrst.plan` (any suffix or parameters):
 * where a project turns on PostgREST's db-plan-enabled, the plan of a writer's query would show the policies'
 * expressions and the planner's row estimates over rows RLS hides. Writers get data, never plans.
 */
export function checkAccept(headers: Headers): void {
  const accept = headers.get("accept");
  if (accept !== null && /application\/vnd\.pgrst\.plan/i.test(accept)) {
    throw new ProxyError("plan_not_allowed", "query plans (application/vnd.pgrst.plan) are not served");
  }
}

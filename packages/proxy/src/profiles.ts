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

// Shared by the stand-in's test files: start it as the authenticator login, and call it as a client would.
import { LOCAL_JWT_SECRET } from "@fedjwt/local-db";
import { type RunningStandIn, startPostgrestStandIn } from "../src/server.ts";

/** The database URL as the `authenticator` login (the stand-in's login, as PostgREST's). */
export function authenticatorUrl(superuserUrl: string): string {
  return superuserUrl.replace("postgres:postgres@", "authenticator:postgres@");
}

/** Starts the stand-in over the test database with the local JWT secret. */
export function startStandIn(superuserUrl: string): Promise<RunningStandIn> {
  return startPostgrestStandIn({ dbUrl: authenticatorUrl(superuserUrl), jwtSecret: LOCAL_JWT_SECRET });
}

/** A request to the stand-in: status, headers and the parsed JSON body (null when empty). */
export function caller(rest: () => RunningStandIn) {
  return async (path: string, init: RequestInit & { bearer?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.bearer) headers.set("authorization", `Bearer ${init.bearer}`);
    const res = await fetch(`${rest().url}${path}`, { ...init, headers });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
}

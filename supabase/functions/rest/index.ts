// The `rest` Edge Function: verify a writer's token against the key registry, pin the database role,
// re-sign for PostgREST, forward. All logic lives in packages/proxy; this file only wires the environment.
// Deploy: supabase functions deploy rest --no-verify-jwt (config.toml already sets verify_jwt = false).
import { createJwtSwapProxy, proxyOptionsFromEnv } from "@fedjwt/proxy";

const handler = createJwtSwapProxy(proxyOptionsFromEnv((name) => Deno.env.get(name)));

export default { fetch: handler } satisfies Deno.ServeDefaultExport;

// The `rest` Edge Function: verify a writer's token against the key registry, pin the database role,
// re-sign for PostgREST, forward. All logic lives in packages/proxy; this file only wires the environment.
// Deploy: supabase functions deploy rest --use-api (config.toml sets verify_jwt = false; --use-api bundles without Docker).
import { createJwtSwapProxy, proxyOptionsFromEnv } from "@fedjwt/proxy";

const handler = createJwtSwapProxy(proxyOptionsFromEnv((name) => Deno.env.get(name)));

export default { fetch: handler } satisfies Deno.ServeDefaultExport;

// The local stack is the facade of the Docker-free local Supabase: it re-exports the database launcher
// (@fedjwt/local-db) and the PostgREST stand-in (@fedjwt/postgrest-standin) it runs.
export * from "@fedjwt/local-db";
export { startPostgrestStandIn, type RunningStandIn, type StandInOptions } from "@fedjwt/postgrest-standin";
export { loadError, serveBrokenFunctions, bootErrorBody, type BrokenFunction } from "./broken.ts";
export { formatFunctions, functionStates, type FunctionState } from "./function-status.ts";
export { rotateLog, LOG_MAX_BYTES } from "./log-file.ts";
export { startStack, formatEnv, type RunningStack, type StackInfo, type StartStackOptions } from "./stack.ts";
export { startGateway, upstreamAuthorization } from "./gateway.ts";
export {
  denoBinary,
  denoEnv,
  denoNetworkEnv,
  denoServeArgs,
  isAlive,
  serveDeno,
  serveFunction,
  stopChild,
  type DenoServer,
  type RunningFunction,
  type ServeDenoOptions,
} from "./functions.ts";
export { readFunctions, type FunctionConfig } from "./config.ts";

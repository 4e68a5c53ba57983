export { startPostgrestStandIn, type RunningStandIn, type StandInOptions } from "./server.ts";
export { PgrstError } from "./errors.ts";

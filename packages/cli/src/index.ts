export { main, VERSION } from "./main.ts";
export { CliError } from "./errors.ts";
export type { Io } from "./output.ts";
export { targetLabel } from "./target.ts";

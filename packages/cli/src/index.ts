export { COMMANDS, main, VERSION } from "./main.ts";
export { CLI_CODES, CliError, type CliCode, type CliErrorOptions } from "./errors.ts";
export {
  defineCommand,
  helpText,
  parseFlags,
  type Command,
  type CommandSpec,
  type FlagSpec,
  type FlagSpecs,
  type FlagValues,
} from "./spec.ts";
export { doctor, type DoctorCheck, type DoctorOptions, type DoctorReport } from "./doctor.ts";
export type { Io } from "./output.ts";
export { targetLabel } from "./target.ts";
export { TEMPLATE_PARTS } from "./commands/adopt.ts";

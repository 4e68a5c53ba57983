import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses a command's flags strictly; unknown or malformed flags become a CliError (exit 2). */
export function parseFlags<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    const message = (e as Error).message.split("\n")[0] ?? "bad arguments";
    throw new CliError("bad_arguments", `${message} (see: fedjwt ${command} --help)`);
  }
}

/** Returns a required string flag or throws a CliError naming it. */
export function required(command: string, values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v.trim() === "") {
    throw new CliError("bad_arguments", `--${name} is required (see: fedjwt ${command} --help)`);
  }
  return v;
}

import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Joins `--flag value` into `--flag=value` when a string flag's value starts with "-": kids are base64url
 * thumbprints and one in 64 starts with "-", which node:util's parseArgs otherwise rejects as ambiguous.
 * A value that is itself one of the command's flags is left alone (then the flag really has no value).
 */
export function joinDashValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    const isFlag = (v: string) => v.startsWith("--") && v.slice(2).split("=")[0]! in options;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && next.startsWith("-") && !isFlag(next) && next !== "-h") {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Parses a command's flags strictly; unknown or malformed flags become a CliError (exit 2). */
export function parseFlags<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: joinDashValues(argv, options), options, strict: true, allowPositionals });
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

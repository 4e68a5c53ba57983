// One spec per command: its flags (type, placeholder, description, default, group), usage, description and
// examples. The same spec drives parsing (node:util parseArgs tokens, checked here) and the --help text,
// so help cannot drift from what a command accepts.
import { parseArgs } from "node:util";
import { CliError } from "./errors.ts";
import type { Io } from "./output.ts";

interface FlagBase {
  /** One line for --help. */
  description: string;
  /** The --help section the flag is listed under (default "Options"). */
  group?: string;
}

/** A flag that takes a value: `--name <value>` or `--name=<value>`; values may start with "-". */
export interface StringFlag extends FlagBase {
  type: "string";
  /** The placeholder shown in help, e.g. "<file>". */
  value: string;
  multiple?: boolean;
  default?: string | readonly string[];
  /** Parsing fails with "--name is required" when it is absent or blank. */
  required?: boolean;
}

/** An on/off flag: `--name`. */
export interface BooleanFlag extends FlagBase {
  type: "boolean";
  default?: boolean;
}

export type FlagSpec = StringFlag | BooleanFlag;
export type FlagSpecs = Record<string, FlagSpec>;

type FlagValue<F> = F extends BooleanFlag
  ? F extends { default: boolean }
    ? boolean
    : boolean | undefined
  : F extends { multiple: true }
    ? F extends { default: readonly string[] }
      ? string[]
      : string[] | undefined
    : F extends { default: string } | { required: true }
      ? string
      : string | undefined;

/** The parsed values of a command's flags, typed from its spec. */
export type FlagValues<F extends FlagSpecs> = { -readonly [K in keyof F]: FlagValue<F[K]> };

/** What one command is: the single source for its parser, its help and its entry in `fedjwt --help`. */
export interface CommandSpec<F extends FlagSpecs> {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage lines, each without the leading "fedjwt <name> ". */
  usage: readonly string[];
  /** What it does, for --help (may span lines). */
  description: string;
  flags: F;
  /** Positional arguments, e.g. "<public key file>..."; none are accepted when absent. */
  positionals?: string;
  examples?: readonly string[];
  /** Help text printed after the options (e.g. numbered steps). */
  notes?: string;
  /** Resolves to the exit code (0 when nothing is returned); bad input and failures throw a CliError. */
  run(args: { values: FlagValues<F>; positionals: string[] }, io: Io): Promise<number | void>;
}

/** A command as main() sees it: name, summary, help text and a runner taking raw arguments. */
export interface Command {
  name: string;
  summary: string;
  /** The spec's flags and positionals (what the parser accepts). */
  flags: FlagSpecs;
  positionals: string | undefined;
  help(): string;
  run(argv: string[], io: Io): Promise<number | void>;
}

/** Builds a Command from its spec: parsing and help both come from `spec.flags`. */
export function defineCommand<const F extends FlagSpecs>(spec: CommandSpec<F>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    flags: spec.flags,
    positionals: spec.positionals,
    help: () => helpText(spec),
    run: (argv, io) => spec.run(parseFlags(spec, argv), io),
  };
}

const flagLabel = (name: string, f: FlagSpec) => (f.type === "string" ? `--${name} ${f.value}` : `--${name}`);

/** The --help text of a command, generated from its spec. */
export function helpText<F extends FlagSpecs>(spec: CommandSpec<F>): string {
  const entries = Object.entries(spec.flags);
  const width = Math.max("-h, --help".length, ...entries.map(([n, f]) => flagLabel(n, f).length)) + 2;
  const groups = new Map<string, string[]>();
  for (const [name, f] of entries) {
    let text = f.description;
    if (f.type === "string" && f.required) text += " (required)";
    else if (f.type === "string" && f.default !== undefined && !(Array.isArray(f.default) && f.default.length === 0)) {
      text += ` (default: ${Array.isArray(f.default) ? f.default.join(", ") : f.default})`;
    }
    if (f.type === "string" && f.multiple) text += "; repeat for several";
    const group = f.group ?? "Options";
    groups.set(group, [...(groups.get(group) ?? []), `  ${flagLabel(name, f).padEnd(width)}${text}`]);
  }
  const last = [...groups.keys()].at(-1) ?? "Options";
  groups.set(last, [...(groups.get(last) ?? []), `  ${"-h, --help".padEnd(width)}show this help`]);
  const usage = spec.usage.map((u, i) => `${i === 0 ? "Usage: " : "       "}fedjwt ${spec.name}${u ? ` ${u}` : ""}`);
  const sections = [usage.join("\n"), spec.description];
  for (const [group, lines] of groups) sections.push(`${group}:\n${lines.join("\n")}`);
  if (spec.notes) sections.push(spec.notes);
  if (spec.examples?.length) sections.push(`Examples:\n${spec.examples.map((e) => `  ${e}`).join("\n")}`);
  return sections.join("\n\n");
}

function bad(command: string, message: string): CliError {
  return new CliError("bad_arguments", `${message} (see: fedjwt ${command} --help)`);
}

/**
 * Parses a command's arguments against its spec. node:util's parseArgs (non-strict, with tokens) splits
 * them; the checks here are strict: unknown flags, missing values, values on boolean flags and unexpected
 * positionals are refused. A string flag takes the next argument even when it starts with "-" (kids are
 * base64url and one in 64 does), unless that argument is one of the command's own flags or -h/--help.
 */
export function parseFlags<F extends FlagSpecs>(
  spec: { name: string; flags: F; positionals?: string | undefined },
  argv: string[],
): { values: FlagValues<F>; positionals: string[] } {
  const flags: Record<string, FlagSpec> = spec.flags;
  const options = Object.fromEntries(Object.entries(flags).map(([n, f]) => [n, { type: f.type }])) as Record<
    string,
    { type: "string" | "boolean" }
  >;
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const isOwnFlag = (v: string) => v === "-h" || v === "--help" || (v.startsWith("--") && Object.hasOwn(flags, v.slice(2).split("=")[0]!));
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === "option-terminator") continue;
    if (t.kind === "positional") {
      if (spec.positionals === undefined)
        throw bad(spec.name, `Unexpected argument '${t.value}'. This command does not take positional arguments`);
      positionals.push(t.value);
      continue;
    }
    const f = Object.hasOwn(flags, t.name) && t.rawName.startsWith("--") ? flags[t.name]! : undefined;
    if (!f) throw bad(spec.name, `Unknown option '${t.rawName}'`);
    if (f.type === "boolean") {
      if (t.value !== undefined) throw bad(spec.name, `Option '${t.rawName}' does not take an argument`);
      values[t.name] = true;
      continue;
    }
    if (t.value === undefined || (!t.inlineValue && isOwnFlag(t.value)))
      throw bad(spec.name, `Option '${t.rawName} ${f.value}' argument missing`);
    if (f.multiple) values[t.name] = [...((values[t.name] as string[] | undefined) ?? []), t.value];
    else values[t.name] = t.value;
  }
  for (const [name, f] of Object.entries(flags)) {
    if (values[name] === undefined && f.default !== undefined) values[name] = Array.isArray(f.default) ? [...f.default] : f.default;
    if (f.type === "string" && f.required && (typeof values[name] !== "string" || (values[name] as string).trim() === "")) {
      throw bad(spec.name, `--${name} is required`);
    }
  }
  return { values: values as FlagValues<F>, positionals };
}

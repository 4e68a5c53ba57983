import { SignerError } from "@fedjwt/signer";
import { adoptCommand } from "./commands/adopt.ts";
import { auditCommand } from "./commands/audit.ts";
import { deactivateCommand } from "./commands/deactivate.ts";
import { doctorCommand } from "./commands/doctor.ts";
import { jwksCommand } from "./commands/jwks.ts";
import { keygenCommand } from "./commands/keygen.ts";
import { listCommand } from "./commands/list.ts";
import { mintCommand } from "./commands/mint.ts";
import { policyCommand } from "./commands/policy.ts";
import { registerCommand } from "./commands/register.ts";
import { rotateCommand } from "./commands/rotate.ts";
import { trustCommand, untrustCommand } from "./commands/trust.ts";
import { CliError } from "./errors.ts";
import { processIo, type Io } from "./output.ts";
import type { Command } from "./spec.ts";

/** Every command, in the order `fedjwt --help` lists them. A new command: a defineCommand() spec, added here. */
export const COMMANDS: readonly Command[] = [
  keygenCommand,
  mintCommand,
  jwksCommand,
  registerCommand,
  policyCommand,
  listCommand,
  deactivateCommand,
  rotateCommand,
  trustCommand,
  untrustCommand,
  doctorCommand,
  adoptCommand,
  auditCommand,
];

export const VERSION = "0.1.0";

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: fedjwt <command> [options]

Keys and tokens for writers of a federated Supabase project.

Commands:
${lines.join("\n")}

Run "fedjwt <command> --help" for a command's options. Exit codes: 0 ok, 2 bad input, 1 failure.`;
}

/** Runs the CLI with the given arguments and returns the exit code. Never throws. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "-V" || name === "--version") {
    io.out(VERSION);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`fedjwt: unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(", ")})`);
    return 2;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    io.out(command.help());
    return 0;
  }
  try {
    return (await command.run(rest, io)) ?? 0;
  } catch (e) {
    if (e instanceof CliError) {
      io.err(`fedjwt ${name}: ${e.message}`);
      return e.exitCode;
    }
    if (e instanceof SignerError) {
      io.err(`fedjwt ${name}: ${e.message} [${e.code}]`);
      return 2;
    }
    io.err(`fedjwt ${name}: unexpected failure: ${(e as Error)?.message ?? String(e)}`);
    return 1;
  }
}

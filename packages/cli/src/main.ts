import { SignerError } from "@fedjwt/signer";
import { adopt, adoptHelp } from "./commands/adopt.ts";
import { deactivate, deactivateHelp } from "./commands/deactivate.ts";
import { jwks, jwksHelp } from "./commands/jwks.ts";
import { list, listHelp } from "./commands/list.ts";
import { register, registerHelp } from "./commands/register.ts";
import { rotate, rotateHelp } from "./commands/rotate.ts";
import { keygen, keygenHelp } from "./commands/keygen.ts";
import { mint, mintHelp } from "./commands/mint.ts";
import { CliError } from "./errors.ts";
import { processIo, type Io } from "./output.ts";

interface Command {
  summary: string;
  help: string;
  run(argv: string[], io: Io): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  keygen: { summary: "generate a writer keypair for one target", help: keygenHelp, run: keygen },
  mint: { summary: "mint a short-lived token with a writer's private key", help: mintHelp, run: mint },
  jwks: { summary: "build a JWKS document from public key files", help: jwksHelp, run: jwks },
  register: { summary: "register a public key or JWKS URL on a project", help: registerHelp, run: register },
  list: { summary: "list registered issuers and keys", help: listHelp, run: list },
  deactivate: { summary: "stop accepting an issuer's (or one key's) tokens", help: deactivateHelp, run: deactivate },
  rotate: { summary: "register a new key beside the old one, then retire the old", help: rotateHelp, run: rotate },
  adopt: { summary: "add the rest function, its migrations and config to an existing Supabase project", help: adoptHelp, run: adopt },
};

export const VERSION = "0.1.0";

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
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
  const command = COMMANDS[name];
  if (!command) {
    io.err(`fedjwt: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(", ")})`);
    return 2;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    io.out(command.help);
    return 0;
  }
  try {
    await command.run(rest, io);
    return 0;
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

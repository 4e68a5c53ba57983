/** A user-facing failure: printed as one line, never with a stack trace. Exit 2 = bad input, 1 = the world failed. */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly exitCode: 1 | 2;
  readonly code: string;

  constructor(code: string, message: string, exitCode: 1 | 2 = 2) {
    super(message);
    this.code = code;
    this.exitCode = exitCode;
  }
}

/**
 * Every code a CliError can carry: the CLI's own, stable vocabulary. What the project or a library
 * answered (HTTP status, PostgREST/SQLSTATE code, a signer error) travels in separate fields.
 */
export const CLI_CODES = [
  // bad input (exit 2)
  "bad_arguments",
  "bad_issuer",
  "bad_alg",
  "bad_target",
  "bad_claim",
  "bad_key",
  "bad_jwks_uri",
  "bad_time",
  "bad_lifetime",
  "file_unreadable",
  "file_exists",
  "not_a_project",
  "no_template",
  "would_overwrite",
  "outside_project",
  "bad_manifest",
  // what the project said
  "key_refused",
  "registry_missing",
  "not_found",
  "request_refused",
  "no_such_issuer",
  "no_such_key",
  "duplicate_kid",
  "key_deactivated",
  "db_role_refused",
  "policy_refused",
  "last_active_key",
  "key_in_use",
  "registry_outdated",
  "no_local_stack",
  // the world failed (exit 1)
  "unreachable",
  "upstream_failed",
  "file_unwritable",
  "template_broken",
] as const;

export type CliCode = (typeof CLI_CODES)[number];

/** Details of a failure reported by the layer below the CLI. */
export interface CliErrorOptions {
  /** 2 = bad input (default), 1 = the world failed. */
  exitCode?: 1 | 2;
  /** The HTTP status the project answered. */
  status?: number;
  /** The code in the project's error body: a PostgREST code (PGRST…) or a SQLSTATE (e.g. 23505). */
  upstreamCode?: string;
  /** The message in the project's error body, as it was sent. */
  upstreamMessage?: string;
  /** The error this one reports (e.g. a SignerError, with its own code). */
  cause?: unknown;
}

/** A user-facing failure: printed as one line, never with a stack trace. Exit 2 = bad input, 1 = the world failed. */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly code: CliCode;
  readonly exitCode: 1 | 2;
  readonly status: number | undefined;
  readonly upstreamCode: string | undefined;
  readonly upstreamMessage: string | undefined;

  constructor(code: CliCode, message: string, options: CliErrorOptions | 1 | 2 = {}) {
    const o = typeof options === "number" ? { exitCode: options } : options;
    super(message, o.cause !== undefined ? { cause: o.cause } : undefined);
    this.code = code;
    this.exitCode = o.exitCode ?? 2;
    this.status = o.status;
    this.upstreamCode = o.upstreamCode;
    this.upstreamMessage = o.upstreamMessage;
  }
}

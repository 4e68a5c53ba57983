// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. Errors as PostgREST reports them:
// JSON {code, message, details, hint} with the HTTP status of PostgREST's documented table
// (docs.postgrest.org → References → Errors → HTTP Status Codes).

/** An error the stand-in answers with. */
export class PgrstError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly hint: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    details: unknown = null,
    hint: string | null = null,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.hint = hint;
    this.headers = headers;
  }

  /** The response body. */
  body(): string {
    return JSON.stringify({ code: this.code, details: this.details, hint: this.hint, message: this.message });
  }
}

/** PostgREST's SQLSTATE → HTTP status mapping. 42501 is 403 for a token holder, 401 for anonymous requests. */
export function statusForSqlState(code: string, authenticated: boolean): number {
  const exact: Record<string, number> = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "53400": 500,
    P0001: 400,
    "42883": 404,
    "42P01": 404,
    "42P17": 500,
  };
  if (code === "42501") return authenticated ? 403 : 401;
  if (exact[code] !== undefined) return exact[code];
  if (/^PT\d{3}$/.test(code)) return Number(code.slice(2));
  const prefix: Array<[string, number]> = [
    ["08", 503],
    ["09", 500],
    ["0L", 403],
    ["0P", 403],
    ["25", 500],
    ["28", 403],
    ["2D", 500],
    ["38", 500],
    ["39", 500],
    ["3B", 500],
    ["40", 500],
    ["53", 503],
    ["54", 500],
    ["55", 500],
    ["57", 500],
    ["58", 500],
    ["F0", 500],
    ["HV", 500],
    ["P0", 500],
    ["XX", 500],
  ];
  for (const [p, status] of prefix) if (code.startsWith(p)) return status;
  return 400;
}

/** Wraps a node-postgres error as PostgREST does. */
export function fromPgError(e: { code?: string; message: string; detail?: string; hint?: string }, authenticated: boolean): PgrstError {
  const code = e.code ?? "XX000";
  return new PgrstError(statusForSqlState(code, authenticated), code, e.message, e.detail ?? null, e.hint ?? null);
}

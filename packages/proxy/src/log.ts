/** A structured log sink: one JSON object per event. Never given a token or key. */
export type Logger = (entry: Record<string, unknown> & { level: "info" | "warn" | "error"; event: string }) => void;

/** Writes one JSON line per event to the console (what Supabase's function logs collect), `time` first. */
export const consoleLogger: Logger = (entry) => {
  // The entry is serialised as it is and the time put in front, rather than copied into a new object per line.
  const line =
    "time" in entry
      ? JSON.stringify({ time: new Date().toISOString(), ...entry })
      : `{"time":"${new Date().toISOString()}",${JSON.stringify(entry).slice(1)}`;
  if (entry.level === "error") console.error(line);
  else if (entry.level === "warn") console.warn(line);
  else console.log(line);
};

/** Which requests get an access line: all of them, only answers ≥ 400, or every error plus one success in N. */
export type AccessLogMode = { kind: "all" } | { kind: "errors" } | { kind: "sample"; every: number };

/** Parses FEDJWT_ACCESS_LOG (`all`, `errors` or `sample:N` with N ≥ 1); a string says what is wrong. */
export function parseAccessLogMode(raw: string): AccessLogMode | string {
  if (raw === "all" || raw === "errors") return { kind: raw };
  const m = /^sample:([1-9][0-9]{0,8})$/.exec(raw);
  if (m) return { kind: "sample", every: Number(m[1]) };
  return "must be all, errors or sample:N (N a whole number ≥ 1)";
}

/** Longest text a log line carries for any one value that came from the caller. */
export const MAX_LOGGED_TEXT = 256;

/**
 * Caps a caller-supplied value for a log line: at most `max` UTF-16 units, with the original length noted
 * when it was cut, so one request cannot write a line of any size.
 */
export function capText(value: string, max = MAX_LOGGED_TEXT): string {
  return value.length <= max ? value : `${value.slice(0, max)}…(${value.length} chars)`;
}

/** Decides, request by request, whether an access line is written (sampling counts successes only). */
export function accessLogFilter(mode: AccessLogMode): (status: number) => boolean {
  if (mode.kind === "all") return () => true;
  if (mode.kind === "errors") return (status) => status >= 400;
  let seen = 0;
  return (status) => status >= 400 || seen++ % mode.every === 0;
}

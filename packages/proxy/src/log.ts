import { NOT_PLAIN } from "./text.ts";

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

/** Longest text a log line carries for any one value that came from the caller, in bytes of the JSON line. */
export const MAX_LOGGED_TEXT = 256;

const UNSAFE = new RegExp(NOT_PLAIN.source, "g");

/**
 * Makes a caller-supplied value safe and small for a log line: control characters and lone surrogates are
 * shown as `\uXXXX` text, and the result is cut to at most `max` bytes as the JSON line writes it (UTF-8,
 * escapes counted), with the original length noted when it was cut: one request cannot write a line of any size.
 */
export function capText(value: string, max = MAX_LOGGED_TEXT): string {
  UNSAFE.lastIndex = 0;
  const s = UNSAFE.test(value) ? value.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : value;
  let bytes = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    // JSON: `"` and `\` are escaped (2 bytes); UTF-8: 1 to 3 bytes per unit, 4 for a surrogate pair.
    const pair = c >= 0xd800 && c <= 0xdbff;
    const cost = c === 0x22 || c === 0x5c ? 2 : c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (bytes + cost > max) break;
    bytes += cost;
    i += pair ? 2 : 1;
  }
  return i >= s.length ? s : `${s.slice(0, i)}…(${value.length} chars)`;
}

/** Decides, request by request, whether an access line is written (sampling counts successes only). */
export function accessLogFilter(mode: AccessLogMode): (status: number) => boolean {
  if (mode.kind === "all") return () => true;
  if (mode.kind === "errors") return (status) => status >= 400;
  let seen = 0;
  return (status) => status >= 400 || seen++ % mode.every === 0;
}

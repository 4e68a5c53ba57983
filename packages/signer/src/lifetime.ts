import { SignerError } from "./errors.ts";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Parses a lifetime given as whole seconds or as "90s" / "5m" / "1h" into seconds. */
export function parseLifetime(value: number | string): number {
  let seconds: number;
  if (typeof value === "number") {
    seconds = value;
  } else if (typeof value === "string") {
    const m = /^\s*(\d+)\s*(s|m|h)?\s*$/.exec(value);
    if (!m) throw new SignerError("lifetime_invalid", `lifetime "${value}" is not like 60, "60s", "5m" or "1h"`);
    seconds = Number(m[1]) * (UNIT_SECONDS[m[2] ?? "s"] ?? 1);
  } else {
    throw new SignerError("lifetime_invalid", 'lifetime must be a number of seconds or a string like "60s"');
  }
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new SignerError("lifetime_invalid", "lifetime must be a positive whole number of seconds");
  }
  return seconds;
}

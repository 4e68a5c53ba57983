// The detached stack's log file: kept across restarts and rotated by size.
import { copyFileSync, statSync, truncateSync } from "node:fs";

/** Past this size the log is copied to stack.log.1 (replacing the previous one) and emptied: checked at start and every 30 s. */
export const LOG_MAX_BYTES = 10 * 1024 * 1024;

/**
 * Rotates a log by size, copy-then-truncate: the running stack keeps writing to the same file (opened for appending,
 * so its next line lands at the new end). Returns true when it rotated.
 */
export function rotateLog(file: string, maxBytes = LOG_MAX_BYTES): boolean {
  try {
    if (statSync(file).size <= maxBytes) return false;
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    return true;
  } catch {
    return false; // no log yet, or it cannot be rotated: keep writing
  }
}

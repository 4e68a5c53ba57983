// How a workload identity token is told from a writer token: its `iss` is a URL, a writer's is a bare name.

import { isPlainText } from "./text.ts";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** Longest issuer URL considered at all (a token's unverified `iss`). */
export const MAX_ISSUER_URL_LENGTH = 512;

/**
 * True when an (unverified) `iss` has the shape of a URL issuer: https, or http on a loopback host, at most
 * 512 characters, no query or fragment. Writer names (`^[a-z0-9][a-z0-9._-]{0,62}$`) never have it.
 */
export function isUrlIssuerShape(iss: unknown): iss is string {
  if (typeof iss !== "string" || iss.length > MAX_ISSUER_URL_LENGTH || !/^https?:\/\//.test(iss)) return false;
  // No query, fragment, space, control character or lone surrogate (the URL parser would drop tabs and
  // newlines silently, and the iss is logged).
  if (iss.includes("?") || iss.includes("#") || iss.includes(" ") || !isPlainText(iss)) return false;
  try {
    const u = new URL(iss);
    return u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname));
  } catch {
    return false;
  }
}

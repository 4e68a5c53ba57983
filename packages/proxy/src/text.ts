// Strings a caller controls that the gateway forwards or records (kid, sub, jti, writer claims) must be plain
// text: Postgres refuses NUL (22P05), a lone surrogate is not UTF-8, and control characters forge log lines.

/** C0 and C1 control characters (with DEL), and UTF-16 surrogates not part of a pair. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
export const NOT_PLAIN = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when `s` has no control character and no lone surrogate. */
export function isPlainText(s: string): boolean {
  return !NOT_PLAIN.test(s);
}

/** True when every string in a JSON value (object keys included, at any depth) is plain text. */
export function isPlainJson(value: unknown): boolean {
  if (typeof value === "string") return isPlainText(value);
  if (value === null || typeof value !== "object") return true;
  if (Array.isArray(value)) return value.every(isPlainJson);
  for (const [k, v] of Object.entries(value)) if (!isPlainText(k) || !isPlainJson(v)) return false;
  return true;
}

import { ProxyError } from "./errors.ts";

/** Where a request goes upstream: `${SUPABASE_URL}/rest/v1/${path}${query}`. */
export interface Target {
  /** `<table>` or `rpc/<function>`. */
  path: string;
  /** The raw query string with its `?`, byte for byte as received (or ""). */
  query: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** First segments that name other Supabase services or API roots, refused outright. */
const RESERVED = new Set(["auth", "storage", "realtime", "functions", "graphql", "graphql_public", "rest", "v1", "pg", "admin"]);

/**
 * Maps a request URL to the PostgREST path it may reach. Accepts `/<fn>/<table>`, `/<fn>/rpc/<name>` and
 * the supabase-js form `/<fn>/rest/v1/…` (also behind `/functions/v1`). Anything else — traversal in any
 * encoding, empty or extra segments, other services — is refused.
 */
export function resolveTarget(url: string, functionName: string): Target {
  const q = url.indexOf("?");
  const hashless = url.split("#")[0]!;
  const rawQuery = q >= 0 ? hashless.slice(q) : "";
  const beforeQuery = q >= 0 ? url.slice(0, q) : hashless;
  const schemeEnd = beforeQuery.indexOf("://");
  const pathStart = schemeEnd >= 0 ? beforeQuery.indexOf("/", schemeEnd + 3) : 0;
  const rawPath = pathStart >= 0 ? beforeQuery.slice(pathStart) : "/";
  const deny = (details: string): never => {
    throw new ProxyError("path_not_allowed", details);
  };

  if (/%(2e|2f|5c|00)|\\|\/\/|(^|\/)\.{1,2}(\/|$)/i.test(rawPath)) deny("the path contains a traversal or encoded separator");
  if (/%/.test(rawPath)) deny("the path contains percent-encoding");

  const segments = rawPath.split("/").slice(1);
  let i = 0;
  if (segments[0] === "functions" && segments[1] === "v1") i = 2;
  if (segments[i] !== functionName) deny("not this function's path");
  i++;
  if (segments[i] === "rest" && segments[i + 1] === "v1") i += 2;
  const rest = segments.slice(i);
  if (rest.length === 0 || rest[0] === "") deny("no table or rpc named");
  if (RESERVED.has(rest[0]!)) deny(`"${rest[0]}" is not a table`);
  if (rest.length === 1 && rest[0] !== "rpc" && NAME.test(rest[0]!)) return { path: rest[0]!, query: rawQuery };
  if (rest.length === 2 && rest[0] === "rpc" && NAME.test(rest[1]!)) return { path: `rpc/${rest[1]}`, query: rawQuery };
  return deny("only <table> and rpc/<function> are served");
}

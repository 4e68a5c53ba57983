// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. Request parsing: path, schema profile, Prefer,
// Accept, Range and body. Whatever the stand-in does not implement is refused here with a 4xx naming it.
import type { IncomingMessage } from "node:http";
import { PgrstError } from "./errors.ts";

/** The `Prefer` header's tokens that the stand-in honours. */
export interface Prefer {
  return?: "representation" | "minimal" | "headers-only";
  count?: "exact" | "planned" | "estimated";
  resolution?: "merge-duplicates" | "ignore-duplicates";
  tx?: "commit" | "rollback";
  missing?: "default" | "null";
  handling?: "strict" | "lenient";
  maxAffected?: number;
}

export type Media =
  | { kind: "json"; stripNulls: boolean }
  | { kind: "object"; stripNulls: boolean }
  | { kind: "csv" }
  | { kind: "plan"; format: "json" | "text"; for: "json" | "object" | "csv"; options: string[] };

export interface ApiRequest {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  target: { kind: "table" | "rpc"; name: string };
  schema: string;
  /** The path as received (for request.path). */
  path: string;
  search: URLSearchParams;
  prefer: Prefer;
  media: Media;
  /** The Range header: rows first..last (last null: to the end). */
  range: { first: number; last: number | null } | null;
  /** Parsed JSON body (undefined when empty). */
  body: unknown;
  /** Content-Type is JSON (or absent). */
  jsonBody: boolean;
}

/** A feature the stand-in does not implement: 400 with PostgREST's "not implemented" code (PGRST127), naming it. */
export function unsupported(feature: string, detail: string | null = null): PgrstError {
  return new PgrstError(
    400,
    "PGRST127",
    `${feature} is not supported by the local PostgREST stand-in`,
    detail,
    "Run against real PostgREST (supabase start) for this feature.",
  );
}

const PREFER_VALUES: Record<string, string[]> = {
  return: ["representation", "minimal", "headers-only"],
  count: ["exact", "planned", "estimated"],
  resolution: ["merge-duplicates", "ignore-duplicates"],
  tx: ["commit", "rollback"],
  missing: ["default", "null"],
  handling: ["strict", "lenient"],
};

/** Parses Prefer; an unknown or unsupported preference is refused (PGRST122), never ignored. */
export function parsePrefer(header: string | null): Prefer {
  const out: Prefer = {};
  const bad: string[] = [];
  for (const raw of (header ?? "").split(",")) {
    const token = raw.trim();
    if (token === "") continue;
    const eq = token.indexOf("=");
    const k = eq < 0 ? token : token.slice(0, eq).trim();
    const v = eq < 0 ? "" : token.slice(eq + 1).trim();
    // As PostgREST (its Preferences module): a preference given more than once takes its first value.
    if (k === "max-affected" && /^\d+$/.test(v)) out.maxAffected ??= Number(v);
    else if (PREFER_VALUES[k]?.includes(v)) (out as Record<string, string>)[k] ??= v;
    else bad.push(token);
  }
  if (bad.length) {
    throw new PgrstError(
      400,
      "PGRST122",
      "Invalid preferences given with handling=strict",
      `Invalid preferences: ${bad.join(", ")}`,
      "The local PostgREST stand-in refuses preferences it does not implement rather than ignore them.",
    );
  }
  if (out.return === "headers-only") throw unsupported("Prefer: return=headers-only");
  return out;
}

const PRODUCED =
  "The local PostgREST stand-in produces application/json, application/vnd.pgrst.object+json, application/vnd.pgrst.array+json;nulls=stripped, text/csv and application/vnd.pgrst.plan.";

/** A media type that PostgREST would answer with but the stand-in cannot: refused, never replaced by another. */
function notProduced(type: string, why: string): PgrstError {
  return new PgrstError(406, "PGRST107", `None of these media types are available: ${type}`, why, PRODUCED);
}

/** One media range of Accept, split into its type and parameters (names lower-cased, quotes removed). */
function decodeMediaType(text: string): { type: string; params: Map<string, string> } {
  const parts = text.split(/;(?=(?:[^"]*"[^"]*")*[^"]*$)/);
  const params = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const i = p.indexOf("=");
    if (i > 0) params.set(p.slice(0, i).toLowerCase(), p.slice(i + 1).replace(/^"(.*)"$/, "$1"));
  }
  return { type: (parts[0] ?? "").toLowerCase(), params };
}

/**
 * What PostgREST would answer for one accepted media type, as its MediaType and Negotiate modules decide:
 * a Media the stand-in produces, null when PostgREST has no handler for it either (the next type is tried),
 * or a thrown 406 when PostgREST would answer with it and the stand-in cannot.
 */
function mediaOf(type: string, params: Map<string, string>): Media | null {
  const strip = params.get("nulls") === "stripped";
  switch (type) {
    case "*/*":
    case "application/json":
      return { kind: "json", stripNulls: false };
    case "application/vnd.pgrst.array+json":
    case "application/vnd.pgrst.array":
      return { kind: "json", stripNulls: strip };
    case "application/vnd.pgrst.object+json":
    case "application/vnd.pgrst.object":
      return { kind: "object", stripNulls: strip };
    case "text/csv":
      return { kind: "csv" };
    case "application/geo+json":
      throw notProduced(type, "PostgREST answers GeoJSON (from PostGIS columns); the stand-in does not.");
    case "application/vnd.pgrst.plan":
    case "application/vnd.pgrst.plan+json":
    case "application/vnd.pgrst.plan+text": {
      const forText = params.get("for") ?? "application/json";
      const inner = decodeMediaType(forText);
      const forMedia =
        inner.type === "application/vnd.pgrst.plan" || inner.type.startsWith("application/vnd.pgrst.plan+")
          ? null
          : mediaOf(inner.type, inner.params);
      if (forMedia === null || forMedia.kind === "plan") throw notProduced(type, `An execution plan for ${forText} is not implemented.`);
      const options = (params.get("options") ?? "").split("|").filter(Boolean);
      const unknown = options.filter((o) => !["analyze", "verbose", "settings", "buffers", "wal"].includes(o));
      // PostgREST drops options it does not know; the stand-in says so instead.
      if (unknown.length) throw notProduced(type, `Unknown plan options: ${unknown.join(", ")}`);
      return {
        kind: "plan",
        format: type.endsWith("+text") || type === "application/vnd.pgrst.plan" ? "text" : "json",
        for: forMedia.kind,
        options,
      };
    }
    default:
      return null;
  }
}

/** Haskell's `reads` of a Double prefix (how PostgREST's Accept parser reads q); anything else counts as 1. */
function readQ(text: string): number {
  const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(text);
  return m ? Number(m[0]) : 1;
}

/**
 * Content negotiation on Accept, as PostgREST does it (wai-extra's parseHttpAccept, then its Negotiate
 * module): the header split at every comma with spaces removed, ordered by q and then by specificity
 * (parameters minus wildcards), stably; the first type with a handler wins. Like PostgREST, a q of 0 only
 * orders a type last, it does not exclude it. 406 PGRST107 when nothing acceptable has a handler.
 */
export function negotiate(accept: string | undefined): Media {
  if (accept === undefined) return { kind: "json", stripNulls: false };
  const offered = (accept === "" ? [] : accept.split(","))
    .map((part, i) => {
      const compact = part.replace(/ /g, "");
      const at = compact.indexOf(";q=");
      const text = at < 0 ? compact : compact.slice(0, at);
      const q = at < 0 ? 1 : readQ(compact.slice(at + 3).split(";")[0]!);
      const specificity = (text.match(/;/g)?.length ?? 0) - (text.match(/\*/g)?.length ?? 0);
      return { text, q, specificity, i };
    })
    .sort((a, b) => b.q - a.q || b.specificity - a.specificity || a.i - b.i);
  for (const o of offered) {
    const { type, params } = decodeMediaType(o.text);
    const m = mediaOf(type, params);
    if (m) return m;
  }
  throw new PgrstError(
    406,
    "PGRST107",
    `None of these media types are available: ${offered.map((o) => o.text).join(", ")}`,
    null,
    PRODUCED,
  );
}

/**
 * The Range header as PostgREST reads it: `<first>-[<last>]`, rows counted from 0. PostgREST ignores a header
 * of any other form (`items=0-9` included); the stand-in refuses it. An empty range (last < first) is judged
 * with the query's limit and offset (see handler.ts), as PostgREST does.
 */
function range(header: string | undefined): ApiRequest["range"] {
  if (header === undefined) return null;
  const m = /^(\d+)-(\d*)$/.exec(header);
  const first = m ? Number(m[1]) : Number.NaN;
  const last = m && m[2] !== "" ? Number(m[2]) : null;
  if (!m || !Number.isSafeInteger(first) || (last !== null && !Number.isSafeInteger(last))) {
    throw unsupported(
      `The Range header "${header}"`,
      "PostgREST ignores a Range header that is not <first>-[<last>] (such as items=0-9); send it as 0-9.",
    );
  }
  return { first, last };
}

/** Reads the body, at most `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new PgrstError(413, "PGRST102", "Request body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Parses an HTTP request into what PostgREST calls an ApiRequest. */
export async function parseRequest(req: IncomingMessage, schemas: string[], maxBody: number): Promise<ApiRequest> {
  const url = new URL(req.url ?? "/", "http://stand-in");
  const method = req.method ?? "GET";
  if (!["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].includes(method)) {
    if (method === "OPTIONS") throw unsupported(`${method} requests`);
    throw new PgrstError(405, "PGRST117", `Unsupported HTTP method: ${method}`);
  }
  const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  let target: ApiRequest["target"];
  if (segments.length === 2 && segments[0] === "rpc") target = { kind: "rpc", name: segments[1]! };
  else if (segments.length === 1) target = { kind: "table", name: segments[0]! };
  else if (segments.length === 0) throw unsupported("The OpenAPI root endpoint");
  else throw new PgrstError(404, "PGRST125", "Invalid path specified in request URL");
  const write = method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE";
  const profile = (write ? req.headers["content-profile"] : req.headers["accept-profile"]) as string | undefined;
  const schema = profile ?? schemas[0]!;
  if (!schemas.includes(schema)) throw new PgrstError(406, "PGRST106", `The schema must be one of the following: ${schemas.join(", ")}`);
  const prefer = parsePrefer((req.headers.prefer as string | undefined) ?? null);
  const media = negotiate(req.headers.accept);
  const contentType = ((req.headers["content-type"] as string | undefined) ?? "application/json").split(";")[0]!.trim().toLowerCase();
  const jsonBody = contentType === "application/json" || contentType === "";
  let body: unknown;
  if (method === "POST" || method === "PUT" || method === "PATCH") {
    const text = await readBody(req, maxBody);
    if (!jsonBody) throw unsupported(`Content-Type: ${contentType}`, "The stand-in reads JSON bodies only.");
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        throw new PgrstError(400, "PGRST102", "Empty or invalid json");
      }
    }
  }
  return {
    method: method as ApiRequest["method"],
    target,
    schema,
    path: url.pathname,
    search: url.searchParams,
    prefer,
    media,
    range: range(req.headers.range as string | undefined),
    body,
    jsonBody,
  };
}

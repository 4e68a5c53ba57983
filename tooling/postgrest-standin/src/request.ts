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
  method: "GET" | "HEAD" | "POST" | "PATCH" | "DELETE";
  target: { kind: "table" | "rpc"; name: string };
  schema: string;
  /** The path as received (for request.path). */
  path: string;
  search: URLSearchParams;
  prefer: Prefer;
  media: Media;
  range: { offset: number; limit: number | null } | null;
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
    if (k === "max-affected" && /^\d+$/.test(v)) out.maxAffected = Number(v);
    else if (PREFER_VALUES[k]?.includes(v)) (out as Record<string, string>)[k] = v;
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

function mediaOf(type: string, params: Map<string, string>): Media | null {
  const strip = params.get("nulls") === "stripped";
  if (params.has("nulls") && !strip) return null;
  switch (type) {
    case "*/*":
    case "application/*":
    case "application/json":
      return strip ? null : { kind: "json", stripNulls: false };
    case "application/vnd.pgrst.array+json":
    case "application/vnd.pgrst.array":
      return { kind: "json", stripNulls: strip };
    case "application/vnd.pgrst.object+json":
    case "application/vnd.pgrst.object":
      return { kind: "object", stripNulls: strip };
    case "text/csv":
      return strip ? null : { kind: "csv" };
    case "application/vnd.pgrst.plan":
    case "application/vnd.pgrst.plan+json":
    case "application/vnd.pgrst.plan+text": {
      const forType = (params.get("for") ?? "application/json").replace(/^"|"$/g, "");
      const inner =
        forType === "text/csv"
          ? "csv"
          : forType === "application/vnd.pgrst.object+json"
            ? "object"
            : forType === "application/json"
              ? "json"
              : null;
      if (inner === null) return null;
      const options = (params.get("options") ?? "").split("|").filter(Boolean);
      if (!options.every((o) => ["analyze", "verbose", "settings", "buffers", "wal"].includes(o))) return null;
      return { kind: "plan", format: type.endsWith("+text") ? "text" : "json", for: inner, options };
    }
    default:
      return null;
  }
}

/** Content negotiation on Accept; 406 PGRST107 when nothing the stand-in produces is acceptable. */
export function negotiate(accept: string | undefined): Media {
  if (!accept || accept.trim() === "") return { kind: "json", stripNulls: false };
  const offered: Array<{ type: string; q: number; params: Map<string, string> }> = [];
  for (const part of accept.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const [type, ...ps] = part.split(";").map((s) => s.trim());
    const params = new Map<string, string>();
    for (const p of ps) {
      const i = p.indexOf("=");
      if (i > 0) params.set(p.slice(0, i).trim().toLowerCase(), p.slice(i + 1).trim());
    }
    const q = params.has("q") ? Number(params.get("q")) : 1;
    params.delete("q");
    offered.push({ type: (type ?? "").toLowerCase(), q, params });
  }
  for (const o of offered.sort((a, b) => b.q - a.q)) {
    const m = mediaOf(o.type, o.params);
    if (m) return m;
  }
  throw new PgrstError(
    406,
    "PGRST107",
    `None of these media types are available: ${accept}`,
    null,
    "The local PostgREST stand-in produces application/json, application/vnd.pgrst.object+json, application/vnd.pgrst.array+json;nulls=stripped, text/csv and application/vnd.pgrst.plan.",
  );
}

function range(header: string | undefined): ApiRequest["range"] {
  if (!header) return null;
  const m = /^(?:items=)?(\d+)-(\d*)$/.exec(header.trim());
  if (!m) throw new PgrstError(416, "PGRST103", "Requested range not satisfiable");
  const offset = Number(m[1]);
  const limit = m[2] === "" ? null : Number(m[2]) - offset + 1;
  if (limit !== null && limit < 0) throw new PgrstError(416, "PGRST103", "Requested range not satisfiable");
  return { offset, limit };
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
  if (!["GET", "HEAD", "POST", "PATCH", "DELETE"].includes(method)) {
    if (method === "PUT" || method === "OPTIONS") throw unsupported(`${method} requests`);
    throw new PgrstError(405, "PGRST117", `Unsupported HTTP method: ${method}`);
  }
  const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  let target: ApiRequest["target"];
  if (segments.length === 2 && segments[0] === "rpc") target = { kind: "rpc", name: segments[1]! };
  else if (segments.length === 1) target = { kind: "table", name: segments[0]! };
  else if (segments.length === 0) throw unsupported("The OpenAPI root endpoint");
  else throw new PgrstError(404, "PGRST125", "Invalid path specified in request URL");
  const write = method === "POST" || method === "PATCH" || method === "DELETE";
  const profile = (write ? req.headers["content-profile"] : req.headers["accept-profile"]) as string | undefined;
  const schema = profile ?? schemas[0]!;
  if (!schemas.includes(schema)) throw new PgrstError(406, "PGRST106", `The schema must be one of the following: ${schemas.join(", ")}`);
  const prefer = parsePrefer((req.headers.prefer as string | undefined) ?? null);
  const media = negotiate(req.headers.accept);
  const contentType = ((req.headers["content-type"] as string | undefined) ?? "application/json").split(";")[0]!.trim().toLowerCase();
  const jsonBody = contentType === "application/json" || contentType === "";
  let body: unknown;
  if (method === "POST" || method === "PATCH") {
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

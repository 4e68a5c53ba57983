// PostgREST stand-in — LOCAL DEVELOPMENT AND TESTS ONLY. The response: status (200/201/204/206 as
// PostgREST's Response and RangeQuery modules decide), Content-Range, Preference-Applied, and the body
// in the negotiated media type (JSON array or object, stripped nulls, CSV, execution plan).
import type { ServerResponse } from "node:http";
import { PgrstError } from "./errors.ts";
import type { ApiRequest } from "./request.ts";

/** What executing a request produced. */
export interface Outcome {
  kind: "read" | "insert" | "put" | "update" | "delete" | "call";
  /** JSON (array, or a single value for `single`), CSV or plan text; null: nothing to send. */
  body: string | null;
  n: number;
  total: number | null;
  offset: number;
  inserted: number;
  /** A function returning one value or row (not SETOF): the body is that value. */
  single: boolean;
  void: boolean;
}

function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== null)
        .map(([k, x]) => [k, stripNulls(x)]),
    );
  }
  return v;
}

function contentType(api: ApiRequest): string {
  const m = api.media;
  if (m.kind === "csv") return "text/csv; charset=utf-8";
  if (m.kind === "plan") {
    const forType = m.for === "csv" ? "text/csv" : m.for === "object" ? "application/vnd.pgrst.object+json" : "application/json";
    return `application/vnd.pgrst.plan+${m.format}; for="${forType}"; charset=utf-8`;
  }
  if (m.kind === "object") return `application/vnd.pgrst.object+json${m.stripNulls ? ";nulls=stripped" : ""}; charset=utf-8`;
  return m.stripNulls ? "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8" : "application/json; charset=utf-8";
}

/** Writes the HTTP response for an outcome. */
export function respond(res: ServerResponse, api: ApiRequest, o: Outcome): void {
  const p = api.prefer;
  const headers: Record<string, string> = {};
  // Preference-Applied as PostgREST's responsePreferences builds it: only what the request kind applies, in its order.
  const write = o.kind === "insert" || o.kind === "put" || o.kind === "update" || o.kind === "delete";
  const applied = [
    o.kind === "insert" && p.resolution ? `resolution=${p.resolution}` : null,
    (o.kind === "insert" || o.kind === "update") && p.missing ? `missing=${p.missing}` : null,
    write && p.return ? `return=${p.return}` : null,
    p.count ? `count=${p.count}` : null,
    p.tx ? `tx=${p.tx}` : null,
    p.handling ? `handling=${p.handling}` : null,
    (o.kind === "update" || o.kind === "delete" || o.kind === "call") && p.handling === "strict" && p.maxAffected !== undefined
      ? `max-affected=${p.maxAffected}`
      : null,
  ].filter((x) => x !== null);
  if (applied.length) headers["preference-applied"] = applied.join(", ");

  let status = 200;
  let body = o.body;
  const t = o.total === null ? "*" : String(o.total);
  if (o.kind === "read" || o.kind === "call") {
    headers["content-range"] = o.n === 0 ? `*/${t}` : `${o.offset}-${o.offset + o.n - 1}/${t}`;
    if (o.total !== null && o.offset > o.total && !o.void) {
      throw new PgrstError(
        416,
        "PGRST103",
        "Requested range not satisfiable",
        `An offset of ${o.offset} was requested, but there are only ${o.total} rows.`,
      );
    }
    if (o.total !== null && o.n < o.total) status = 206;
    if (o.void) {
      status = 204;
      body = null;
    }
  } else if (o.kind === "put") {
    // As PostgREST's single upsert: no Content-Range; 201 when the row was inserted, 200 when replaced.
    status = p.return === "representation" ? (o.inserted > 0 ? 201 : 200) : 204;
    if (p.return !== "representation") body = null;
  } else if (o.kind === "insert") {
    headers["content-range"] = `*/${p.count ? o.n : "*"}`;
    status = o.inserted > 0 || o.n === 0 ? 201 : 200;
    if (p.return !== "representation") body = null;
  } else {
    // As PostgREST: an update gives the rows it touched as a range, a delete only their number.
    const range = o.kind === "update" && o.n > 0 ? `0-${o.n - 1}` : "*";
    headers["content-range"] = `${range}/${p.count ? o.n : "*"}`;
    if (p.return !== "representation") {
      status = 204;
      body = null;
    }
  }

  if (body !== null && api.media.kind !== "csv" && api.media.kind !== "plan") {
    let value: unknown = JSON.parse(body);
    if (api.media.kind === "object" && !o.single) {
      const list = value as unknown[];
      // The row count was checked inside the transaction (handler.ts, failNotSingular), before any commit.
      if (list.length !== 1) {
        throw new PgrstError(
          500,
          "PGRSTX00",
          "Internal error in the local PostgREST stand-in",
          "A single object was checked but not found",
        );
      }
      value = list[0];
    }
    if (api.media.stripNulls) value = stripNulls(value);
    body = JSON.stringify(value);
  }
  if (body !== null) headers["content-type"] = contentType(api);
  res.writeHead(status, headers);
  res.end(api.method === "HEAD" ? undefined : (body ?? undefined));
}

import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { jwtVerify } from "jose";
import { jwtForApiKey, LOCAL_ANON_KEY, LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, LOCAL_SERVICE_ROLE_KEY } from "@fedjwt/local-db";

/** What the gateway routes to. */
export interface GatewayRoutes {
  /** The PostgREST (stand-in) base URL, served at /rest/v1. */
  rest: string;
  /** Functions by name: base URL and whether the gateway verifies the JWT (config.toml verify_jwt). */
  functions: Map<string, { url: string; verifyJwt: boolean }>;
}

export interface GatewayOptions {
  port: number;
  host?: string;
  jwtSecret: string;
  routes: GatewayRoutes;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"]);

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

function forward(req: IncomingMessage, res: ServerResponse, target: string, headers: Record<string, string | string[] | undefined>): void {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  const upstream = httpRequest(target, { method: req.method, headers: out }, (up) => {
    const back: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) back[k] = v;
    res.writeHead(up.statusCode ?? 502, back);
    up.pipe(res);
  });
  upstream.on("error", () => {
    if (!res.headersSent) json(res, 502, { message: "An invalid response was received from the upstream server" });
    else res.destroy();
  });
  req.pipe(upstream);
}

/** A request header's one value (several → joined with ", ", as Kong reads them). */
function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** A query parameter's name as URLSearchParams reads it (percent-decoded, `+` a space), so `ap%69key` is `apikey`. */
function paramName(param: string): string | undefined {
  return new URLSearchParams(param).keys().next().value;
}

/**
 * `{{ .BearerToken }}` of the pinned Supabase CLI's Kong template (CLI 3.1.0): the caller's Authorization unless
 * it is missing or carries an API key (`Bearer sb_…`, not a JWT); else `Bearer <JWT>` for the secret key
 * (service_role) or the publishable key (anon) in the `apikey` header; else the `apikey` header as it is
 * (undefined without one). The `apikey` alone decides: a key in Authorization never raises the role.
 */
export function kongBearerToken(authorization: string | undefined, apikey: string | undefined): string | undefined {
  if (authorization !== undefined && !authorization.startsWith("Bearer sb_")) return authorization;
  if (apikey === LOCAL_SECRET_KEY) return `Bearer ${LOCAL_SERVICE_ROLE_KEY}`;
  if (apikey === LOCAL_PUBLISHABLE_KEY) return `Bearer ${LOCAL_ANON_KEY}`;
  return apikey;
}

/**
 * The headers Kong sends upstream on the two routes the project uses, as the template's request-transformer
 * (add + replace of one header) says: on /rest/v1 `Authorization` becomes the BearerToken; on /functions/v1
 * `Authorization` stays as sent and `sb-api-key` becomes the BearerToken. A header whose value is undefined is absent.
 */
export function kongHeaders(
  route: "rest" | "functions",
  headers: { authorization?: string | undefined; apikey?: string | undefined },
): { authorization: string | undefined; "sb-api-key"?: string | undefined } {
  const bearer = kongBearerToken(headers.authorization, headers.apikey);
  return route === "rest" ? { authorization: bearer } : { authorization: headers.authorization, "sb-api-key": bearer };
}

/**
 * The token the Edge Runtime checks when a function has verify_jwt = true (its main worker, CLI 3.1.0): the
 * Authorization's `Bearer <token>` unless missing or an API key (`sb_…`), else Kong's `sb-api-key` without "Bearer".
 */
export function edgeRuntimeToken(authorization: string | undefined, sbApiKey: string | undefined): string | undefined {
  const parts = (authorization ?? "").split(" ");
  const bearer = parts[0] === "Bearer" && parts.length === 2 ? parts[1] : undefined;
  const token = !bearer || bearer.startsWith("sb_") ? sbApiKey?.replace("Bearer", "").trim() : bearer;
  return token || undefined;
}

/**
 * The local API gateway, routed like Supabase's: /rest/v1/* needs a valid `apikey` (header or query
 * parameter, as the hosted gateway does) and goes to PostgREST; /functions/v1/<name>/* goes to the function,
 * with the token the Edge Runtime would check verified first when the function's verify_jwt is true.
 * Headers follow kongHeaders; `sb-api-key` is not passed to the function (the Edge Runtime removes it too).
 */
export async function startGateway(options: GatewayOptions): Promise<{ url: string; close(): Promise<void> }> {
  const secret = new TextEncoder().encode(options.jwtSecret);
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://gateway");
      const headers = { ...req.headers };
      if (url.pathname.startsWith("/rest/v1/") || url.pathname === "/rest/v1") {
        const apikey = (req.headers.apikey as string | undefined) ?? url.searchParams.get("apikey") ?? undefined;
        if (!apikey)
          return json(res, 401, { message: "No API key found in request", hint: "No `apikey` request header or url param was found." });
        const jwt = jwtForApiKey(apikey);
        if (!jwt)
          return json(res, 401, { message: "Invalid API key", hint: "Double check your Supabase `anon` or `service_role` API key." });
        const authorization = kongHeaders("rest", {
          authorization: req.headers.authorization,
          apikey: header(req, "apikey"),
        }).authorization;
        if (authorization === undefined) delete headers.authorization;
        else headers.authorization = authorization;
        const rest = url.pathname.slice("/rest/v1".length) || "/";
        // As the hosted gateway does: the apikey parameter is not passed upstream.
        const query = url.search
          .slice(1)
          .split("&")
          .filter((p) => p && paramName(p) !== "apikey")
          .join("&");
        return forward(req, res, `${options.routes.rest}${rest}${query ? `?${query}` : ""}`, headers);
      }
      const fm = /^\/functions\/v1\/([^/]+)(\/.*)?$/.exec(url.pathname);
      if (fm) {
        const fn = options.routes.functions.get(fm[1]!);
        if (!fn) return json(res, 404, { code: "NOT_FOUND", message: "Requested function was not found" });
        const kong = kongHeaders("functions", { authorization: req.headers.authorization, apikey: header(req, "apikey") });
        delete headers["sb-api-key"];
        if (fn.verifyJwt) {
          const token = edgeRuntimeToken(kong.authorization, kong["sb-api-key"]);
          const valid = token
            ? await jwtVerify(token, secret, { algorithms: ["HS256"] }).then(
                () => true,
                () => false,
              )
            : false;
          if (!valid) return json(res, 401, { code: "UNAUTHORIZED_INVALID_JWT_FORMAT", message: "Invalid JWT" });
        }
        // The Edge Runtime hands the function its path without the /functions/v1 prefix.
        return forward(req, res, `${fn.url}/${fm[1]}${fm[2] ?? ""}${url.search}`, headers);
      }
      json(res, 404, { message: "no Route matched with those values" });
    })().catch(() => {
      if (!res.headersSent) json(res, 500, { message: "gateway error" });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

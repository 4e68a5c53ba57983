import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { jwtVerify } from "jose";
import { jwtForApiKey } from "@fedjwt/local-db";

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

/** A query parameter's name as URLSearchParams reads it (percent-decoded, `+` a space), so `ap%69key` is `apikey`. */
function paramName(param: string): string | undefined {
  return new URLSearchParams(param).keys().next().value;
}

/**
 * The Authorization header Supabase's gateway sends upstream (its Kong request-transformer rule, on /rest/v1 and
 * /functions/v1 alike): the caller's own, unless it is missing or carries an API key (`Bearer sb_…`, not a JWT);
 * then `Bearer <the JWT the apikey stands for>` — anon for the publishable key, service_role for the secret key.
 * The `apikey` alone decides which: a key in Authorization never raises the role. Unknown apikey: unchanged.
 */
export function upstreamAuthorization(authorization: string | undefined, apikey: string | undefined): string | undefined {
  if (authorization !== undefined && !authorization.startsWith("Bearer sb_")) return authorization;
  const jwt = apikey === undefined ? undefined : jwtForApiKey(apikey);
  return jwt ? `Bearer ${jwt}` : authorization;
}

/**
 * The local API gateway, routed like Supabase's: /rest/v1/* needs a valid `apikey` (header or query
 * parameter) and goes to PostgREST; /functions/v1/<name>/* goes to the function, with the caller's JWT
 * verified first when the function's verify_jwt is true (an API key in Authorization is no JWT: 401).
 * Either way Authorization is then set as upstreamAuthorization says.
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
        headers.authorization = upstreamAuthorization(req.headers.authorization, apikey);
        const rest = url.pathname.slice("/rest/v1".length) || "/";
        // Like Kong's key-auth with hide_credentials: the apikey parameter is not passed upstream.
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
        if (fn.verifyJwt) {
          const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
          const valid = token
            ? await jwtVerify(token, secret, { algorithms: ["HS256"] }).then(
                () => true,
                () => false,
              )
            : false;
          if (!valid) return json(res, 401, { code: "UNAUTHORIZED_INVALID_JWT_FORMAT", message: "Invalid JWT" });
        }
        const authorization = upstreamAuthorization(req.headers.authorization, req.headers.apikey as string | undefined);
        if (authorization !== undefined) headers.authorization = authorization;
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

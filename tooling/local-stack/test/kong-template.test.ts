// The gateway against the pinned Supabase CLI itself: the Kong template (kong.yml) and the `{{ .BearerToken }}`
// expression are read out of the installed CLI binary, where they are embedded, and the Edge Runtime's
// verify_jwt token choice out of its main worker source, also embedded. Each request of a matrix goes through
// the real gateway to an echo server; what arrives must be what Kong (then the Edge Runtime) would send.
// A CLI upgrade that changes any of these rules fails here.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { dirname, join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { LOCAL_ANON_KEY, LOCAL_JWT_SECRET, LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, LOCAL_SERVICE_ROLE_KEY } from "@fedjwt/local-db";
import { startGateway } from "../src/gateway.ts";

/** The platform binary the `supabase` npm package runs (its own shim picks it the same way). */
function cliBinary(): string {
  const shim = createRequire(import.meta.url).resolve("supabase/package.json");
  const suffixes: Record<string, string[]> = {
    "linux-x64": ["linux-x64", "linux-x64-musl"],
    "linux-arm64": ["linux-arm64", "linux-arm64-musl"],
    "darwin-x64": ["darwin-x64"],
    "darwin-arm64": ["darwin-arm64"],
    "win32-x64": ["windows-x64"],
    "win32-arm64": ["windows-arm64"],
  };
  for (const suffix of suffixes[`${platform()}-${arch()}`] ?? []) {
    try {
      const pkg = createRequire(shim).resolve(`@supabase/cli-${suffix}/package.json`);
      return join(dirname(pkg), "bin", platform() === "win32" ? "supabase.exe" : "supabase");
    } catch {
      // not installed for this variant
    }
  }
  throw new Error(`no Supabase CLI binary installed for ${platform()}-${arch()}`);
}

const binary = readFileSync(cliBinary()).toString("latin1");
const pinned = JSON.parse(readFileSync(createRequire(import.meta.url).resolve("supabase/package.json"), "utf8")).version as string;

/** The kong.yml template: every embedded copy, up to its end (a NUL or the closing backtick of its JS string). */
function kongTemplates(): string[] {
  const out: string[] = [];
  for (
    let i = binary.indexOf('_format_version: "1.1"\nservices:');
    i >= 0;
    i = binary.indexOf('_format_version: "1.1"\nservices:', i + 1)
  ) {
    const text = /^[^\0`]*/.exec(binary.slice(i, i + 200_000))![0];
    if (text.includes("name: functions-v1")) out.push(text);
  }
  return out;
}

interface Transformer {
  add?: { headers?: string[] };
  replace?: { headers?: string[] };
  remove?: { headers?: string[] };
  rename?: { headers?: string[] };
  append?: { headers?: string[] };
}
interface KongService {
  name: string;
  routes: Array<{ paths: string[] }>;
  plugins?: Array<{ name: string; config?: Transformer }>;
}

const templates = kongTemplates();
const services = (parse(templates[0] ?? "services: []") as { services: KongService[] }).services;
const service = (name: string) => services.find((s) => s.name === name)!;
const transformer = (name: string): Transformer => service(name).plugins?.find((p) => p.name === "request-transformer")?.config ?? {};

/** `{{ .BearerToken }}`: the function the template data's bearerToken comes from, with the local keys put in. */
function bearerTokenExpression(): string {
  const fn = /bearerToken:([\w$]+)\(/.exec(binary)?.[1];
  if (!fn) throw new Error("the CLI no longer sets bearerToken from a function");
  const body = new RegExp(`function ${fn.replace(/\$/g, "\\$")}\\((\\w)\\)\\{return\`([^\`]*)\`\\}`).exec(binary);
  if (!body) throw new Error(`function ${fn} not found in the CLI`);
  const keys: Record<string, string> = {
    secretKey: LOCAL_SECRET_KEY,
    serviceRoleKey: LOCAL_SERVICE_ROLE_KEY,
    publishableKey: LOCAL_PUBLISHABLE_KEY,
    anonKey: LOCAL_ANON_KEY,
  };
  return body[2]!.replace(/\$\{(\w)\.(\w+)\}/g, (_m, _e, name: string) => {
    if (!(name in keys)) throw new Error(`the BearerToken expression uses an unknown key: ${name}`);
    return keys[name]!;
  });
}

// A small evaluator for the Lua expressions Kong's request-transformer renders with `$(…)`: `and`, `or`,
// `==`, `~=`, `nil`, 'strings', numbers, `headers.<name>` and `:sub(i, j)`. Lua's rules: nil and false are falsy,
// `and`/`or` give one of their operands.
type LuaValue = string | number | boolean | undefined;
type Lua = () => LuaValue;
function evalLua(source: string, headers: Record<string, string | undefined>): LuaValue {
  const tokens = source.match(/'[^']*'|~=|==|[(),:]|[A-Za-z_][\w.]*|\d+|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string) => {
    const t = tokens[i++];
    if (want !== undefined && t !== want) throw new Error(`Lua: expected ${want}, got ${t} in ${source}`);
    return t!;
  };
  const truthy = (v: LuaValue) => v !== undefined && v !== false;
  // Parsed into closures, so that `and`/`or` evaluate their right side only when Lua would.
  const primary = (): Lua => {
    const t = take();
    let v: Lua;
    if (t === "(") {
      v = or();
      take(")");
    } else if (t.startsWith("'")) v = () => t.slice(1, -1);
    else if (t === "nil") v = () => undefined;
    else if (/^\d+$/.test(t)) v = () => Number(t);
    else if (t.startsWith("headers.")) v = () => headers[t.slice("headers.".length).toLowerCase().replace(/_/g, "-")];
    else throw new Error(`Lua: unsupported token ${t} in ${source}`);
    while (peek() === ":") {
      take(":");
      take("sub");
      take("(");
      const from = Number(take());
      take(",");
      const to = Number(take());
      take(")");
      const target = v;
      v = () => {
        const value = target();
        if (typeof value !== "string") throw new Error("Lua: attempt to index a nil value");
        return value.slice(from - 1, to);
      };
    }
    return v;
  };
  const compare = (): Lua => {
    const left = primary();
    if (peek() === "==" || peek() === "~=") {
      const op = take();
      const right = primary();
      return op === "==" ? () => left() === right() : () => left() !== right();
    }
    return left;
  };
  const and = (): Lua => {
    let v = compare();
    while (peek() === "and") {
      take();
      const [l, r] = [v, compare()];
      v = () => {
        const lv = l();
        return truthy(lv) ? r() : lv;
      };
    }
    return v;
  };
  function or(): Lua {
    let v = and();
    while (peek() === "or") {
      take();
      const [l, r] = [v, and()];
      v = () => {
        const lv = l();
        return truthy(lv) ? lv : r();
      };
    }
    return v;
  }
  const expr = or();
  if (i !== tokens.length) throw new Error(`Lua: trailing tokens in ${source}`);
  return expr();
}

/**
 * What Kong sends upstream for `service`: its request-transformer's header rules in Kong's order (remove,
 * rename, replace, add, append), each value the rendered template. Penlight renders `$(x)` as `tostring(x or '')`:
 * nil gives an empty header, which reaches no one as a value (no token): modelled as absent.
 */
function kong(serviceName: string, request: Record<string, string | undefined>): Record<string, string | undefined> {
  const config = transformer(serviceName);
  for (const op of ["remove", "rename", "append"] as const)
    if (config[op]?.headers?.length) throw new Error(`${serviceName}: request-transformer ${op} is not modelled here`);
  const render = (value: string): string | undefined => {
    const filled = value.replace(/\{\{\s*\.BearerToken\s*\}\}/g, bearer).trim();
    if (/\{\{/.test(filled)) throw new Error(`${serviceName}: template value not modelled: ${value}`);
    const m = /^\$\((.*)\)$/s.exec(filled);
    if (!m) return filled;
    const v = evalLua(m[1]!, request);
    return v === undefined || v === false ? "" : String(v);
  };
  const out = { ...request };
  const rule = (line: string) => {
    const m = /^([^:]+):(.*)$/s.exec(line)!;
    return [m[1]!.trim().toLowerCase(), render(m[2]!)] as const;
  };
  for (const line of config.replace?.headers ?? []) {
    const [name, value] = rule(line);
    if (out[name] !== undefined) out[name] = value;
  }
  for (const line of config.add?.headers ?? []) {
    const [name, value] = rule(line);
    if (out[name] === undefined) out[name] = value;
  }
  for (const [name, value] of Object.entries(out)) if (value === "") out[name] = undefined;
  return out;
}

/**
 * The Edge Runtime's choice of token for verify_jwt, run as the CLI ships it: its main worker's function that
 * reads `authorization` and `sb-api-key`, and the bearer extractor that function calls, taken from the binary.
 */
function edgeRuntimeChoice(): (headers: Record<string, string | undefined>) => string | { code: string } {
  /** The source of the function starting at `at`, up to its closing brace. */
  const fnSource = (at: number) => {
    for (let i = binary.indexOf("{", at), depth = 0; i < binary.length; i++) {
      if (binary[i] === "{") depth++;
      else if (binary[i] === "}" && --depth === 0) return binary.slice(at, i + 1);
    }
    throw new Error("unterminated function");
  };
  const choose = /function (\w+)\(e\)\{let t=e\.headers\.get\("authorization"\),n=e\.headers\.get\("sb-api-key"\)/.exec(binary);
  if (!choose) throw new Error("the Edge Runtime's verify_jwt token choice was not found in the CLI");
  const chooser = fnSource(choose.index);
  const helper = /=(\w+)\(t\?\?""\)/.exec(chooser)?.[1];
  const at = helper === undefined ? -1 : binary.indexOf(`function ${helper}(e){`);
  if (at < 0) throw new Error("the Edge Runtime's bearer extractor was not found in the CLI");
  const fn = new Function(`${fnSource(at)}\n${chooser}\nreturn ${choose[1]};`)() as (req: {
    headers: { get(n: string): string | null };
  }) => string | { code: string };
  return (headers) => fn({ headers: { get: (n: string) => headers[n] ?? null } });
}

const bearer = bearerTokenExpression();
const edgeRuntimeToken = edgeRuntimeChoice();

const USER_JWT = await new SignJWT({ role: "authenticated", sub: "8d0fd2b3-9ca1-4a58-8b0c-000000000001" })
  .setProtectedHeader({ alg: "HS256" })
  .setExpirationTime("1h")
  .sign(new TextEncoder().encode(LOCAL_JWT_SECRET));
const AUTHORIZATIONS = [
  undefined,
  `Bearer ${LOCAL_PUBLISHABLE_KEY}`,
  `Bearer ${LOCAL_SECRET_KEY}`,
  `Bearer ${LOCAL_ANON_KEY}`,
  `Bearer ${LOCAL_SERVICE_ROLE_KEY}`,
  `Bearer ${USER_JWT}`,
  "Bearer writer.token.here",
  "Bearer sb_publishable_unknown",
  "Basic dXNlcjpwYXNz",
];
const API_KEYS = [undefined, LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, LOCAL_ANON_KEY, LOCAL_SERVICE_ROLE_KEY, "sb_publishable_unknown"];
const KNOWN_KEYS = new Set([LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, LOCAL_ANON_KEY, LOCAL_SERVICE_ROLE_KEY]);
const matrix = AUTHORIZATIONS.flatMap((authorization) => API_KEYS.map((apikey) => ({ authorization, apikey })));
const label = (v: string | undefined) =>
  v === undefined
    ? "-"
    : v
        .replace(LOCAL_PUBLISHABLE_KEY, "<publishable>")
        .replace(LOCAL_SECRET_KEY, "<secret>")
        .replace(LOCAL_ANON_KEY, "<anon>")
        .replace(LOCAL_SERVICE_ROLE_KEY, "<service_role>")
        .replace(USER_JWT, "<user>");

describe(`the installed Supabase CLI (${pinned})`, () => {
  it("embeds one kong.yml template, with the project's local keys as its defaults", () => {
    expect(templates.length).toBeGreaterThan(0);
    expect(new Set(templates).size).toBe(1);
    for (const key of [LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY]) expect(binary.includes(key), key).toBe(true);
    expect(service("rest-v1").routes[0]!.paths).toEqual(["/rest/v1/"]);
    expect(service("functions-v1").routes[0]!.paths).toEqual(["/functions/v1/"]);
  });

  it("its rules, as this gateway reads them: rest-v1 sets Authorization, functions-v1 only sb-api-key", () => {
    const names = (s: string) =>
      [...(transformer(s).add?.headers ?? []), ...(transformer(s).replace?.headers ?? [])].map((h) => h.split(":")[0]!.toLowerCase());
    expect([...new Set(names("rest-v1"))]).toEqual(["authorization"]);
    expect([...new Set(names("functions-v1"))]).toEqual(["sb-api-key"]);
  });

  it("the Edge Runtime removes sb-api-key before the function sees the request", () => {
    expect(binary).toContain('o.headers.delete("sb-api-key")');
  });
});

describe("the gateway, request by request, against the CLI's rules", () => {
  let upstream: Server;
  let gateway: { url: string; close(): Promise<void> };
  const send = async (path: string, headers: { authorization?: string | undefined; apikey?: string | undefined }) => {
    const h: Record<string, string> = {};
    if (headers.authorization !== undefined) h.authorization = headers.authorization;
    if (headers.apikey !== undefined) h.apikey = headers.apikey;
    const r = await fetch(`${gateway.url}${path}`, { headers: h });
    const body = (await r.json()) as { authorization?: string | null; "sb-api-key"?: string | null };
    return { status: r.status, authorization: body.authorization ?? undefined, sbApiKey: body["sb-api-key"] ?? undefined };
  };

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ authorization: req.headers.authorization ?? null, "sb-api-key": req.headers["sb-api-key"] ?? null }));
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    gateway = await startGateway({
      port: 0,
      jwtSecret: LOCAL_JWT_SECRET,
      routes: {
        rest: url,
        functions: new Map([
          ["open", { url, verifyJwt: false }],
          ["closed", { url, verifyJwt: true }],
        ]),
      },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    upstream?.close();
  });

  it.each(matrix.map((r) => [label(r.authorization), label(r.apikey), r] as const))(
    "/rest/v1 with Authorization %s, apikey %s",
    async (_a, _k, request) => {
      const got = await send("/rest/v1/t", request);
      // Like the hosted gateway (and unlike the CLI's Kong, which has no key check on this route), a request
      // without one of the project's keys in `apikey` is refused here.
      if (request.apikey === undefined || !KNOWN_KEYS.has(request.apikey)) return expect(got.status).toBe(401);
      expect({ status: got.status, authorization: got.authorization }).toEqual({
        status: 200,
        authorization: kong("rest-v1", request).authorization,
      });
    },
  );

  it.each(AUTHORIZATIONS.flatMap((a) => [...KNOWN_KEYS].map((k) => [label(a), label(k), a, k] as const)))(
    "/rest/v1 with Authorization %s, ?apikey=%s (the key check passes; Kong reads only the apikey header)",
    async (_a, _k, authorization, key) => {
      const h: Record<string, string> = authorization === undefined ? {} : { authorization };
      const r = await fetch(`${gateway.url}/rest/v1/t?apikey=${encodeURIComponent(key)}`, { headers: h });
      const body = (await r.json()) as { authorization?: string | null };
      expect({ status: r.status, authorization: body.authorization ?? undefined }).toEqual({
        status: 200,
        authorization: kong("rest-v1", { authorization, apikey: undefined }).authorization,
      });
    },
  );

  it.each(matrix.map((r) => [label(r.authorization), label(r.apikey), r] as const))(
    "/functions/v1 with Authorization %s, apikey %s",
    async (_a, _k, request) => {
      const sent = kong("functions-v1", request);
      // verify_jwt = false: the function gets Kong's headers minus sb-api-key (the Edge Runtime removes it).
      expect(await send("/functions/v1/open/x", request)).toEqual({ status: 200, authorization: sent.authorization, sbApiKey: undefined });
      // verify_jwt = true: the Edge Runtime verifies the token it picks; only the local JWT secret's tokens pass.
      const token = edgeRuntimeToken({ authorization: sent.authorization, "sb-api-key": sent["sb-api-key"] });
      const valid = typeof token === "string" && [LOCAL_ANON_KEY, LOCAL_SERVICE_ROLE_KEY, USER_JWT].includes(token);
      const closed = await send("/functions/v1/closed", request);
      expect(closed.status).toBe(valid ? 200 : 401);
      if (valid) expect(closed).toEqual({ status: 200, authorization: sent.authorization, sbApiKey: undefined });
    },
  );

  it("an apikey-only call reaches the function with no Authorization (the rest function then says token_missing)", async () => {
    expect(kong("functions-v1", { apikey: LOCAL_PUBLISHABLE_KEY }).authorization).toBeUndefined();
    expect(await send("/functions/v1/open/rest/widgets", { apikey: LOCAL_PUBLISHABLE_KEY })).toEqual({
      status: 200,
      authorization: undefined,
      sbApiKey: undefined,
    });
  });
});

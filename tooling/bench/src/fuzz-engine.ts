// A seeded fuzzer for the gateway handler: generated and mutated tokens, headers, paths, methods and bodies,
// thrown at createJwtSwapProxy in-process over the fake project of harness.ts. Reproducible from its seed.
// Oracle: no exception escapes, no 5xx, every refusal is a {code, message, details, hint} body, and nothing
// reaches PostgREST unless the request carried an unmodified, validly signed token on an allowed path.
import { base64url } from "jose";
import { createSigner } from "@fedjwt/signer";
import { goodClaims, harness, rawToken, writer, type Writer } from "@fedjwt/proxy/testing";

/** mulberry32: a small, fast, seedable PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzReport {
  iterations: number;
  seed: number;
  statuses: Record<string, number>;
  reasons: Record<string, number>;
  forwarded: number;
  unconstructible: number;
  failures: string[];
}

const VALID_PATHS = ["/rest/widgets", "/rest/rest/v1/widgets", "/functions/v1/rest/orders", "/rest/rpc/stock_report"];
const PATH_PIECES = ["rest", "v1", "..", ".", "%2e%2e", "%2E%2e", "%2f", "%5c", "\\\\", "", "auth", "storage", "rpc", "widgets", "%00", "%20", "ü", "💥",
  "functions", "x".repeat(300), "%252e%252e", "..;", "./.", "widgets;drop", "graphql", "?", "#"];
const QUERY_PIECES = ["select=*", "id=eq.1", "or=(a.eq.1)", "apikey=x", "%00", "a=%ZZ", "&&", "=", "limit=-1", "order=id.desc", "x".repeat(100)];
const METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS", "PROPFIND", "get", "FOO"];
const ALGS = ["none", "None", "HS256", "HS512", "ES256", "RS256", "EdDSA", "ES384", "PS256", "", 7, null];
const HEADER_NAMES = ["apikey", "cookie", "x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip", "prefer", "content-type", "range", "accept-profile", "x-client-info", "authorization", "content-length", "transfer-encoding", "host"];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

function randomString(r: () => number, max = 40, headerSafe = false): string {
  const n = Math.floor(r() * max);
  let s = "";
  // Header values must be Latin-1 without CR/LF/NUL, or the Fetch API refuses to build the request at all.
  for (let i = 0; i < n; i++) s += String.fromCharCode(headerSafe || r() < 0.9 ? 32 + Math.floor(r() * 95) : Math.floor(r() * 0xffff));
  return s;
}

function mutateToken(r: () => number, token: string, pool: string[]): string {
  const ops = 1 + Math.floor(r() * 3);
  let t = token;
  for (let i = 0; i < ops; i++) {
    const parts = t.split(".");
    switch (Math.floor(r() * 14)) {
      case 0: { // flip one character
        const at = Math.floor(r() * t.length);
        t = t.slice(0, at) + pick(r, [..."ABCabc012-_.=+/"]) + t.slice(at + 1);
        break;
      }
      case 1: t = t.slice(0, Math.floor(r() * t.length)); break; // truncate
      case 2: t = `${t}.${parts[Math.floor(r() * parts.length)] ?? ""}`; break; // extra segment
      case 3: t = parts.reverse().join("."); break;
      case 4: { // swap in another token's segment (cross-issuer splice)
        const other = pick(r, pool).split(".");
        const k = Math.floor(r() * 3);
        parts[k] = other[k] ?? "";
        t = parts.join(".");
        break;
      }
      case 5: { // re-encode the header with another alg / kid
        const header: Record<string, unknown> = { alg: pick(r, ALGS), typ: "JWT" };
        if (r() < 0.7) header.kid = r() < 0.5 ? randomString(r, 50) : 12345;
        if (r() < 0.1) header.crit = ["exp"];
        if (r() < 0.1) header.jwk = { kty: "EC" };
        parts[0] = base64url.encode(JSON.stringify(header));
        t = parts.join(".");
        break;
      }
      case 6: { // re-encode the payload with changed claims, keeping the old signature
        let claims: Record<string, unknown> = {};
        try {
          claims = JSON.parse(new TextDecoder().decode(base64url.decode(parts[1] ?? "")));
        } catch { /* keep empty */ }
        const key = pick(r, ["iss", "sub", "aud", "exp", "iat", "nbf", "roles", "role", "app_metadata", "jti", "app_roles"]);
        claims[key] = pick(r, ["service_role", "postgres", -1, 0, 9e15, null, [], ["service_role"], { x: 1 }, "widgets-service", "https://x", ""]);
        parts[1] = base64url.encode(JSON.stringify(claims));
        t = parts.join(".");
        break;
      }
      case 7: t = randomString(r, 200); break;
      case 8: t = `${t}${" ".repeat(Math.floor(r() * 3))}`; break;
      case 9: t = t.replace(/[A-Za-z0-9]/, "*"); break;
      case 10: t = base64url.encode(new Uint8Array(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)))); break;
      case 11: t = `${parts[0]}.${parts[1]}.`; break; // unsigned
      case 12: t = "x".repeat(8000 + Math.floor(r() * 2000)); break;
      default: t = `${t}${pick(r, ["", "=", "==", "\u0000", "."])}`;
    }
  }
  return t;
}

function randomPath(r: () => number): string {
  if (r() < 0.4) {
    const p = pick(r, VALID_PATHS);
    const q = r() < 0.5 ? `?${Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(r, QUERY_PIECES)).join("&")}` : "";
    return p + q;
  }
  const n = 1 + Math.floor(r() * 5);
  const segs = Array.from({ length: n }, () => pick(r, PATH_PIECES));
  if (r() < 0.7) segs.unshift("rest");
  return `/${segs.join("/")}`;
}

/** The only request paths that may reach PostgREST: a table or rpc/<name> under the function, nothing encoded. */
const ALLOWED_PATH =
  /^(\/functions\/v1)?\/rest(\/rest\/v1)?\/((?!(auth|storage|realtime|functions|graphql|graphql_public|rest|v1|pg|admin|rpc)$)[A-Za-z_][A-Za-z0-9_]{0,62}|rpc\/[A-Za-z_][A-Za-z0-9_]{0,62})$/;

/** Runs `iterations` fuzz cases and reports; never throws for a failed oracle (see `failures`). */
export async function fuzz(iterations: number, seed: number): Promise<FuzzReport> {
  const r = prng(seed);
  const writers: Writer[] = [await writer("widgets-service", "ES256"), await writer("rsa-service", "RS256"), await writer("ed-service", "EdDSA")];
  const h = harness(writers, { bodyLimitBytes: 4096 });
  const pristine = new Set<string>();
  const pool: string[] = [];
  for (const w of writers) {
    const signer = await createSigner({ privateKey: w.keys.privateKeyPem, issuer: w.issuer, audience: goodClaims(w).aud as string, expiresIn: 300 });
    for (let i = 0; i < 5; i++) {
      const t = await signer.sign({ roles: ["widgets_writer"] });
      pristine.add(t);
      pool.push(t);
    }
    pool.push(await rawToken(w, goodClaims(w, { roles: ["service_role"] }))); // signed, but asks for a forbidden role
  }
  const report: FuzzReport = { iterations, seed, statuses: {}, reasons: {}, forwarded: 0, unconstructible: 0, failures: [] };
  const fail = (msg: string) => {
    if (report.failures.length < 20) report.failures.push(msg);
  };

  for (let i = 0; i < iterations; i++) {
    const base = pick(r, pool);
    const mutate = r() < 0.85;
    const token = mutate ? mutateToken(r, base, pool) : base;
    const path = randomPath(r);
    const method = r() < 0.8 ? pick(r, ["GET", "POST", "PATCH", "DELETE"]) : pick(r, METHODS);
    const headers: Record<string, string> = {};
    const authForm = r();
    if (authForm < 0.85) headers.authorization = `Bearer ${token}`;
    else if (authForm < 0.9) headers.authorization = `bearer  ${token}`;
    else if (authForm < 0.95) headers.cookie = `sb-access-token=${token}`;
    for (let k = Math.floor(r() * 3); k > 0; k--) headers[pick(r, HEADER_NAMES)] = r() < 0.5 ? randomString(r, 30, true) : token;
    const withBody = ["POST", "PATCH", "PUT"].includes(method) && r() < 0.8;
    let req: Request;
    try {
      req = new Request(`http://gateway.test${path}`, {
        method,
        headers,
        ...(withBody ? { body: r() < 0.1 ? "x".repeat(5000) : JSON.stringify({ name: randomString(r, 20) }) } : {}),
      });
    } catch {
      report.unconstructible++;
      continue;
    }
    const sentToken = req.headers.get("authorization")?.replace(/^bearer\s+/i, "") ?? "";
    // Judged on the URL as the Fetch API normalised it (dot segments resolved), by a rule of its own.
    const allowedPath = ALLOWED_PATH.test(new URL(req.url).pathname);
    const before = h.project.calls.length;
    let res: Response;
    try {
      res = await h.handler(req);
    } catch (e) {
      fail(`#${i}: the handler threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
      continue;
    }
    const text = await res.text();
    report.statuses[res.status] = (report.statuses[res.status] ?? 0) + 1;
    if (res.status >= 500) fail(`#${i}: ${res.status} ${text.slice(0, 200)} for ${method} ${path}`);
    const forwarded = h.project.calls.length > before;
    if (forwarded) {
      report.forwarded++;
      // The auth scheme is case-insensitive (RFC 7235), so "bearer  <token>" with a pristine token is legitimate.
      if (!pristine.has(sentToken) || !allowedPath) fail(`#${i}: forwarded without a pristine valid token on an allowed path: ${method} ${path}`);
    } else if (res.status !== 200) {
      try {
        const body = JSON.parse(text) as Record<string, unknown>;
        if (typeof body.code !== "string" || !("message" in body) || !("details" in body) || !("hint" in body)) fail(`#${i}: refusal body ${text.slice(0, 120)}`);
        report.reasons[body.code as string] = (report.reasons[body.code as string] ?? 0) + 1;
        if (text.includes(sentToken) && sentToken.length > 16) fail(`#${i}: the response echoes the token`);
      } catch {
        fail(`#${i}: non-JSON refusal (${res.status}): ${text.slice(0, 120)}`);
      }
    } else {
      fail(`#${i}: 200 without reaching PostgREST`);
    }
  }
  return report;
}

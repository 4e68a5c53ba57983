// A property-based fuzzer for the gateway handler (fast-check): generated and mutated tokens, headers, paths,
// methods and bodies, thrown at createJwtSwapProxy in-process over the fake project of @fedjwt/proxy/testing.
// Oracle: no exception escapes, no 5xx, every refusal is a {code, message, details, hint} body, and nothing
// reaches PostgREST unless the request carried an unmodified, validly signed token on an allowed path.
// A failing case is shrunk to a small one and reported with the seed and path that replay it.
import fc from "fast-check";
import { base64url } from "jose";
import { createSigner } from "@fedjwt/signer";
import { githubClaims, goodClaims, harness, rawToken, TestIdp, trustPolicy, urlIssuer, writer, type Writer } from "@fedjwt/proxy/testing";

export interface FuzzReport {
  iterations: number;
  seed: number;
  statuses: Record<string, number>;
  reasons: Record<string, number>;
  forwarded: number;
  unconstructible: number;
  failures: string[];
  /** Set when the oracle failed: the shrunk case, and how to replay it (`pnpm fuzz --seed S --path P`). */
  counterexample?: string;
  case?: FuzzCase;
  replay?: { seed: number; path: string };
}

/** Options of one fuzz run. */
export interface FuzzOptions {
  /** Replays a reported failure: the path fast-check printed with its seed. */
  path?: string;
  /** An extra oracle (tests of the fuzzer itself): a message when a case's answer is wrong. */
  extraOracle?: (answer: { status: number; body: string }) => string | undefined;
}

const VALID_PATHS = ["/rest/widgets", "/rest/rest/v1/widgets", "/functions/v1/rest/orders", "/rest/rpc/stock_report"];
const PATH_PIECES = [
  "rest",
  "v1",
  "..",
  ".",
  "%2e%2e",
  "%2E%2e",
  "%2f",
  "%5c",
  "\\\\",
  "",
  "auth",
  "storage",
  "rpc",
  "widgets",
  "%00",
  "%20",
  "ü",
  "💥",
  "functions",
  "x".repeat(300),
  "%252e%252e",
  "..;",
  "./.",
  "widgets;drop",
  "graphql",
  "?",
  "#",
];
const QUERY_PIECES = [
  "select=*",
  "id=eq.1",
  "or=(a.eq.1)",
  "apikey=x",
  "%00",
  "a=%ZZ",
  "&&",
  "=",
  "limit=-1",
  "order=id.desc",
  "x".repeat(100),
];
const METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS", "PROPFIND", "get", "FOO"];
const ALGS = ["none", "None", "HS256", "HS512", "ES256", "RS256", "EdDSA", "ES384", "PS256", "", 7, null];
const HEADER_NAMES = [
  "apikey",
  "cookie",
  "x-forwarded-for",
  "x-forwarded-host",
  "forwarded",
  "x-real-ip",
  "prefer",
  "content-type",
  "range",
  "accept-profile",
  "x-client-info",
  "authorization",
  "content-length",
  "transfer-encoding",
  "host",
];

/** The only request paths that may reach PostgREST: a table or rpc/<name> under the function, nothing encoded. */
const ALLOWED_PATH =
  /^(\/functions\/v1)?\/rest(\/rest\/v1)?\/((?!(auth|storage|realtime|functions|graphql|graphql_public|rest|v1|pg|admin|rpc)$)[A-Za-z_][A-Za-z0-9_]{0,62}|rpc\/[A-Za-z_][A-Za-z0-9_]{0,62})$/;

/** One mutation of a token; a list of them (possibly empty) turns a pristine token into a fuzz token. */
type Mutation =
  | { op: "flip"; at: number; ch: string }
  | { op: "truncate"; at: number }
  | { op: "extraSegment"; part: number }
  | { op: "reverse" }
  | { op: "splice"; other: number; k: number }
  | { op: "header"; alg: unknown; kid: string | number | null; crit: boolean; jwk: boolean }
  | { op: "payload"; key: string; value: unknown }
  | { op: "random"; text: string }
  | { op: "spaces"; n: number }
  | { op: "star" }
  | { op: "bytes"; bytes: Uint8Array }
  | { op: "unsigned" }
  | { op: "huge"; n: number }
  | { op: "suffix"; text: string };

/** One request of the fuzzer: everything is a generated value, so fast-check can shrink it. */
export interface FuzzCase {
  base: number;
  mutations: Mutation[];
  path: string;
  method: string;
  auth: "bearer" | "loose-bearer" | "cookie" | "none";
  headers: Array<{ name: string; value: string | null }>;
  body: { big: boolean; name: string } | null;
}

/** Mostly printable characters, sometimes any UTF-16 code unit (headerSafe: printable only, as the Fetch API requires). */
function text(maxLength: number, headerSafe = false): fc.Arbitrary<string> {
  const printable = fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c));
  const unit = headerSafe
    ? printable
    : fc.oneof(
        { weight: 9, arbitrary: printable },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
      );
  return fc.string({ unit, maxLength });
}

function mutation(poolSize: number): fc.Arbitrary<Mutation> {
  const index = fc.nat({ max: 10_000 });
  return fc.oneof(
    fc.record({ op: fc.constant("flip" as const), at: index, ch: fc.constantFrom(..."ABCabc012-_.=+/") }),
    fc.record({ op: fc.constant("truncate" as const), at: index }),
    fc.record({ op: fc.constant("extraSegment" as const), part: fc.nat({ max: 3 }) }),
    fc.constant({ op: "reverse" as const }),
    fc.record({ op: fc.constant("splice" as const), other: fc.nat({ max: poolSize - 1 }), k: fc.nat({ max: 2 }) }),
    fc.record({
      op: fc.constant("header" as const),
      alg: fc.constantFrom(...ALGS),
      kid: fc.oneof(
        { weight: 3, arbitrary: fc.constant(null) },
        { weight: 4, arbitrary: text(50) },
        { weight: 3, arbitrary: fc.constant(12345) },
      ),
      crit: fc.boolean(),
      jwk: fc.boolean(),
    }),
    fc.record({
      op: fc.constant("payload" as const),
      key: fc.constantFrom("iss", "sub", "aud", "exp", "iat", "nbf", "roles", "role", "app_metadata", "jti", "app_roles"),
      value: fc.constantFrom<unknown>(
        "service_role",
        "postgres",
        -1,
        0,
        9e15,
        null,
        [],
        ["service_role"],
        { x: 1 },
        "widgets-service",
        "https://x",
        "https://token.actions.githubusercontent.com",
        "",
      ),
    }),
    fc.record({ op: fc.constant("random" as const), text: text(200) }),
    fc.record({ op: fc.constant("spaces" as const), n: fc.nat({ max: 2 }) }),
    fc.constant({ op: "star" as const }),
    fc.record({ op: fc.constant("bytes" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
    fc.constant({ op: "unsigned" as const }),
    fc.record({ op: fc.constant("huge" as const), n: fc.integer({ min: 8000, max: 10_000 }) }),
    fc.record({ op: fc.constant("suffix" as const), text: fc.constantFrom("", "=", "==", "\u0000", ".") }),
  );
}

function mutate(token: string, m: Mutation, pool: string[]): string {
  const parts = token.split(".");
  switch (m.op) {
    case "flip": {
      const at = m.at % Math.max(token.length, 1);
      return token.slice(0, at) + m.ch + token.slice(at + 1);
    }
    case "truncate":
      return token.slice(0, m.at % Math.max(token.length, 1));
    case "extraSegment":
      return `${token}.${parts[m.part % parts.length] ?? ""}`;
    case "reverse":
      return parts.reverse().join(".");
    case "splice": {
      parts[m.k] = pool[m.other]!.split(".")[m.k] ?? "";
      return parts.join(".");
    }
    case "header": {
      const header: Record<string, unknown> = { alg: m.alg, typ: "JWT" };
      if (m.kid !== null) header.kid = m.kid;
      if (m.crit) header.crit = ["exp"];
      if (m.jwk) header.jwk = { kty: "EC" };
      parts[0] = base64url.encode(JSON.stringify(header));
      return parts.join(".");
    }
    case "payload": {
      let claims: Record<string, unknown> = {};
      try {
        claims = JSON.parse(new TextDecoder().decode(base64url.decode(parts[1] ?? "")));
      } catch {
        /* keep empty */
      }
      claims[m.key] = m.value;
      parts[1] = base64url.encode(JSON.stringify(claims));
      return parts.join(".");
    }
    case "random":
      return m.text;
    case "spaces":
      return `${token}${" ".repeat(m.n)}`;
    case "star":
      return token.replace(/[A-Za-z0-9]/, "*");
    case "bytes":
      return base64url.encode(m.bytes);
    case "unsigned":
      return `${parts[0]}.${parts[1]}.`;
    case "huge":
      return "x".repeat(m.n);
    case "suffix":
      return `${token}${m.text}`;
  }
}

const pathArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...VALID_PATHS), fc.option(fc.array(fc.constantFrom(...QUERY_PIECES), { minLength: 1, maxLength: 3 })))
      .map(([p, q]) => (q ? `${p}?${q.join("&")}` : p)),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.boolean(), fc.array(fc.constantFrom(...PATH_PIECES), { minLength: 1, maxLength: 5 }))
      .map(([rest, segs]) => `/${(rest ? ["rest", ...segs] : segs).join("/")}`),
  },
);

function caseArb(poolSize: number): fc.Arbitrary<FuzzCase> {
  return fc.record({
    base: fc.nat({ max: poolSize - 1 }),
    mutations: fc.oneof(
      { weight: 15, arbitrary: fc.array(mutation(poolSize), { minLength: 1, maxLength: 3 }) },
      { weight: 3, arbitrary: fc.constant<Mutation[]>([]) },
    ),
    path: pathArb,
    method: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom("GET", "POST", "PATCH", "DELETE") },
      { weight: 2, arbitrary: fc.constantFrom(...METHODS) },
    ),
    auth: fc.oneof(
      { weight: 85, arbitrary: fc.constant("bearer" as const) },
      { weight: 5, arbitrary: fc.constant("loose-bearer" as const) },
      { weight: 5, arbitrary: fc.constant("cookie" as const) },
      { weight: 5, arbitrary: fc.constant("none" as const) },
    ),
    // A null value means "the token itself" (tokens leaking into other headers).
    headers: fc.array(fc.record({ name: fc.constantFrom(...HEADER_NAMES), value: fc.oneof(text(30, true), fc.constant(null)) }), {
      maxLength: 2,
    }),
    body: fc.option(fc.record({ big: fc.boolean(), name: text(20) }), { freq: 5 }),
  });
}

/** Runs `iterations` generated cases (fast-check, from `seed`) and reports; never throws for a failed oracle (see `failures`). */
export async function fuzz(iterations: number, seed: number, options: FuzzOptions = {}): Promise<FuzzReport> {
  const writers: Writer[] = [
    await writer("widgets-service", "ES256"),
    await writer("rsa-service", "RS256"),
    await writer("ed-service", "EdDSA"),
  ];
  const h = harness(writers, { bodyLimitBytes: 4096 });
  const pristine = new Set<string>();
  const pool: string[] = [];
  for (const w of writers) {
    const signer = await createSigner({
      privateKey: w.keys.privateKeyPem,
      issuer: w.issuer,
      audience: goodClaims(w).aud as string,
      expiresIn: 300,
    });
    for (let i = 0; i < 5; i++) {
      const t = await signer.sign({ roles: ["widgets_writer"] });
      pristine.add(t);
      pool.push(t);
    }
    pool.push(await rawToken(w, goodClaims(w, { roles: ["service_role"] }))); // signed, but asks for a forbidden role
  }
  // Workload identity: a GitHub Actions issuer (its JWKS served by the fake project) with one trust policy.
  const gh = await TestIdp.create("https://token.actions.githubusercontent.com");
  h.project.jwks.set(`${gh.issuerUrl}/jwks`, { body: gh.jwks() });
  h.project.trust.set(gh.issuerUrl, {
    issuer: urlIssuer(gh.issuerUrl, `${gh.issuerUrl}/jwks`),
    policies: [trustPolicy("widgets-service", "github-actions", { repository_owner_id: "74", repository_id: "1296269" })],
  });
  for (let i = 0; i < 5; i++) {
    const t = await gh.sign(githubClaims());
    pristine.add(t);
    pool.push(t);
  }
  pool.push(await gh.sign(githubClaims({ event_name: "pull_request_target" }))); // signed, but from a refused event
  pool.push(await gh.sign(githubClaims({ repository_id: "99999999" }))); // signed, but no policy admits it
  const report: FuzzReport = { iterations, seed, statuses: {}, reasons: {}, forwarded: 0, unconstructible: 0, failures: [] };
  let shrinking = false;
  const count = (bucket: Record<string, number>, key: string) => {
    if (!shrinking) bucket[key] = (bucket[key] ?? 0) + 1;
  };

  /** Runs one case; returns what is wrong with the gateway's answer, if anything. */
  const runCase = async (c: FuzzCase): Promise<string | undefined> => {
    const token = c.mutations.reduce((t, m) => mutate(t, m, pool), pool[c.base]!);
    const headers: Record<string, string> = {};
    if (c.auth === "bearer") headers.authorization = `Bearer ${token}`;
    else if (c.auth === "loose-bearer") headers.authorization = `bearer  ${token}`;
    else if (c.auth === "cookie") headers.cookie = `sb-access-token=${token}`;
    for (const { name, value } of c.headers) headers[name] = value ?? token;
    const withBody = ["POST", "PATCH", "PUT"].includes(c.method) && c.body !== null;
    let req: Request;
    try {
      req = new Request(`http://gateway.test${c.path}`, {
        method: c.method,
        headers,
        ...(withBody ? { body: c.body!.big ? "x".repeat(5000) : JSON.stringify({ name: c.body!.name }) } : {}),
      });
    } catch {
      if (!shrinking) report.unconstructible++;
      return undefined;
    }
    const sentToken = req.headers.get("authorization")?.replace(/^bearer\s+/i, "") ?? "";
    // Judged on the URL as the Fetch API normalised it (dot segments resolved), by a rule of its own.
    const allowedPath = ALLOWED_PATH.test(new URL(req.url).pathname);
    h.project.calls.length = 0;
    let res: Response;
    try {
      res = await h.handler(req);
    } catch (e) {
      return `the handler threw ${(e as Error)?.name}: ${(e as Error)?.message}`;
    }
    const body = await res.text();
    count(report.statuses, String(res.status));
    if (res.status >= 500) return `${res.status} ${body.slice(0, 200)} for ${c.method} ${c.path}`;
    const forwarded = h.project.calls.length > 0;
    if (forwarded) {
      if (!shrinking) report.forwarded++;
      // The auth scheme is case-insensitive (RFC 7235), so "bearer  <token>" with a pristine token is legitimate.
      if (!pristine.has(sentToken) || !allowedPath)
        return `forwarded without a pristine valid token on an allowed path: ${c.method} ${c.path}`;
    } else if (res.status !== 200) {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return `non-JSON refusal (${res.status}): ${body.slice(0, 120)}`;
      }
      if (typeof parsed.code !== "string" || !("message" in parsed) || !("details" in parsed) || !("hint" in parsed))
        return `refusal body ${body.slice(0, 120)}`;
      count(report.reasons, parsed.code);
      if (body.includes(sentToken) && sentToken.length > 16) return "the response echoes the token";
    } else {
      return "200 without reaching PostgREST";
    }
    return options.extraOracle?.({ status: res.status, body });
  };
  const property = fc.asyncProperty(caseArb(pool.length), async (c) => {
    const wrong = await runCase(c);
    if (wrong !== undefined) {
      shrinking = true; // what follows are fast-check's attempts at a smaller failing case: not counted
      throw new Error(wrong);
    }
  });

  const details = await fc.check(property, { numRuns: iterations, seed, ...(options.path !== undefined ? { path: options.path } : {}) });
  if (details.failed) {
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    if (details.counterexample) {
      report.case = details.counterexample[0];
      report.counterexample = fc.stringify(details.counterexample[0]);
    }
    if (details.counterexamplePath) report.replay = { seed: details.seed, path: details.counterexamplePath };
    const replay = `pnpm fuzz --seed ${details.seed}${details.counterexamplePath ? ` --path ${details.counterexamplePath}` : ""}`;
    report.failures.push(`${error}\n  shrunk case: ${report.counterexample ?? "(none)"}\n  replay: ${replay}`);
  }
  return report;
}

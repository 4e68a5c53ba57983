// deno-lint-ignore-file require-await -- async lambdas keep the case tables uniform
// The attack matrix: every case asserts the status, the stable reason code, that nothing reached
// PostgREST, that a rejection was logged with that reason, and that the response never echoes the token.
import { base64url, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AUDIENCE,
  goodClaims,
  harness,
  outboundClaims,
  rawToken,
  request,
  SERVICE_KEY,
  writer,
  type Harness,
  type Writer,
} from "../src/testing.ts";
import { uuidV5 } from "../src/uuid.ts";

const enc = (v: unknown) => base64url.encode(typeof v === "string" ? v : JSON.stringify(v));
const now = () => Math.floor(Date.now() / 1000);

interface World {
  h: Harness;
  w: Writer; // widgets-service, ES256, allowed widgets_writer
  other: Writer; // orders-service, ES256, allowed orders_writer
  stranger: Writer; // not registered
  rsa: Writer;
  jti: Writer; // require_jti
  strict: Writer; // max lifetime 60 s
}

let world: World;

beforeAll(async () => {
  const w = await writer("widgets-service", "ES256", {}, 0);
  const other = await writer("orders-service", "ES256", { allowed_roles: ["orders_writer"] }, 1);
  const stranger = await writer("stranger-service", "ES256", {}, 2);
  const rsa = await writer("rsa-service", "RS256", {}, 0);
  const jti = await writer("jti-service", "ES256", { require_jti: true }, 3);
  const strict = await writer("strict-service", "ES256", { max_token_lifetime_seconds: 60 }, 4);
  const h = harness([w, other, rsa, jti, strict], { bodyLimitBytes: 1024 });
  const inactive = await writer("inactive-key", "ES256", {}, 5);
  h.project.add(inactive, { usable: false });
  const gone = await writer("gone-service", "ES256", {}, 6);
  h.project.add(gone, { usable: false });
  const future = await writer("future-key", "ES256", {}, 7);
  h.project.add(future, { not_before: new Date(Date.now() + 3_600_000).toISOString() });
  const expired = await writer("expired-key", "ES256", {}, 8);
  h.project.add(expired, { expires_at: new Date(Date.now() - 1000).toISOString() });
  // Key windows that do not parse to a finite time fail closed.
  const windows: Writer[] = [];
  for (const [i, patch] of (
    [
      { expires_at: "-infinity" },
      { expires_at: "infinity" },
      { not_before: "infinity" },
      { not_before: "-infinity" },
      { not_before: "not a date" },
    ] as const
  ).entries()) {
    const x = await writer(`window-${i}`, "ES256", {}, 11 + i);
    h.project.add(x, patch);
    windows.push(x);
  }
  // db_roles the gateway refuses whatever the registry says (the SQL checks would refuse them too).
  const roles: Record<string, Writer> = {};
  for (const [i, [name, valid]] of (
    [
      ["authenticated", true],
      ["anon", true],
      ["service_role", true],
      ["postgres", true],
      ["supabase_admin", true],
      ["authenticator", true],
      ["pg_read_all_data", true],
      ["drifted_writer", false],
    ] as const
  ).entries()) {
    roles[name] = await writer(`dbrole-${i}`, "ES256", { db_role: name, db_role_valid: valid }, 16 + i);
    h.project.add(roles[name]);
  }
  // A row for a platform issuer name (the registry's CHECK refuses it; the gateway must not need that).
  const platform = await writer("supabase", "ES256", {}, 24);
  h.project.add(platform);
  const demo = await writer("supabase-demo", "ES256", {}, 25);
  h.project.add(demo);
  const twoA = await writer("two-keys", "ES256", {}, 9);
  const twoB = await writer("two-keys", "ES256", {}, 10);
  h.project.add(twoA);
  h.project.add(twoB);
  world = { h, w, other, stranger, rsa, jti, strict };
  extras = { inactive, gone, future, expired, twoA, platform, demo };
  extraLists = { windows, roles };
});
let extras: Record<"inactive" | "gone" | "future" | "expired" | "twoA" | "platform" | "demo", Writer>;
let extraLists: { windows: Writer[]; roles: Record<string, Writer> };

type Case = [name: string, build: () => Promise<Request>, status: number, reason: string];

/** A request with a token from `w`; claims given as a function are read when the case runs, not when it is listed. */
const tok =
  (w: () => Writer, claims: Record<string, unknown> | (() => Record<string, unknown>) = {}, header: Record<string, unknown> = {}) =>
  async () =>
    request("/rest/widgets", await rawToken(w(), { ...goodClaims(w()), ...(typeof claims === "function" ? claims() : claims) }, header));
/** `tok` with claims computed from the clock (in seconds) when the case runs. */
const tokAt = (claims: (t: number) => Record<string, unknown>, w: () => Writer = () => world.w) => tok(w, () => claims(now()));
const raw =
  (token: () => Promise<string> | string, path = "/rest/widgets", init: RequestInit = {}) =>
  async () =>
    request(path, await token(), init as RequestInit & { headers?: Record<string, string> });
const without = (name: string) => tok(() => world.w, { [name]: undefined });
const good = () => rawToken(world.w, goodClaims(world.w));

/** Signs exactly the given header and payload with WebCrypto (jose refuses some of these headers). */
async function signedRaw(w: Writer, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const { importPKCS8 } = await import("jose");
  const key = await importPKCS8(w.keys.privateKeyPem, "ES256");
  const input = `${enc(header)}.${enc(payload)}`;
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(input));
  return `${input}.${base64url.encode(new Uint8Array(sig))}`;
}

async function unsigned(header: Record<string, unknown>, payload: Record<string, unknown> = goodClaims(world.w)): Promise<string> {
  return `${enc(header)}.${enc(payload)}.`;
}

const CASES: Case[] = [
  // -- presence and shape ---------------------------------------------------------------------------
  ["no Authorization header", async () => request("/rest/widgets", null), 401, "token_missing"],
  [
    "Basic credentials",
    async () => request("/rest/widgets", null, { headers: { authorization: "Basic dXNlcjpwYXNz" } }),
    401,
    "token_malformed",
  ],
  ["empty Bearer", async () => request("/rest/widgets", null, { headers: { authorization: "Bearer " } }), 401, "token_malformed"],
  ["two segments", raw(async () => (await good()).split(".").slice(0, 2).join(".")), 401, "token_malformed"],
  ["four segments", raw(async () => `${await good()}.AAAA`), 401, "token_malformed"],
  ["empty signature segment", raw(async () => `${(await good()).split(".").slice(0, 2).join(".")}.`), 401, "token_malformed"],
  ["bad base64 characters", raw(async () => (await good()).replace(".", ".*")), 401, "token_malformed"],
  ["header is not JSON", raw(async () => `${enc("not json")}.${enc(goodClaims(world.w))}.c2ln`), 401, "token_malformed"],
  ["header is a JSON array", raw(async () => `${enc([1])}.${enc(goodClaims(world.w))}.c2ln`), 401, "token_malformed"],
  ["payload is not JSON", raw(async () => `${enc({ alg: "ES256" })}.${enc("{oops")}.c2ln`), 401, "token_malformed"],
  ["payload is a JSON string", raw(async () => `${enc({ alg: "ES256" })}.${enc('"iss"')}.c2ln`), 401, "token_malformed"],
  [
    "header is not UTF-8",
    raw(async () => `${base64url.encode(new Uint8Array([0xff, 0xfe, 0x7b]))}.${enc(goodClaims(world.w))}.c2ln`),
    401,
    "token_malformed",
  ],
  ["a 9 KB token", raw(async () => `${enc({ alg: "ES256" })}.${enc({ pad: "x".repeat(9000) })}.c2ln`), 401, "token_malformed"],
  // -- algorithm ------------------------------------------------------------------------------------
  ["alg none", raw(() => unsigned({ alg: "none", kid: world.w.keys.kid })), 401, "alg_not_allowed"],
  ["alg None", raw(() => unsigned({ alg: "None", kid: world.w.keys.kid })), 401, "alg_not_allowed"],
  ["no alg", raw(() => unsigned({ kid: world.w.keys.kid })), 401, "alg_not_allowed"],
  [
    "HS256 signed with the public key PEM as the secret",
    raw(() =>
      new SignJWT(goodClaims(world.w))
        .setProtectedHeader({ alg: "HS256", kid: world.w.keys.kid })
        .sign(new TextEncoder().encode(world.w.keys.publicKeyPem)),
    ),
    401,
    "alg_not_allowed",
  ],
  [
    "HS512",
    raw(() => new SignJWT(goodClaims(world.w)).setProtectedHeader({ alg: "HS512" }).sign(new TextEncoder().encode("x".repeat(64)))),
    401,
    "alg_not_allowed",
  ],
  ["ES384", raw(() => unsigned({ alg: "ES384", kid: world.w.keys.kid })), 401, "alg_not_allowed"],
  ["PS256", raw(() => unsigned({ alg: "PS256", kid: world.w.keys.kid })), 401, "alg_not_allowed"],
  [
    "RS256 header on an ES256-registered kid",
    raw(() => rawToken(world.rsa, { ...goodClaims(world.w) }, { kid: world.w.keys.kid })),
    401,
    "alg_not_allowed",
  ],
  [
    "the legacy service_role JWT (HS256) as the bearer",
    raw(() =>
      new SignJWT({ role: "service_role", iss: "supabase" })
        .setProtectedHeader({ alg: "HS256" })
        .sign(new TextEncoder().encode("y".repeat(40))),
    ),
    401,
    "alg_not_allowed",
  ],
  [
    "crit header",
    raw(() => signedRaw(world.w, { alg: "ES256", kid: world.w.keys.kid, crit: ["exp"], exp: 1 }, goodClaims(world.w))),
    401,
    "token_malformed",
  ],
  ["embedded jwk header (attacker's own key)", tok(() => world.w, {}, { jwk: { kty: "EC" } }), 401, "token_malformed"],
  ["jku header", tok(() => world.w, {}, { jku: "https://evil.example/jwks" }), 401, "token_malformed"],
  ["x5u header", tok(() => world.w, {}, { x5u: "https://evil.example/cert" }), 401, "token_malformed"],
  ["numeric kid", tok(() => world.w, {}, { kid: 7 }), 401, "token_malformed"],
  // Strings that reach SQL (usage rows, the jti) or a log line: no control characters, no lone surrogates.
  ["kid with a NUL", tok(() => world.w, {}, { kid: "key\u0000one" }), 401, "token_malformed"],
  ["kid with a lone surrogate", tok(() => world.w, {}, { kid: "key\ud800" }), 401, "token_malformed"],
  ["kid with a lone low surrogate", tok(() => world.w, {}, { kid: "\udc00key" }), 401, "token_malformed"],
  ["kid with a newline", tok(() => world.w, {}, { kid: "key\nforged log line" }), 401, "token_malformed"],
  ["kid with DEL", tok(() => world.w, {}, { kid: "key\u007f" }), 401, "token_malformed"],
  ["kid with a C1 control", tok(() => world.w, {}, { kid: "key\u009b31m" }), 401, "token_malformed"],
  ["sub with a NUL", tok(() => world.w, { sub: "worker\u0000" }), 401, "token_malformed"],
  ["sub with a lone surrogate", tok(() => world.w, { sub: "worker-\udfff" }), 401, "token_malformed"],
  ["sub with an escape sequence", tok(() => world.w, { sub: "\u001b[2Jworker" }), 401, "token_malformed"],
  ["jti with a NUL", tok(() => world.jti, { jti: "id\u0000" }), 401, "token_malformed"],
  ["a writer claim with a NUL", tok(() => world.w, { tenant: "a\u0000b" }), 401, "token_malformed"],
  ["a nested writer claim with a lone surrogate", tok(() => world.w, { meta: { tags: ["ok", "\ud83d"] } }), 401, "token_malformed"],
  ["a writer claim name with a control character", tok(() => world.w, { meta: { "a\u0001": 1 } }), 401, "token_malformed"],
  // -- issuer and key -------------------------------------------------------------------------------
  ["unregistered issuer", tok(() => world.stranger), 401, "unknown_issuer"],
  ["no iss", without("iss"), 401, "claim_missing"],
  ["a Supabase Auth issuer URL", tok(() => world.w, { iss: "https://abc.supabase.co/auth/v1" }), 401, "unknown_issuer"],
  ["upper-case issuer", tok(() => world.w, { iss: "Widgets-Service" }), 401, "unknown_issuer"],
  ["numeric issuer", tok(() => world.w, { iss: 42 }), 401, "unknown_issuer"],
  ["unknown kid", tok(() => world.w, {}, { kid: "no-such-kid" }), 401, "unknown_kid"],
  ["no kid while the issuer has two keys", tok(() => extras.twoA, {}, { kid: undefined }), 401, "kid_missing"],
  ["a deactivated key", tok(() => extras.inactive), 401, "key_inactive"],
  ["a deactivated issuer", tok(() => extras.gone), 401, "key_inactive"],
  ["a key before its not_before", tok(() => extras.future), 401, "key_inactive"],
  ["a key after its expires_at", tok(() => extras.expired), 401, "key_inactive"],
  ...["expires_at -infinity", "expires_at infinity", "not_before infinity", "not_before -infinity", "not_before unparseable"].map(
    (label, i): Case => [`a key window with ${label} (fails closed)`, tok(() => extraLists.windows[i]!), 401, "key_inactive"],
  ),
  ["iss supabase (the hosted anon/service keys' issuer), even with a registry row", tok(() => extras.platform), 401, "unknown_issuer"],
  ["iss supabase-demo (the local keys' issuer), even with a registry row", tok(() => extras.demo), 401, "unknown_issuer"],
  ["iss my-supabase-demo", tok(() => world.w, { iss: "my-supabase-demo" }), 401, "unknown_issuer"],
  [
    "signed by another key under the victim's kid",
    raw(() => rawToken(world.stranger, { ...goodClaims(world.w) }, { kid: world.w.keys.kid })),
    401,
    "bad_signature",
  ],
  [
    "signed by another registered issuer, claiming the victim",
    raw(() => rawToken(world.other, { ...goodClaims(world.w) }, { kid: world.w.keys.kid })),
    401,
    "bad_signature",
  ],
  [
    "payload tampered after signing",
    raw(async () => {
      const [h, , s] = (await good()).split(".");
      return `${h}.${enc({ ...goodClaims(world.w), roles: ["widgets_writer"], sub: "someone-else" })}.${s}`;
    }),
    401,
    "bad_signature",
  ],
  [
    "header tampered after signing",
    raw(async () => {
      const [, p, s] = (await good()).split(".");
      return `${enc({ alg: "ES256", kid: world.w.keys.kid, typ: "JWT", x: 1 })}.${p}.${s}`;
    }),
    401,
    "bad_signature",
  ],
  ["signature truncated", raw(async () => (await good()).slice(0, -10)), 401, "bad_signature"],
  [
    "the same signature spelled differently (non-canonical base64url)",
    raw(async () => {
      const t = await good();
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      const last = alphabet.indexOf(t.at(-1)!);
      return `${t.slice(0, -1)}${alphabet[last ^ 1]}`; // flips an unused low bit: same bytes, other string
    }),
    401,
    "token_malformed",
  ],
  [
    "RS256 signature from an unregistered RSA key",
    raw(async () => rawToken(await writer("x", "RS256", {}, 1), { ...goodClaims(world.rsa) }, { kid: world.rsa.keys.kid })),
    401,
    "bad_signature",
  ],
  // -- time -----------------------------------------------------------------------------------------
  ["expired two minutes ago", tokAt((t) => ({ iat: t - 180, exp: t - 120 })), 401, "token_expired"],
  ["expired just past the 30 s tolerance", tokAt((t) => ({ iat: t - 90, exp: t - 31 })), 401, "token_expired"],
  ["nbf two minutes ahead", tokAt((t) => ({ nbf: t + 120 })), 401, "token_not_yet_valid"],
  ["iat two minutes ahead", tokAt((t) => ({ iat: t + 120, exp: t + 150 })), 401, "token_not_yet_valid"],
  ["lifetime 600 s over the default max of 300", tokAt((t) => ({ iat: t, exp: t + 600 })), 401, "lifetime_too_long"],
  [
    "lifetime 120 s over an issuer max of 60",
    tokAt(
      (t) => ({ iat: t, exp: t + 120 }),
      () => world.strict,
    ),
    401,
    "lifetime_too_long",
  ],
  ["a year-long token", tokAt((t) => ({ iat: t, exp: t + 31_536_000 })), 401, "lifetime_too_long"],
  // -- required claims ------------------------------------------------------------------------------
  ["no exp", without("exp"), 401, "claim_missing"],
  ["no iat", without("iat"), 401, "claim_missing"],
  ["no aud", without("aud"), 401, "claim_missing"],
  ["no sub", without("sub"), 401, "claim_missing"],
  ["exp as a string", tokAt((t) => ({ exp: String(t + 60) })), 401, "claim_invalid"],
  ["iat as null", tok(() => world.w, { iat: null }), 401, "claim_invalid"],
  ["empty sub", tok(() => world.w, { sub: "" }), 401, "claim_invalid"],
  ["numeric sub", tok(() => world.w, { sub: 7 }), 401, "claim_invalid"],
  ["exp before iat", tokAt((t) => ({ iat: t, exp: t - 1 })), 401, "claim_invalid"],
  ["wrong audience", tok(() => world.w, { aud: "https://other-project.supabase.co" }), 401, "audience_mismatch"],
  ["array audience without ours", tok(() => world.w, { aud: ["https://a.example", "https://b.example"] }), 401, "audience_mismatch"],
  ["audience of a near miss", tok(() => world.w, { aud: `${AUDIENCE}/` }), 401, "audience_mismatch"],
  // -- roles ----------------------------------------------------------------------------------------
  ["role: service_role", tok(() => world.w, { roles: undefined, role: "service_role" }), 403, "role_not_allowed"],
  ["role: postgres", tok(() => world.w, { roles: undefined, role: "postgres" }), 403, "role_not_allowed"],
  ["role: supabase_admin", tok(() => world.w, { roles: undefined, role: "supabase_admin" }), 403, "role_not_allowed"],
  ["role: authenticated", tok(() => world.w, { roles: undefined, role: "authenticated" }), 403, "role_not_allowed"],
  ["roles: [service_role]", tok(() => world.w, { roles: ["service_role"] }), 403, "role_not_allowed"],
  ["one allowed role and one not", tok(() => world.w, { roles: ["widgets_writer", "orders_writer"] }), 403, "role_not_allowed"],
  ["another issuer's role", tok(() => world.other, { roles: ["widgets_writer"] }), 403, "role_not_allowed"],
  ...["authenticated", "anon", "service_role", "postgres", "supabase_admin", "authenticator", "pg_read_all_data", "drifted_writer"].map(
    (role): Case => [
      `registry db_role ${role}${role === "drifted_writer" ? " (flagged by the view's read-time check)" : ""}`,
      tok(() => extraLists.roles[role]!, { roles: [] }),
      403,
      "db_role_refused",
    ],
  ),
  ["roles as a string", tok(() => world.w, { roles: "widgets_writer" }), 401, "claim_invalid"],
  ["roles with a number", tok(() => world.w, { roles: [1] }), 401, "claim_invalid"],
  ["role as an object", tok(() => world.w, { roles: undefined, role: { name: "x" } }), 401, "claim_invalid"],
  ["role not a role name (the roles rule)", tok(() => world.w, { roles: undefined, role: "widgets writer; drop" }), 401, "claim_invalid"],
  // -- typ (explicit typing) ------------------------------------------------------------------------
  ["typ at+jwt (an access token)", tok(() => world.w, {}, { typ: "at+jwt" }), 401, "typ_not_allowed"],
  ["typ dpop+jwt", tok(() => world.w, {}, { typ: "dpop+jwt" }), 401, "typ_not_allowed"],
  ["typ JOSE", tok(() => world.w, {}, { typ: "JOSE" }), 401, "typ_not_allowed"],
  [
    "typ a number",
    raw(() => signedRaw(world.w, { alg: "ES256", kid: world.w.keys.kid, typ: 1 }, goodClaims(world.w))),
    401,
    "typ_not_allowed",
  ],
  // -- reserved claims ------------------------------------------------------------------------------
  ...[
    "app_metadata",
    "user_metadata",
    "is_anonymous",
    "aal",
    "amr",
    "session_id",
    "email",
    "phone",
    "app_roles",
    "writer_sub",
    "writer_kid",
    "ref",
    "writer_claims",
    "writer_iss",
    "fedjwt_gateway",
  ].map(
    (claim): Case => [
      `reserved claim ${claim}`,
      tok(() => world.w, { [claim]: claim === "app_roles" ? ["widgets_writer"] : "x" }),
      401,
      "claim_reserved",
    ],
  ),
  ["writer claims over 2048 bytes of JSON", tok(() => world.w, { note: "x".repeat(3000) }), 401, "claim_invalid"],
  // -- jti ------------------------------------------------------------------------------------------
  ["no jti for a require_jti issuer", tok(() => world.jti, { jti: undefined }), 401, "claim_missing"],
  ["numeric jti", tok(() => world.w, { jti: 5 }), 401, "claim_invalid"],
  // -- paths ----------------------------------------------------------------------------------------
  ["../auth/v1/user", raw(good, "/rest/../auth/v1/user"), 404, "path_not_allowed"],
  ["%2e%2e/auth/v1/user", raw(good, "/rest/%2e%2e/auth/v1/user"), 404, "path_not_allowed"],
  ["%2E%2E%2Fauth", raw(good, "/rest/%2E%2E%2Fauth%2Fv1%2Fuser"), 404, "path_not_allowed"],
  ["widgets%2f..%2fauth", raw(good, "/rest/widgets%2f..%2fauth"), 404, "path_not_allowed"],
  ["..%5cauth", raw(good, "/rest/..%5cauth"), 404, "path_not_allowed"],
  ["double slash", raw(good, "/rest//auth/v1/user"), 404, "path_not_allowed"],
  ["/auth/v1 through the function", raw(good, "/rest/auth/v1/user"), 404, "path_not_allowed"],
  ["/storage/v1 through the function", raw(good, "/rest/storage/v1/object/public/x"), 404, "path_not_allowed"],
  ["supabase-js form aimed at auth", raw(good, "/rest/rest/v1/../../auth/v1/user"), 404, "path_not_allowed"],
  ["another function's path", raw(good, "/other/widgets"), 404, "path_not_allowed"],
  ["the function root", raw(good, "/rest"), 404, "path_not_allowed"],
  ["an extra segment", raw(good, "/rest/widgets/1"), 404, "path_not_allowed"],
  ["rpc without a name", raw(good, "/rest/rpc"), 404, "path_not_allowed"],
  ["an encoded space", raw(good, "/rest/wid%20gets"), 404, "path_not_allowed"],
  ["a NUL byte", raw(good, "/rest/widgets%00"), 404, "path_not_allowed"],
  ["OpenAPI root through supabase-js form", raw(good, "/rest/rest/v1/"), 404, "path_not_allowed"],
  // -- schemas (Accept-Profile / Content-Profile) -----------------------------------------------------------
  [
    "Content-Profile graphql_public + POST /rpc/graphql",
    raw(good, "/rest/rpc/graphql", {
      method: "POST",
      headers: { "content-profile": "graphql_public", "content-type": "application/json" },
      body: '{"query":"{__schema{types{name}}}"}',
    }),
    406,
    "schema_not_allowed",
  ],
  [
    "Accept-Profile graphql_public",
    raw(good, "/rest/rpc/graphql", { headers: { "accept-profile": "graphql_public" } }),
    406,
    "schema_not_allowed",
  ],
  ["Accept-Profile auth", raw(good, "/rest/users", { headers: { "accept-profile": "auth" } }), 406, "schema_not_allowed"],
  ["Accept-Profile storage", raw(good, "/rest/objects", { headers: { "accept-profile": "storage" } }), 406, "schema_not_allowed"],
  [
    "Content-Profile federation",
    raw(good, "/rest/jti_replay", { method: "POST", headers: { "content-profile": "federation" }, body: "{}" }),
    406,
    "schema_not_allowed",
  ],
  [
    "Accept-Profile naming two schemas",
    raw(good, "/rest/widgets", { headers: { "accept-profile": "public,auth" } }),
    406,
    "schema_not_allowed",
  ],
  [
    "Content-Profile on an unsigned request",
    async () => request("/rest/rpc/graphql", null, { method: "POST", headers: { "content-profile": "graphql_public" } }),
    406,
    "schema_not_allowed",
  ],
  // -- planner estimates count rows RLS hides ------------------------------------------------------------
  ["Prefer: count=planned", raw(good, "/rest/widgets", { headers: { prefer: "count=planned" } }), 400, "prefer_not_allowed"],
  ["Prefer: count=estimated", raw(good, "/rest/widgets", { headers: { prefer: "count=estimated" } }), 400, "prefer_not_allowed"],
  [
    "Prefer: count=planned among other preferences",
    raw(good, "/rest/widgets", { headers: { prefer: "return=representation, COUNT=Planned" } }),
    400,
    "prefer_not_allowed",
  ],
  // -- query plans show policies and row estimates ------------------------------------------------------
  ["Accept: a query plan", raw(good, "/rest/widgets", { headers: { accept: "application/vnd.pgrst.plan+json" } }), 406, "plan_not_allowed"],
  [
    "Accept: a query plan among other types, with parameters, odd case",
    raw(good, "/rest/widgets", {
      headers: { accept: 'application/json, Application/Vnd.Pgrst.Plan; for="application/json"; options=analyze' },
    }),
    406,
    "plan_not_allowed",
  ],
  // -- smuggling and limits ---------------------------------------------------------------------------
  [
    "the service key as apikey, no token",
    async () => request("/rest/widgets", null, { headers: { apikey: SERVICE_KEY } }),
    401,
    "token_missing",
  ],
  [
    "x-forwarded-* and cookie without a token",
    async () =>
      request("/rest/widgets", null, {
        headers: { "x-forwarded-for": "127.0.0.1", cookie: "sb-access-token=x", "x-forwarded-host": "localhost" },
      }),
    401,
    "token_missing",
  ],
  [
    "a token in a cookie only",
    async () => request("/rest/widgets", null, { headers: { cookie: `sb-access-token=${await good()}` } }),
    401,
    "token_missing",
  ],
  ["OPTIONS", raw(good, "/rest/widgets", { method: "OPTIONS" }), 405, "method_not_allowed"],
  ["body over the limit (content-length)", raw(good, "/rest/widgets", { method: "POST", body: "x".repeat(2048) }), 413, "body_too_large"],
  [
    "body over the limit (streamed, no length)",
    raw(good, "/rest/widgets", {
      method: "POST",
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(600));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit),
    413,
    "body_too_large",
  ],
];

describe("attack matrix", () => {
  it("has at least 60 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });

  it.each(CASES.map(([name, build, status, reason]) => [name, status, reason, build] as const))(
    "%s → %i %s",
    async (_name, status, reason, build) => {
      const req = await build();
      const bearer = req.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
      const before = world.h.project.calls.length;
      const logged = world.h.logs.length;
      const res = await world.h.handler(req);
      const text = await res.text();
      const body = JSON.parse(text) as Record<string, unknown>;
      expect({ status: res.status, code: body.code }).toEqual({ status, code: reason });
      expect(Object.keys(body).sort()).toEqual(["code", "details", "hint", "message"]);
      expect(world.h.project.calls.length, "nothing reaches PostgREST").toBe(before);
      const log = world.h.logs.slice(logged);
      expect(log.filter((l) => l.event === "request_rejected").map((l) => l.reason)).toEqual([reason]);
      if (bearer.length > 20) {
        expect(text).not.toContain(bearer);
        expect(JSON.stringify(log)).not.toContain(bearer);
      }
      expect(text).not.toMatch(/BEGIN|at .*\.ts:\d+/);
      if (status === 401) {
        expect(res.headers.get("www-authenticate")).toBe(
          reason === "token_missing"
            ? 'Bearer realm="supabase-federated-writers"'
            : `Bearer error="invalid_token", error_description="${reason}"`,
        );
      }
      if (status === 403) expect(res.headers.get("www-authenticate")).toMatch(/^Bearer error="insufficient_scope"/);
    },
  );

  it("a replayed jti is refused for a require_jti issuer; the first use goes through", async () => {
    const token = await rawToken(world.jti, goodClaims(world.jti));
    const before = world.h.project.calls.length;
    expect((await world.h.handler(request("/rest/widgets", token))).status).toBe(200);
    expect(world.h.project.calls.length).toBe(before + 1);
    const replay = await world.h.handler(request("/rest/widgets", token));
    expect({ status: replay.status, code: (await replay.json()).code }).toEqual({ status: 401, code: "token_replayed" });
    expect(world.h.project.calls.length).toBe(before + 1);
  });

  it("a rejection log line names issuer and kid but never the token", async () => {
    const token = await rawToken(world.w, { ...goodClaims(world.w), aud: "elsewhere" });
    const logged = world.h.logs.length;
    await world.h.handler(request("/rest/widgets?secret=1", token));
    const [line] = world.h.logs.slice(logged);
    expect(line).toEqual({
      level: "warn",
      event: "request_rejected",
      reason: "audience_mismatch",
      request_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7/),
      status: 401,
      upstream_status: null,
      method: "GET",
      target: "widgets",
      path: "/rest/widgets",
      issuer: "widgets-service",
      kid: world.w.keys.kid,
      writer_sub: null,
      cache: "miss",
      ms: expect.any(Number),
    });
  });
});

describe("what is forwarded and logged", () => {
  it("Prefer: count=exact is forwarded (it counts only rows the writer may see)", async () => {
    const before = world.h.project.calls.length;
    const res = await world.h.handler(
      request("/rest/widgets", await rawToken(world.w, goodClaims(world.w)), { headers: { prefer: "count=exact" } }),
    );
    expect(res.status).toBe(200);
    expect(world.h.project.calls[before]!.headers.get("prefer")).toBe("count=exact");
  });

  it("an unverified iss that is not issuer-shaped never reaches the log", async () => {
    const forged = 'orders-service","reason":"ok","forged":"' + "X".repeat(4000);
    const token = await rawToken(world.w, { ...goodClaims(world.w), iss: forged }, { jku: "https://attacker.invalid/jwks" });
    const logged = world.h.logs.length;
    const res = await world.h.handler(request("/rest/widgets", token));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "token_malformed" });
    const lines = world.h.logs.slice(logged);
    expect(lines.map((l) => l.reason)).toEqual(["token_malformed"]);
    expect(JSON.stringify(lines)).not.toContain("forged");
    expect(lines[0]!.issuer).toBeNull();
  });
});

// Writers are principals of their own: what reaches PostgREST from a writer that tries to be someone else.
describe("a writer cannot act as a Supabase Auth user, another writer, or the platform", () => {
  const forwarded = async (w: Writer, claims: Record<string, unknown>) => {
    const before = world.h.project.calls.length;
    const res = await world.h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w, claims))));
    expect(res.status).toBe(200);
    const call = world.h.project.calls[before]!;
    return outboundClaims(call);
  };

  it("an Auth user's id as sub becomes the writer's own UUIDv5; the original is only writer_sub", async () => {
    const userId = crypto.randomUUID();
    const out = await forwarded(world.w, { sub: userId, roles: [] });
    expect(out.sub).not.toBe(userId);
    expect(out.sub).toBe(await uuidV5(`widgets-service\n${userId}`));
    expect(out.writer_sub).toBe(userId);
    expect(out.role).toBe("federated_writer");
  });

  it("another writer's derived subject as sub is derived again: it never equals that writer's", async () => {
    const victims = await uuidV5("orders-service\nworker-1");
    const out = await forwarded(world.w, { sub: victims, roles: [] });
    expect(out.sub).not.toBe(victims);
    expect(out.sub).toBe(await uuidV5(`widgets-service\n${victims}`));
  });

  it("custom claims (user_role, tenant_id, is_super_admin) arrive only inside writer_claims", async () => {
    const out = await forwarded(world.w, { user_role: "admin", tenant_id: "t-1", is_super_admin: true, roles: [] });
    for (const c of ["user_role", "tenant_id", "is_super_admin"]) expect(out).not.toHaveProperty(c);
    expect(out.writer_claims).toEqual({ user_role: "admin", tenant_id: "t-1", is_super_admin: true });
    expect(out.fedjwt_gateway).toBe(1);
  });

  it('a claim named "__proto__" is kept in writer_claims as its own property, and counts toward the size cap', async () => {
    const token = await rawToken(
      world.w,
      JSON.parse(`{"__proto__":{"user_role":"admin"},${JSON.stringify(goodClaims(world.w, { roles: [] })).slice(1)}`),
    );
    const before = world.h.project.calls.length;
    expect((await world.h.handler(request("/rest/widgets", token))).status).toBe(200);
    const out = await outboundClaims(world.h.project.calls[before]!);
    const nested = out.writer_claims as Record<string, unknown>;
    expect(Object.hasOwn(nested, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(nested, "__proto__")!.value).toEqual({ user_role: "admin" });
    expect(out).not.toHaveProperty("user_role");
    const big = await rawToken(
      world.w,
      JSON.parse(`{"__proto__":"${"x".repeat(3000)}",${JSON.stringify(goodClaims(world.w, { roles: [] })).slice(1)}`),
    );
    const res = await world.h.handler(request("/rest/widgets", big));
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 401, code: "claim_invalid" });
  });

  it("no writer_claims object when the writer signed nothing beyond the contract", async () => {
    expect(await forwarded(world.w, { roles: [] })).not.toHaveProperty("writer_claims");
  });

  it("details of a rejection carry no registry facts (key counts, limits, registered algs)", async () => {
    const cases = [
      await rawToken(extras.twoA, goodClaims(extras.twoA), { kid: undefined }),
      await rawToken(world.strict, goodClaims(world.strict, { iat: now(), exp: now() + 120 })),
      await rawToken(world.rsa, goodClaims(world.w), { kid: world.w.keys.kid }),
    ];
    for (const token of cases) {
      const body = (await (await world.h.handler(request("/rest/widgets", token))).json()) as { details: string | null };
      expect(body.details ?? "").not.toMatch(/\d|ES256|RS256|EdDSA/);
    }
  });

  it("an allowed profile (public) is forwarded; allowed schemas are configurable", async () => {
    const before = world.h.project.calls.length;
    const ok = await world.h.handler(
      request("/rest/widgets", await good(), { headers: { "accept-profile": "public", "content-profile": "public" } }),
    );
    expect(ok.status).toBe(200);
    expect(world.h.project.calls[before]!.headers.get("accept-profile")).toBe("public");
    const custom = harness([world.w], { allowedSchemas: ["public", "api"] });
    expect((await custom.handler(request("/rest/widgets", await good(), { headers: { "accept-profile": "api" } }))).status).toBe(200);
    const refused = await custom.handler(request("/rest/rpc/graphql", await good(), { headers: { "accept-profile": "graphql_public" } }));
    expect(refused.status).toBe(406);
    expect((await refused.json()).code).toBe("schema_not_allowed");
    expect(custom.project.calls).toHaveLength(1);
  });
});

describe("JWKS bounds", () => {
  const JWKS_URI = "https://writer.test/.well-known/jwks.json";

  async function jwksWorld(raw: () => Response, options: Parameters<typeof harness>[1] = {}) {
    const w = await writer("jwks-writer", "ES256", {}, 30);
    const h = harness([], options);
    h.project.add(w, { kid: null, public_key_pem: null, jwks_uri: JWKS_URI });
    h.project.jwks.set(JWKS_URI, { body: null, raw });
    return { w, h };
  }

  async function attempt(w: Writer, h: Harness) {
    const res = await h.handler(request("/rest/widgets", await rawToken(w, goodClaims(w))));
    return { status: res.status, body: (await res.json()) as { code: string; details: string | null } };
  }

  /** A JWKS answer streaming `count` chunks made by `chunk`; `pulled()` counts the chunks the gateway pulled. */
  function streamed(chunk: () => Uint8Array, count: number, headers: Record<string, string>) {
    let pulled = 0;
    const raw = () =>
      new Response(
        new ReadableStream({
          pull(c) {
            pulled++;
            c.enqueue(chunk());
            if (pulled >= count) c.close();
          },
        }),
        { headers },
      );
    return { raw, pulled: () => pulled };
  }

  it("a JWKS declaring 200 MiB is refused without reading its body", async () => {
    const body = streamed(() => new Uint8Array(1024 * 1024), 200, {
      "content-length": String(200 * 1024 * 1024),
      "content-type": "application/json",
    });
    const { w, h } = await jwksWorld(body.raw);
    const r = await attempt(w, h);
    expect(r).toEqual({ status: 503, body: expect.objectContaining({ code: "jwks_too_large" }) });
    expect(body.pulled()).toBeLessThanOrEqual(2); // at most what the stream queued before it was cancelled
    expect(h.project.calls).toHaveLength(0);
  });

  it("a streamed JWKS with no Content-Length is cut off at the limit", async () => {
    const body = streamed(() => new TextEncoder().encode(" ".repeat(16 * 1024)), 12_800, { "content-type": "application/json" }); // 200 MiB if read whole
    const { w, h } = await jwksWorld(body.raw);
    const r = await attempt(w, h);
    expect(r.body.code).toBe("jwks_too_large");
    expect(r.status).toBe(503);
    expect(body.pulled()).toBeLessThan(10); // 64 KiB default limit = 4 chunks of 16 KiB, plus what was queued
  });

  it("a JWKS with more keys than the key-count cap is refused, even when small", async () => {
    const w0 = await writer("jwks-writer", "ES256", {}, 30);
    const keys = Array.from({ length: 33 }, (_, i) => ({ ...w0.keys.publicJwk, kid: `k${i}` }));
    const { w, h } = await jwksWorld(() => Response.json({ keys }));
    const r = await attempt(w, h);
    expect(r).toEqual({ status: 503, body: expect.objectContaining({ code: "jwks_too_large" }) });
  });

  it("both caps are configurable, and a JWKS within them verifies", async () => {
    const w0 = await writer("jwks-writer", "ES256", {}, 30);
    const jwks = { keys: [{ ...w0.keys.publicJwk, kid: w0.keys.kid, alg: "ES256", use: "sig" }] };
    const fine = await jwksWorld(() => Response.json(jwks));
    expect((await attempt(fine.w, fine.h)).status).toBe(200);
    const tight = await jwksWorld(() => Response.json(jwks), { jwks: { maxKeys: 0 } });
    expect((await attempt(tight.w, tight.h)).body.code).toBe("jwks_too_large");
    const small = await jwksWorld(() => Response.json(jwks), { jwks: { maxBytes: 50 } });
    expect((await attempt(small.w, small.h)).body.code).toBe("jwks_too_large");
  });
});

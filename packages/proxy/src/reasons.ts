/**
 * Every way the gateway refuses a request, with its HTTP status. The code is the stable contract:
 * clients and logs branch on it; the message and hint are for people.
 */
export const REASONS = {
  // 401: the token is missing or not acceptable (RFC 6750 invalid_token).
  token_missing: { status: 401, message: "No bearer token", hint: "Send Authorization: Bearer <token minted by the writer's signer>." },
  token_malformed: {
    status: 401,
    message: "The token is not a well-formed compact JWS",
    hint: "Send the token exactly as the signer produced it.",
  },
  alg_not_allowed: {
    status: 401,
    message: "The token's algorithm is not allowed",
    hint: "Sign with the algorithm registered for the key (ES256, RS256 or EdDSA), or one of the URL issuer's algs.",
  },
  typ_not_allowed: {
    status: 401,
    message: "The token's typ is not JWT",
    hint: "Leave typ out of the header or set it to JWT.",
  },
  unknown_issuer: {
    status: 401,
    message: "The issuer is not registered",
    hint: "Register the writer's public key with `fedjwt register`, or the workload's issuer and a trust policy with `fedjwt trust`.",
  },
  unknown_kid: { status: 401, message: "No registered key has this kid", hint: "Register the key, or sign with a registered kid." },
  kid_missing: {
    status: 401,
    message: "The token has no kid and the issuer has several keys",
    hint: "Put the key's kid in the token header.",
  },
  key_inactive: {
    status: 401,
    message: "The signing key is not active",
    hint: "The key or issuer was deactivated, has expired, or is not valid yet.",
  },
  bad_signature: {
    status: 401,
    message: "The signature does not verify",
    hint: "Sign with the private key whose public key is registered.",
  },
  token_expired: { status: 401, message: "The token has expired", hint: "Mint a fresh token for every request." },
  token_not_yet_valid: {
    status: 401,
    message: "The token is not valid yet",
    hint: "Check the writer's clock (nbf and iat must not be in the future).",
  },
  lifetime_too_long: {
    status: 401,
    message: "The token's lifetime is longer than the issuer allows",
    hint: "Mint short-lived tokens (exp - iat within the issuer's max).",
  },
  audience_mismatch: {
    status: 401,
    message: "The token is not meant for this target",
    hint: "Set aud to this target's configured audience.",
  },
  claim_missing: {
    status: 401,
    message: "A required claim is missing",
    hint: "Tokens need iss, sub, aud, iat and exp (and jti where required).",
  },
  claim_reserved: {
    status: 401,
    message: "The token carries a claim the gateway reserves",
    hint: "Do not set gateway or Supabase Auth claims (app_roles, writer_claims, app_metadata, is_anonymous, …); request roles with `roles`.",
  },
  claim_invalid: {
    status: 401,
    message: "A claim has the wrong type or value",
    hint: "exp, iat and nbf are numbers of seconds; roles is an array of strings.",
  },
  token_replayed: { status: 401, message: "This token id was already used", hint: "Mint a new token (with a new jti) for every request." },
  token_kind_mismatch: {
    status: 401,
    message: "The token is not the kind of token this issuer is registered for",
    hint: "Send an ID token to an ID-token issuer; typ at+jwt access tokens only to issuers registered for access tokens.",
  },
  multiple_audiences: {
    status: 401,
    message: "The token names several audiences",
    hint: "Request a token whose aud is this project's audience alone.",
  },
  // 403: the token is fine but asks for more than the issuer may have (RFC 6750 insufficient_scope).
  role_not_allowed: {
    status: 403,
    message: "A requested role is not allowed for this issuer",
    hint: "Request only roles listed in the issuer's allowed_roles.",
  },
  db_role_refused: {
    status: 403,
    message: "The issuer's database role is not a writer role",
    hint: "Register the issuer with db_role federated_writer or a role made by federation.create_writer_role().",
  },
  event_not_allowed: {
    status: 403,
    message: "Tokens from this event are refused",
    hint: "pull_request_target and workflow_run run code from forks with the base repository's identity; a policy lifts this only explicitly (allow_events).",
  },
  runner_not_allowed: {
    status: 403,
    message: "Tokens from self-hosted runners are refused",
    hint: "Run the job on a hosted runner, or register the policy with allow_self_hosted.",
  },
  no_matching_policy: {
    status: 403,
    message: "No trust policy admits this token",
    hint: "Check the policies registered for this issuer (`fedjwt list`); the gateway's log line says which claims did not match.",
  },
  ambiguous_policy: {
    status: 403,
    message: "More than one trust policy admits this token",
    hint: "Make the issuer's policies disjoint (`fedjwt list`, `fedjwt untrust`): each workload must match exactly one.",
  },
  schema_not_allowed: {
    status: 406,
    message: "This schema is not served here",
    hint: "Use an allowed schema in Accept-Profile/Content-Profile (by default only public).",
  },
  prefer_not_allowed: {
    status: 400,
    message: "This Prefer value is not served here",
    hint: "Use Prefer: count=exact; planned and estimated counts are refused.",
  },
  plan_not_allowed: {
    status: 406,
    message: "Query plans are not served here",
    hint: "Remove application/vnd.pgrst.plan from Accept.",
  },
  // Everything else.
  path_not_allowed: {
    status: 404,
    message: "This path is not served here",
    hint: "Use <function>/<table>, <function>/rpc/<fn>, or <function>/rest/v1/<table>.",
  },
  method_not_allowed: { status: 405, message: "This method is not allowed", hint: "Use GET, HEAD, POST, PATCH, PUT or DELETE." },
  body_timeout: {
    status: 408,
    message: "The request body did not arrive in time",
    hint: "Send the whole body promptly (see FEDJWT_BODY_TIMEOUT_MS).",
  },
  rate_limited: {
    status: 429,
    message: "This issuer is over its request rate",
    hint: "Slow down and retry after the Retry-After seconds; the limit is the issuer's rate_limit_per_second.",
  },
  body_too_large: { status: 413, message: "The request body is too large", hint: "Split the write into smaller requests." },
  registry_unavailable: { status: 503, message: "The key registry could not be read", hint: "Retry later." },
  jwks_unavailable: {
    status: 503,
    message: "The issuer's JWKS could not be fetched",
    hint: "Retry later; the issuer's JWKS endpoint is unreachable.",
  },
  jwks_too_large: {
    status: 503,
    message: "The issuer's JWKS is over the size or key-count limit",
    hint: "Serve a small JWKS: only the keys in use.",
  },
  discovery_unavailable: {
    status: 503,
    message: "The issuer's OpenID configuration could not be fetched",
    hint: "Retry later; the issuer's /.well-known/openid-configuration is unreachable, too large or not valid.",
  },
  discovery_issuer_mismatch: {
    status: 503,
    message: "The issuer's OpenID configuration names another issuer",
    hint: "Register the issuer URL exactly as its discovery document's issuer spells it.",
  },
  proxy_misconfigured: { status: 503, message: "The gateway is not configured", hint: "See the function's logs." },
  upstream_unreachable: { status: 502, message: "The database API could not be reached", hint: "Retry later." },
  upstream_timeout: { status: 504, message: "The database API did not answer in time", hint: "Retry later." },
  internal_error: { status: 500, message: "Internal error", hint: "See the function's logs." },
} as const satisfies Record<string, { status: number; message: string; hint: string }>;

export type Reason = keyof typeof REASONS;

/** Reasons that mean "the token is unacceptable" (and so carry WWW-Authenticate). */
export function isTokenReason(reason: Reason): boolean {
  return REASONS[reason].status === 401 || REASONS[reason].status === 403;
}

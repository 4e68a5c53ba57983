export { createJwtSwapProxy, type ProxyOptions } from "./handler.ts";
export { type Admitted, type TokenCacheOptions, VerifiedTokenCache } from "./token-cache.ts";
export { ENV, proxyOptionsFromEnv } from "./env.ts";
export { verifyMultiIssuerJwt, type VerifiedToken, type VerifyOptions } from "./verify.ts";
export { JwtVerificationError, ProxyError } from "./errors.ts";
export { isTokenReason, REASONS, type Reason } from "./reasons.ts";
export {
  apiKeyHeaders,
  cachedRegistry,
  type IssuerPolicy,
  type IssuerRecord,
  isJwtKey,
  type KeyRegistry,
  postgrestLimitSink,
  postgrestRegistry,
  postgrestUsageSink,
  type RegistryKey,
} from "./registry.ts";
export { isAllowedJwksUri, JwksPool, type JwksOptions } from "./jwks.ts";
export {
  createOutboundSigner,
  GATEWAY_MARKER_CLAIM,
  MAX_OUTBOUND_LIFETIME_SECONDS,
  outboundClaims,
  type SigningKeyConfig,
} from "./outbound.ts";
export { isWriterDbRoleName } from "./db-role.ts";
export { checkProfiles } from "./profiles.ts";
export { resolveTarget, type Target } from "./paths.ts";
export { FORWARDED_REQUEST_HEADERS } from "./headers.ts";
export { isUuid, uuidV5, WRITER_SUB_NAMESPACE } from "./uuid.ts";
export { isWellFormedRequestId, REQUEST_ID_HEADER, REQUEST_ID_PATTERN, requestIdOf, uuidV7 } from "./request-id.ts";
export { type AccessLogMode, capText, consoleLogger, type Logger, parseAccessLogMode } from "./log.ts";
export { type RateLimit, RateLimiter } from "./rate-limit.ts";
export { type UsageOptions, UsageRecorder, UsageRefusedError, type UsageRow, type UsageSink } from "./usage.ts";
export { type LimitCountRow, type LimitSink, type LimitWindow, SharedLimits, type SharedLimitsOptions } from "./shared-limits.ts";
export {
  assertValidPolicy,
  audienceProblems,
  type ClaimSpec,
  claimSpec,
  claimValue,
  entraTenant,
  identityClaims,
  isProviderName,
  isSharedDefaultAudience,
  issuerUrlProblems,
  MAX_CONDITION_VALUE_LENGTH,
  MAX_CONDITIONS,
  MAX_URL_ISSUER_LIFETIME_SECONDS,
  POLICY_PROBLEM_CODES,
  PolicyError,
  type PolicyInput,
  type PolicyProblem,
  type PolicyProblemCode,
  policyProblems,
  PROVIDER_NAMES,
  type ProviderName,
  PROVIDERS,
  type ProviderTemplate,
  SHARED_DEFAULT_AUDIENCES,
  subjectName,
  templateRefusal,
  type TokenKind,
  URL_ISSUER_ALGS,
  type UrlIssuerAlg,
  urlIssuerProblems,
  writerClaimNames,
} from "./providers.ts";
export { isPlainText } from "./text.ts";
export {
  cachedTrustRegistry,
  parseTrustDocument,
  postgrestTrustRegistry,
  type TrustDocument,
  type TrustPolicyRow,
  type TrustRecord,
  type TrustRegistry,
  type UrlIssuer,
} from "./trust-registry.ts";
export { compilePolicies, type CompiledPolicies, type CompiledPolicy, matchPolicies, type MatchResult } from "./policy-match.ts";
export { DiscoveryCache, type DiscoveryOptions, discoveryUrl } from "./discovery.ts";
export { isUrlIssuerShape } from "./url-issuer.ts";
export type { TrustAdmission } from "./url-verify.ts";

import { readLimited } from "./body.ts";
import { ProxyError } from "./errors.ts";
import { isAllowedJwksUri } from "./jwks.ts";
import { capText } from "./log.ts";

export interface DiscoveryOptions {
  fetch?: typeof fetch;
  /** Per-fetch timeout (default 3000 ms). */
  timeoutMs?: number;
  /** Largest discovery document accepted (default 64 KiB). */
  maxBytes?: number;
  /** Bounds for the document's Cache-Control max-age (defaults 5 s and 10 min; no header → the upper bound). */
  minCacheMs?: number;
  maxCacheMs?: number;
  /** After a failed fetch, requests fail fast for this long instead of refetching (default 5000 ms). */
  cooldownMs?: number;
  now?: () => number;
}

interface Entry {
  jwksUri: string | undefined;
  freshUntil: number;
  failedUntil: number;
  failure: ProxyError | undefined;
  inflight: Promise<string> | undefined;
}

/** Where an issuer's OpenID configuration lives (OpenID Connect Discovery 1.0 §4: issuer + /.well-known/…). */
export function discoveryUrl(issuerUrl: string): string {
  return `${issuerUrl.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

function maxAgeMs(cacheControl: string | null): number | undefined {
  if (!cacheControl) return undefined;
  if (/\bno-(store|cache)\b/i.test(cacheControl)) return 0;
  const m = /\bmax-age=(\d+)/i.exec(cacheControl);
  return m ? Number(m[1]) * 1000 : undefined;
}

/**
 * Reads URL issuers' OIDC discovery documents for their `jwks_uri`, with the same bounds as JWKS fetches:
 * a timeout, a size limit, no redirects, Cache-Control within bounds, one fetch in flight per issuer, and
 * fail-fast after a failure. The document's `issuer` must equal the registered URL exactly
 * (discovery_issuer_mismatch); a document that cannot be had when the cached one is stale is an error
 * (discovery_unavailable), never a reason to keep trusting the old one.
 */
export class DiscoveryCache {
  readonly #entries = new Map<string, Entry>();
  readonly #o: Required<DiscoveryOptions>;

  constructor(options: DiscoveryOptions = {}) {
    this.#o = {
      fetch: options.fetch ?? fetch,
      timeoutMs: options.timeoutMs ?? 3000,
      maxBytes: options.maxBytes ?? 64 * 1024,
      minCacheMs: options.minCacheMs ?? 5000,
      maxCacheMs: options.maxCacheMs ?? 600_000,
      cooldownMs: options.cooldownMs ?? 5000,
      now: options.now ?? Date.now,
    };
  }

  /** The issuer's jwks_uri from its (fresh) discovery document. */
  jwksUri(issuerUrl: string): Promise<string> {
    let entry = this.#entries.get(issuerUrl);
    if (!entry)
      this.#entries.set(
        issuerUrl,
        (entry = { jwksUri: undefined, freshUntil: 0, failedUntil: 0, failure: undefined, inflight: undefined }),
      );
    const now = this.#o.now();
    if (entry.jwksUri !== undefined && now < entry.freshUntil) return Promise.resolve(entry.jwksUri);
    if (entry.failure && now < entry.failedUntil) return Promise.reject(entry.failure);
    let inflight = entry.inflight;
    if (!inflight) {
      const e = entry;
      inflight = e.inflight = this.#fetch(issuerUrl).then(
        ({ jwksUri, maxAge }) => {
          e.jwksUri = jwksUri;
          e.freshUntil = this.#o.now() + Math.min(this.#o.maxCacheMs, Math.max(this.#o.minCacheMs, maxAge ?? this.#o.maxCacheMs));
          e.failure = undefined;
          e.inflight = undefined;
          return jwksUri;
        },
        (err: unknown) => {
          const failure =
            err instanceof ProxyError ? err : new ProxyError("discovery_unavailable", "the discovery document could not be fetched");
          e.jwksUri = undefined;
          e.failure = failure;
          e.failedUntil = this.#o.now() + this.#o.cooldownMs;
          e.inflight = undefined;
          throw failure;
        },
      );
    }
    return inflight;
  }

  async #fetch(issuerUrl: string): Promise<{ jwksUri: string; maxAge: number | undefined }> {
    const o = this.#o;
    const unavailable = (details: string) => new ProxyError("discovery_unavailable", details);
    let res: Response;
    try {
      res = await o.fetch(discoveryUrl(issuerUrl), {
        headers: { accept: "application/json" },
        redirect: "manual",
        signal: AbortSignal.timeout(o.timeoutMs),
      });
    } catch (e) {
      const name = (e as Error)?.name;
      throw unavailable(name === "TimeoutError" || name === "AbortError" ? `no answer within ${o.timeoutMs} ms` : "connection failed");
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw unavailable(`the discovery endpoint answered ${res.status}`);
    }
    const tooLarge = () => unavailable(`the discovery document is over ${o.maxBytes} bytes`);
    const declared = res.headers.get("content-length");
    if (declared !== null && Number(declared) > o.maxBytes) {
      await res.body?.cancel();
      throw tooLarge();
    }
    const bytes = res.body ? await readLimited(res.body, o.maxBytes, tooLarge) : new Uint8Array(0);
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      doc = JSON.parse(new TextDecoder().decode(bytes)) as typeof doc;
    } catch {
      throw unavailable("the discovery document is not JSON");
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw unavailable("the discovery document is not a JSON object");
    if (doc.issuer !== issuerUrl) {
      const err = new ProxyError("discovery_issuer_mismatch", "the discovery document names another issuer than the registered URL");
      err.logDetails = {
        registered_issuer: capText(issuerUrl, 128),
        document_issuer: typeof doc.issuer === "string" ? capText(doc.issuer, 128) : null,
      };
      throw err;
    }
    if (typeof doc.jwks_uri !== "string" || !isAllowedJwksUri(doc.jwks_uri)) {
      throw unavailable("the discovery document has no https jwks_uri");
    }
    return { jwksUri: doc.jwks_uri, maxAge: maxAgeMs(res.headers.get("cache-control")) };
  }
}

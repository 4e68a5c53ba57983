// An OAuth client-credentials writer against a real authorization server: oidc-provider (npm) started here on
// loopback, with OIDC discovery, a JWKS, the client credentials grant and RFC 9068 JWT access tokens
// (typ at+jwt). The gateway finds its keys by discovery, admits the pinned client as its writer, refuses
// another client, and survives the server rotating its signing key (no failure once the JWKS cooldown passed).
import { createServer, type Server } from "node:http";
import { decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from "jose";
import Provider, { type Configuration } from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, harness, outboundClaims, request, trustPolicy, urlIssuer, type Harness } from "../src/testing.ts";

async function signingKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
}

/** An oidc-provider instance for `issuer` signing JWT access tokens with the first of `keys`. */
function authorizationServer(issuer: string, keys: JWK[]): Provider {
  const provider = new Provider(issuer, {
    clients: ["svc-a", "svc-b"].map((id) => ({
      client_id: id,
      client_secret: `${id}-secret`,
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: "client_secret_basic",
      id_token_signed_response_alg: "ES256",
    })),
    jwks: { keys } as Configuration["jwks"],
    clientDefaults: { id_token_signed_response_alg: "ES256" },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "write",
          audience: AUDIENCE,
          accessTokenFormat: "jwt",
          accessTokenTTL: 300,
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
  });
  return provider;
}

describe("OAuth client credentials (oidc-provider)", () => {
  let server: Server;
  let issuer: string;
  let current: Provider;
  let h: Harness;
  const keyA = signingKey("key-a");
  const keyB = signingKey("key-b");
  const COOLDOWN_MS = 300;

  beforeAll(async () => {
    server = createServer((req, res) => current.callback()(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    current = authorizationServer(issuer, [await keyA]);
    // The gateway's fetches to the authorization server go over loopback; everything else to the fake project.
    h = harness([], {
      usage: false,
      jwks: { cooldownMs: COOLDOWN_MS, minCacheMs: 60_000 },
      fetch: (input, init) => {
        const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
        return url.startsWith(issuer) ? fetch(input, init) : h.project.fetch(input, init);
      },
    });
    h.project.trust.set(issuer, {
      issuer: urlIssuer(issuer, null, { token_kind: "access_token", algs: ["ES256"], max_lifetime_seconds: 3600 }),
      policies: [trustPolicy("svc-writer", "oauth-client", { sub: "svc-a", client_id: "svc-a" })],
    });
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
  });

  /** An access token from the server's token endpoint (client credentials grant). */
  async function accessToken(client: string): Promise<string> {
    const res = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`${client}:${client}-secret`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: "write", resource: AUDIENCE }),
    });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!body.access_token) throw new Error(`token endpoint: ${res.status} ${body.error} ${body.error_description}`);
    return body.access_token;
  }

  it("serves discovery whose issuer is its URL, and issues at+jwt access tokens for the project's audience", async () => {
    const doc = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
    expect(doc.issuer).toBe(issuer);
    const token = await accessToken("svc-a");
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: "at+jwt", alg: "ES256", kid: "key-a" });
  });

  it("a client-credentials writer writes: the pinned client is admitted as the policy's writer", async () => {
    const res = await h.handler(
      request("/rest/widgets", await accessToken("svc-a"), {
        method: "POST",
        body: JSON.stringify({ name: "from svc-a" }),
        headers: { "content-type": "application/json" },
      }),
    );
    expect(res.status).toBe(200);
    const call = h.project.calls.at(-1)!;
    expect(call.method).toBe("POST");
    expect(call.body).toBe('{"name":"from svc-a"}');
    const out = await outboundClaims(call);
    expect(out).toMatchObject({
      iss: "svc-writer",
      role: "federated_writer",
      writer_sub: "svc-a",
      writer_claims: { client_id: "svc-a", sub: "svc-a", scope: "write", issuer_url: issuer },
    });
  });

  it("another client of the same server is refused (no_matching_policy)", async () => {
    const res = await h.handler(request("/rest/widgets", await accessToken("svc-b")));
    expect({ status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({
      status: 403,
      code: "no_matching_policy",
    });
  });

  it("rotating the server's signing key fails no request once the JWKS cooldown has passed", async () => {
    expect((await h.handler(request("/rest/widgets", await accessToken("svc-a")))).status).toBe(200);
    // The server now signs with key B and publishes both keys.
    current = authorizationServer(issuer, [await keyB, await keyA]);
    const rotated = await accessToken("svc-a");
    expect(decodeProtectedHeader(rotated).kid).toBe("key-b");
    // Whatever the gateway answers inside the cooldown, only the unknown kid may be refused.
    const early = await h.handler(request("/rest/widgets", rotated));
    if (early.status !== 200) expect(((await early.json()) as { code: string }).code).toBe("unknown_kid");
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
    for (let i = 0; i < 3; i++) {
      expect((await h.handler(request("/rest/widgets", await accessToken("svc-a")))).status).toBe(200);
    }
    // Tokens signed with the old key, still published, keep working.
    current = authorizationServer(issuer, [await keyA, await keyB]);
    expect((await h.handler(request("/rest/widgets", await accessToken("svc-a")))).status).toBe(200);
  });
});

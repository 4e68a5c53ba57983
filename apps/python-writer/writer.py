"""A Python writer: mints its own short-lived ES256 tokens with PyJWT and writes through the `rest` function.

The recipe docs/python-writer.md explains, step by step. Run it against the local stack (`pnpm dev` or
`pnpm stack`) once the issuer is registered:

    fedjwt keygen --issuer python-writer --target local --alg ES256 --out keys
    fedjwt register --issuer python-writer --public-key keys/python-writer-local.pub \
        --allowed-role orders_writer --allowed-role stock_reader
    PY_WRITER_KEY=keys/python-writer-local.key python3 apps/python-writer/writer.py

Environment: FEDJWT_API_URL (default http://127.0.0.1:54321), FEDJWT_ANON_KEY (any publishable/anon key:
supabase-py needs one, the function ignores it), FEDJWT_AUDIENCE (default FEDJWT_API_URL, exact),
PY_WRITER_ISSUER (default python-writer), PY_WRITER_KEY (PKCS#8 PEM private key file).
Prints one JSON object: what each step got.
"""

import base64
import hashlib
import json
import os
import sys
import time
import uuid

import httpx
import jwt  # PyJWT (with cryptography for ES256)
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import ECAlgorithm


def kid_of(private_key) -> str:
    """The key's RFC 7638 thumbprint (SHA-256): the kid `fedjwt keygen`/`register` give a key by default."""
    jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def mint(private_key, issuer: str, audience: str, roles: list[str], sub: str = "python-worker") -> str:
    """One token for one request: 60 s, a fresh jti, the requested application roles."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": sub,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        "roles": roles,
    }
    # PyJWT writes {"alg": "ES256", "kid": …, "typ": "JWT"}: typ JWT is what the contract accepts.
    return jwt.encode(claims, private_key, algorithm="ES256", headers={"kid": kid_of(private_key)})


def main() -> None:
    api_url = os.environ.get("FEDJWT_API_URL", "http://127.0.0.1:54321")
    audience = os.environ.get("FEDJWT_AUDIENCE", api_url)
    api_key = os.environ.get("FEDJWT_ANON_KEY", "not-checked-by-the-function")
    issuer = os.environ.get("PY_WRITER_ISSUER", "python-writer")
    with open(os.environ["PY_WRITER_KEY"], "rb") as f:
        private_key = load_pem_private_key(f.read(), password=None)
    gateway = f"{api_url}/functions/v1/rest"
    out: dict = {}

    # 1. Plain httpx: a bearer token per request, no apikey needed.
    token = mint(private_key, issuer, audience, ["stock_reader"])
    r = httpx.get(f"{gateway}/stock_levels", params={"select": "sku,quantity", "order": "sku"},
                  headers={"Authorization": f"Bearer {token}"})
    out["httpx_read"] = {"status": r.status_code, "body": r.json()}

    # 2. supabase-py, unchanged. It has no accessToken option, and an httpx.Auth on a custom client is
    #    dropped (postgrest-py passes auth=None per request): set the bearer on its PostgREST client before
    #    each request instead. It is copied into the request when the query is built.
    try:
        from postgrest.exceptions import APIError
        from supabase import create_client
    except ImportError as e:
        out["supabase"] = {"skipped": f"supabase-py is not installed ({e})"}
        print(json.dumps(out))
        return

    client = create_client(gateway, api_key)

    def as_writer(roles: list[str]):
        """The client with a fresh token for the next request (one client per thread)."""
        client.postgrest.auth(mint(private_key, issuer, audience, roles))
        return client

    roles = ["orders_writer", "stock_reader"]
    placed = as_writer(roles).table("orders").insert({"sku": "WIDGET-BLUE", "quantity": 1}).execute()
    out["supabase_insert"] = placed.data
    mine = as_writer(roles).table("orders").select("id,sku,quantity,writer_issuer").eq("id", placed.data[0]["id"]).execute()
    out["supabase_select"] = mine.data
    try:
        as_writer(["orders_reader"]).table("orders").select("id").execute()
        out["supabase_refused"] = None
    except APIError as e:
        out["supabase_refused"] = {"code": e.code, "message": e.message}
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())

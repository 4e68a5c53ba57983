"""A Python writer: mints its own short-lived ES256 tokens with PyJWT and writes through the `rest` function.

docs/python-writer.md is this file, explained. Prints one JSON object: what each request got.
"""

import base64
import hashlib
import json
import os
import time
import uuid

import httpx
import jwt  # PyJWT (with cryptography for ES256)
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import ECAlgorithm

api_url = os.environ.get("FEDJWT_API_URL", "http://127.0.0.1:54321")
audience = os.environ.get("FEDJWT_AUDIENCE", api_url)
api_key = os.environ["FEDJWT_PUBLISHABLE_KEY"]
issuer = os.environ.get("PY_WRITER_ISSUER", "python-writer")
with open(os.environ["PY_WRITER_KEY"], "rb") as f:
    private_key = load_pem_private_key(f.read(), password=None)
gateway = f"{api_url}/functions/v1/rest"
out: dict = {}


def kid_of(private_key) -> str:
    """The key's RFC 7638 thumbprint (SHA-256): the kid `fedjwt keygen`/`register` give a key by default."""
    jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def mint(roles: list[str], sub: str = "python-worker") -> str:
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


r = httpx.post(f"{gateway}/readings", json={"sensor": "t1", "value": 21.5},
               headers={"Authorization": f"Bearer {mint(['readings_writer'])}", "Prefer": "return=representation"})
out["httpx_insert"] = {"status": r.status_code, "body": r.json()}
r = httpx.get(f"{gateway}/readings", params={"select": "sensor,value,writer_issuer"},
              headers={"Authorization": f"Bearer {mint(['readings_writer'])}"})
out["httpx_read"] = {"status": r.status_code, "body": r.json()}


try:
    from postgrest.exceptions import APIError
    from supabase import create_client
except ImportError as e:
    out["supabase"] = {"skipped": f"supabase-py is not installed ({e})"}
    print(json.dumps(out))
    raise SystemExit(0)

client = create_client(gateway, api_key)


def as_writer(roles: list[str]):
    """The client with a fresh token for the next request (one client per thread)."""
    client.postgrest.auth(mint(roles))
    return client


placed = as_writer(["readings_writer"]).table("readings").insert({"sensor": "t2", "value": 19}).execute()
out["supabase_insert"] = placed.data
mine = as_writer(["readings_writer"]).table("readings").select("id,sensor,writer_issuer").eq("id", placed.data[0]["id"]).execute()
out["supabase_select"] = mine.data
try:
    as_writer(["admin"]).table("readings").select("id").execute()
    out["supabase_refused"] = None
except APIError as e:
    out["supabase_refused"] = {"code": e.code, "message": e.message}
print(json.dumps(out))

"""A test identity provider: signing keys made in the test, their JWKS, and ID tokens."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://id.test.example"
AUDIENCE = "mm-apps"


@dataclasses.dataclass
class IdentityProvider:
    """An RSA and an EC signing key (kids ``rsa-1``, ``ec-1``) published as a JWKS."""

    rsa_key: rsa.RSAPrivateKey = dataclasses.field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    ec_key: ec.EllipticCurvePrivateKey = dataclasses.field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, alg, key in (("rsa-1", "RS256", self.rsa_key), ("ec-1", "ES256", self.ec_key)):
            jwk = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": alg})
        return {"keys": keys}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()), encoding="utf-8")
        return path

    def token(
        self,
        sub: str,
        *,
        kid: str = "rsa-1",
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        expires_in: float = 300,
        key: Any = None,
        **claims: Any,
    ) -> str:
        """A signed ID token for ``sub``; ``key`` signs instead of the published key (forgery)."""
        alg = "RS256" if kid.startswith("rsa") else "ES256"
        signer = key or (self.rsa_key if alg == "RS256" else self.ec_key)
        now = int(time.time())
        payload = {"sub": sub, "iss": issuer, "aud": audience, "iat": now,
                   "exp": int(now + expires_in), **claims}
        return jwt.encode(payload, signer, algorithm=alg, headers={"kid": kid})

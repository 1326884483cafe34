"""Subject binding: consent and rights must come from the user they are about.

The identity provider the apps log users in with publishes its signing keys as a JWKS; the
app sends the logged-in user's token (a JWT) in ``X-Subject-Token``. :class:`SubjectVerifier`
checks it with PyJWT: the signature against a key of the JWKS (asymmetric algorithms only, so
neither ``none`` nor an HMAC made with a public key can pass), ``exp``, ``iss``, ``aud``, and
returns ``sub``. The collector then accepts a consent/1 or rights/1 event only when its
``user_id`` equals that ``sub``. Tokens and subjects are never logged.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
from pathlib import Path
from typing import Any, Final

import jwt

from pipeline.collector.exceptions import SubjectConfigError, SubjectTokenError
from pipeline.settings import Settings

ALGORITHMS: Final = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
)
"""Accepted signature algorithms: asymmetric only (no ``none``, no ``HS*``)."""
LEEWAY_S: Final = 30
"""Clock skew tolerated on ``exp`` (and ``nbf``/``iat`` when present), seconds."""
MAX_TOKEN_CHARS: Final = 8192
"""Longer header values are refused before any parsing."""
HEADER: Final = "x-subject-token"


class SubjectVerifier:
    """Verifies subject tokens against one JWKS, issuer and audience."""

    def __init__(self, jwks: dict[str, Any], issuer: str, audience: str) -> None:
        try:
            keyset = jwt.PyJWKSet.from_dict(jwks)
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise SubjectConfigError(f"the JWKS holds no usable key ({exc})") from None
        # Symmetric (oct) keys are left out: a shared secret cannot prove who signed.
        self._keys = [k for k in keyset.keys if k.algorithm_name in ALGORITHMS]
        if not self._keys:
            raise SubjectConfigError("the JWKS holds no asymmetric signing key (RSA, EC, OKP)")
        self.issuer = issuer
        self.audience = audience

    @classmethod
    def from_settings(cls, settings: Settings) -> SubjectVerifier | None:
        """The verifier the settings ask for; ``None`` when no JWKS is configured.

        Raises:
            SubjectConfigError: the file cannot be read or parsed, or issuer/audience missing.
        """
        path: Path | None = settings.collector_subject_jwks
        if path is None:
            return None
        env = settings.env_names()
        if not settings.collector_subject_issuer or not settings.collector_subject_audience:
            raise SubjectConfigError(
                f"{env['collector_subject_jwks']} is set: set {env['collector_subject_issuer']} "
                f"and {env['collector_subject_audience']} too"
            )
        try:
            jwks = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SubjectConfigError(f"cannot read the JWKS {path} ({exc.strerror})") from None
        except ValueError:
            raise SubjectConfigError(f"the JWKS {path} is not JSON") from None
        if not isinstance(jwks, dict):
            raise SubjectConfigError(f"the JWKS {path} is not a JSON object with 'keys'")
        return cls(jwks, settings.collector_subject_issuer, settings.collector_subject_audience)

    def subject(self, token: str | None) -> str:
        """The verified ``sub`` of ``token``.

        Raises:
            SubjectTokenError: missing, malformed, unsigned, signed by an unknown key, expired,
                of another issuer or audience, or without ``sub``; the message says which.
        """
        if not token:
            raise SubjectTokenError("X-Subject-Token header missing: send the user's ID token")
        if len(token) > MAX_TOKEN_CHARS:
            raise SubjectTokenError(f"subject token over {MAX_TOKEN_CHARS} characters")
        key = self._key_for(token)
        try:
            claims = jwt.decode(
                token, key=key, algorithms=list(ALGORITHMS), issuer=self.issuer,
                audience=self.audience, leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise SubjectTokenError("subject token expired") from None
        except jwt.InvalidIssuerError:
            raise SubjectTokenError("subject token of another issuer") from None
        except jwt.InvalidAudienceError:
            raise SubjectTokenError("subject token for another audience") from None
        except jwt.InvalidSignatureError:
            raise SubjectTokenError("subject token signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise SubjectTokenError(f"subject token has no '{exc.claim}' claim") from None
        except jwt.PyJWTError as exc:
            raise SubjectTokenError(f"subject token invalid ({type(exc).__name__})") from None
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise SubjectTokenError("subject token 'sub' is not a non-empty string")
        return sub

    def _key_for(self, token: str) -> jwt.PyJWK:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise SubjectTokenError("subject token is not a JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise SubjectTokenError("subject token algorithm not allowed (asymmetric only)")
        candidates = [k for k in self._keys if kid is None or k.key_id == kid]
        # With no kid, a single key is unambiguous; several would each need a try.
        if len(candidates) != 1:
            raise SubjectTokenError("subject token signed by a key not in the JWKS")
        return candidates[0]


@dataclasses.dataclass(frozen=True)
class SubjectCheck:
    """One request's subject token, verified: its ``sub``, or why there is none."""

    subject: str | None
    error: str | None = None

    def reason(self, user_id: str) -> str | None:
        """Why an event about ``user_id`` is refused, or ``None`` when the token binds it."""
        if self.subject is None:
            return self.error or "X-Subject-Token missing"
        if not hmac.compare_digest(self.subject.encode(), user_id.encode()):
            return "user_id: not the subject of the X-Subject-Token (its 'sub' differs)"
        return None


def check_request(verifier: SubjectVerifier, token: str | None) -> SubjectCheck:
    """Verify a request's ``X-Subject-Token`` once, for every event of its batch."""
    try:
        return SubjectCheck(verifier.subject(token))
    except SubjectTokenError as exc:
        return SubjectCheck(None, str(exc))

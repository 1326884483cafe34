"""Subject tokens: a JWT from the apps' identity provider binds consent/rights to ``sub``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jwt
import pytest

from pipeline.collector.exceptions import SubjectConfigError, SubjectTokenError
from pipeline.collector.subject import SubjectCheck, SubjectVerifier, check_request
from pipeline.settings import Settings
from tests.subject_tokens import AUDIENCE, ISSUER, IdentityProvider


@pytest.fixture(scope="module")
def idp() -> IdentityProvider:
    return IdentityProvider()


@pytest.fixture(scope="module")
def verifier(idp: IdentityProvider) -> SubjectVerifier:
    return SubjectVerifier(idp.jwks(), ISSUER, AUDIENCE)


def refusal(verifier: SubjectVerifier, token: str | None) -> str:
    with pytest.raises(SubjectTokenError) as caught:
        verifier.subject(token)
    return str(caught.value)


def test_a_valid_token_gives_its_subject_rsa_and_ec(
    idp: IdentityProvider, verifier: SubjectVerifier
) -> None:
    assert verifier.subject(idp.token("user-1")) == "user-1"
    assert verifier.subject(idp.token("user-2", kid="ec-1")) == "user-2"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"expires_in": -120}, "expired"),  # beyond the 30 s leeway
        ({"issuer": "https://evil.example"}, "another issuer"),
        ({"audience": "other-app"}, "another audience"),
        ({"kid": "unknown-1"}, "not in the JWKS"),
    ],
)
def test_bad_claims_and_keys_are_refused_with_a_reason(
    idp: IdentityProvider, verifier: SubjectVerifier, kwargs: dict[str, object], reason: str
) -> None:
    assert reason in refusal(verifier, idp.token("user-1", **kwargs))  # type: ignore[arg-type]


def test_a_forged_signature_is_refused(idp: IdentityProvider, verifier: SubjectVerifier) -> None:
    forger = IdentityProvider()  # same kid, another private key
    assert "signature" in refusal(verifier, forger.token("user-1"))
    assert "signature" in refusal(verifier, idp.token("user-1", key=forger.rsa_key))
    # A valid token whose payload is swapped for another subject's.
    head, _, sig = idp.token("user-1").split(".")
    body = base64.urlsafe_b64encode(json.dumps(
        {"sub": "victim", "iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800}
    ).encode()).rstrip(b"=").decode()
    assert "signature" in refusal(verifier, f"{head}.{body}.{sig}")


def test_none_and_hmac_with_the_public_key_are_refused(
    idp: IdentityProvider, verifier: SubjectVerifier
) -> None:
    claims = {"sub": "u", "iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "rsa-1"})
    assert "algorithm not allowed" in refusal(verifier, unsigned)
    public_pem = json.dumps(idp.jwks()["keys"][0]).encode() * 2  # any bytes an attacker knows
    hmac_token = jwt.encode(claims, public_pem, algorithm="HS256", headers={"kid": "rsa-1"})
    assert "algorithm not allowed" in refusal(verifier, hmac_token)


def test_missing_malformed_oversized_and_subjectless_tokens(
    idp: IdentityProvider, verifier: SubjectVerifier
) -> None:
    assert "missing" in refusal(verifier, None)
    assert "missing" in refusal(verifier, "")
    assert "not a JWT" in refusal(verifier, "not.a.jwt")
    assert "8192" in refusal(verifier, "x" * 9000)
    no_sub = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800}, idp.rsa_key,
                        algorithm="RS256", headers={"kid": "rsa-1"})
    assert "'sub'" in refusal(verifier, no_sub)
    no_exp = jwt.encode({"sub": "u", "iss": ISSUER, "aud": AUDIENCE}, idp.rsa_key,
                        algorithm="RS256", headers={"kid": "rsa-1"})
    assert "'exp'" in refusal(verifier, no_exp)


def test_the_check_binds_user_id_to_sub(idp: IdentityProvider, verifier: SubjectVerifier) -> None:
    check = check_request(verifier, idp.token("user-1"))
    assert check.reason("user-1") is None
    assert "not the subject" in str(check.reason("user-2"))
    failed = check_request(verifier, idp.token("user-1", expires_in=-120))
    assert failed == SubjectCheck(None, "subject token expired")
    assert failed.reason("user-1") == "subject token expired"


def test_symmetric_keys_in_the_jwks_are_not_trusted() -> None:
    secret = base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode()
    with pytest.raises(SubjectConfigError):
        SubjectVerifier({"keys": [{"kty": "oct", "k": secret, "kid": "h"}]}, ISSUER, AUDIENCE)


def test_settings_need_issuer_and_audience_and_a_readable_jwks(
    idp: IdentityProvider, tmp_path: Path
) -> None:
    assert SubjectVerifier.from_settings(Settings()) is None
    jwks = idp.write_jwks(tmp_path / "jwks.json")
    env = {"PRIVACY_PIPELINE_COLLECTOR_SUBJECT_JWKS": str(jwks)}
    with pytest.raises(SubjectConfigError, match="ISSUER"):
        SubjectVerifier.from_settings(Settings.from_env(env))
    env |= {"PRIVACY_PIPELINE_COLLECTOR_SUBJECT_ISSUER": ISSUER,
            "PRIVACY_PIPELINE_COLLECTOR_SUBJECT_AUDIENCE": AUDIENCE}
    verifier = SubjectVerifier.from_settings(Settings.from_env(env))
    assert verifier is not None and verifier.subject(idp.token("u")) == "u"
    (tmp_path / "bad.json").write_text("[1, 2")
    for path in (tmp_path / "bad.json", tmp_path / "missing.json"):
        env["PRIVACY_PIPELINE_COLLECTOR_SUBJECT_JWKS"] = str(path)
        with pytest.raises(SubjectConfigError, match=str(path)):
            SubjectVerifier.from_settings(Settings.from_env(env))

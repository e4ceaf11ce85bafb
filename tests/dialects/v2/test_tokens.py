"""app.dialects.v2.tokens on its own: the key each ``alg`` takes, the
``subs`` claim (and ``channels`` beside it), ``data``/``b64data``, and the
shapes that make a token invalid (docs/protocol-v2.md §8)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import jwt
import pytest

from app.core.overrides import Override
from app.dialects.v2 import tokens
from app.options import Options
from tests.integration.v5config import HMAC_KEY, Keys

KEYS = Keys()
BOTH = Options(token_hmac_secret_key=HMAC_KEY, token_rsa_public_key=Keys.public_pem(KEYS.rsa),
               token_ecdsa_public_key=Keys.public_pem(KEYS.ec))
HMAC_ONLY = Options(token_hmac_secret_key=HMAC_KEY)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["HS256", "HS384", "RS256", "ES256"])
def test_each_algorithm_takes_its_key(alg: str) -> None:
    claims = tokens.connection(KEYS.token(alg, sub="42"), BOTH, time.time())
    assert claims.user == "42"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_public_key_algorithm_without_its_key_is_invalid(alg: str) -> None:
    with pytest.raises(tokens.TokenInvalid):
        tokens.connection(KEYS.token(alg, sub="42"), HMAC_ONLY, time.time())


@pytest.mark.parametrize("token", [
    KEYS.token("stranger", sub="42"),  # another RSA key
    jwt.encode({"sub": "42"}, key=None, algorithm="none"),  # no signature at all
    jwt.encode({"sub": "42"}, "another-hmac-key-of-32-bytes-long!", algorithm="HS256"),
    "not-a-token", "e30.e30.", "!!!.e30.sig",
])
def test_tokens_that_do_not_verify(token: str) -> None:
    for options in (BOTH, HMAC_ONLY):
        with pytest.raises(tokens.TokenInvalid):
            tokens.connection(token, options, time.time())


def test_an_hmac_token_claiming_a_public_key_algorithm_is_refused() -> None:
    """The classic confusion: the RSA public key used as an HMAC secret."""
    pem = Keys.public_pem(KEYS.rsa)
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(b'{"sub":"42"}')
    signature = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + b64(signature)
    with pytest.raises(tokens.TokenInvalid):
        tokens.connection(forged, Options(token_rsa_public_key=pem), time.time())


def test_the_subs_claim_wins_over_channels() -> None:
    data = base64.b64encode(b'{"d":2}').decode()
    claims = tokens.connection(KEYS.token(sub="42", channels=["a"], subs={
        "feed": {"info": {"i": 1}, "data": {"d": 1}},
        "other": {"b64info": base64.b64encode(b'{"i":2}').decode(), "b64data": data,
                  "override": {"presence": {"value": True}}},
    }), BOTH, time.time())
    assert claims.subs == (tokens.ServerSubscription("feed", '{"i":1}', '{"d":1}'),
                           tokens.ServerSubscription("other", '{"i":2}', '{"d":2}', Override(presence=True)))
    assert claims.channels == ("feed", "other")


def test_channels_alone_and_repeated() -> None:
    claims = tokens.connection(KEYS.token(sub="42", channels=["a", "b", "a"]), BOTH, time.time())
    assert claims.subs == (tokens.ServerSubscription("a"), tokens.ServerSubscription("b"))


@pytest.mark.parametrize("subs", [
    ["feed"], "feed", 1, {"": {}}, {"feed": 1}, {"feed": {"unknown": 1}}, {"feed": {"override": []}},
    {"feed": {"b64data": "not base64!"}}, {"feed": {"b64info": base64.b64encode(b"not json").decode()}},
    {"feed": {"override": {"presense": {"value": True}}}}, {"feed": {"override": {"presence": True}}},
    {"feed": {"override": {"presence": {"value": 1}}}}, {"feed": {"override": {"presence": {"v": True}}}},
])
def test_subs_of_the_wrong_shape_make_the_token_invalid(subs: Any) -> None:
    with pytest.raises(tokens.TokenInvalid):
        tokens.connection(KEYS.token(sub="42", subs=subs), BOTH, time.time())


def test_a_subscription_token_carries_its_override() -> None:
    claims = tokens.subscription(KEYS.token(sub="42", channel="c", override={
        "force_recovery": {"value": True}, "join_leave": {}, "force_push_join_leave": {"value": True}}),
        BOTH, time.time())
    assert claims.override == Override(join_leave=False, push_join_leave=True, recovery=True)
    with pytest.raises(tokens.TokenInvalid):
        tokens.subscription(KEYS.token(sub="42", channel="c", override={"force_recovery": "yes"}), BOTH, time.time())


def test_a_subscription_token_carries_data() -> None:
    claims = tokens.subscription(KEYS.token("ES256", sub="42", channel="c", data={"x": [1]}), BOTH, time.time())
    assert (claims.channel, claims.data) == ("c", '{"x":[1]}')
    assert tokens.subscription(KEYS.token(sub="42", channel="c"), BOTH, time.time()).data == ""


def test_expiry_is_checked_after_the_signature_for_every_algorithm() -> None:
    for alg in ("HS256", "RS256", "ES256"):
        with pytest.raises(tokens.TokenExpired):
            tokens.connection(KEYS.token(alg, ttl=-5, sub="42"), BOTH, time.time())
        with pytest.raises(tokens.TokenInvalid):  # a bad signature first
            tokens.connection(KEYS.token("stranger", ttl=-5, sub="42"), BOTH, time.time())

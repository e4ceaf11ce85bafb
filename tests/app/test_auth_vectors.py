"""docs/protocol-1x.md §18 test vectors 1-7, and the sign checks around them."""
from __future__ import annotations

import pytest

from app.dialects.v1x import auth

CLIENT = "0b7e2f1c-2d3a-4c9d-8a3b-6a3f1b2c4d5e"


@pytest.mark.parametrize(
    "secret,user,timestamp,info,expected",
    [
        ("secret", "42", "1500000000", "", "0edb687d567dff2c3cae7b18513e77d3f305f9fcd0864edaf16324ae0ca0c73d"),
        ("very-long-secret-key", "2694", "1420800000", '{"name":"Alex"}',
         "48af7241896d73a0a87f386db88e56d7ea98f5c2cd783a23ba7ce3c96c030b5d"),
        ("secret", "", "1500000000", "", "891b671f6f60e7dbbe73cb76f39013a2de9e77b60fe02e71ea0fb22ef8d5d037"),
    ],
)
def test_connection_token_vectors(secret: str, user: str, timestamp: str, info: str, expected: str) -> None:
    assert auth.connection_token(secret, user, timestamp, info) == expected


@pytest.mark.parametrize(
    "channel,info,expected",
    [
        ("$private:chat", "", "9c9c42979407b092febda15257705a03b4a83139f69f398d46edf68b6dc1c84a"),
        ("$gossips", '{"role":"admin"}', "f8ead55099e65dd85b99a8f7de99523f1fb3ba7d721e88c020a2be2357e9cd0a"),
    ],
)
def test_channel_sign_vectors(channel: str, info: str, expected: str) -> None:
    assert auth.channel_sign("secret", CLIENT, channel, info) == expected


@pytest.mark.parametrize(
    "body,expected",
    [
        (b'[{"method": "publish", "params": {"channel": "news", "data": {"text": "hello"}}}]',
         "ddeed02342e6396edd433b0e34081b6876caebf7d2a15e35ddc72e7ad85e7ba5"),
        (b'{"method":"publish","params":{"channel":"news","data":{"text":"hello"}}}',
         "76058c6ff520fe179cd49847b9eb7c5e493eed0c2dea68a5e4b4847d6c18ea88"),
    ],
)
def test_api_sign_vectors(body: bytes, expected: str) -> None:
    assert auth.api_sign("secret", body) == expected
    assert auth.check_sign(auth.api_sign("secret", body), expected)


def test_check_sign_refuses_wrong_length_uppercase_and_other_sign() -> None:
    good = auth.connection_token("secret", "42", "1500000000")
    assert auth.check_sign(good, good)
    assert not auth.check_sign(good, good.upper())
    assert not auth.check_sign(good, good[:-1])
    assert not auth.check_sign(good, good + "0")
    assert not auth.check_sign(good, auth.connection_token("secret", "43", "1500000000"))
    assert not auth.check_sign(good, "é" * 64)

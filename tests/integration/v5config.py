"""A Centrifugo v5 config file as its ``genconfig`` writes one (the token
HMAC key, admin password and secret, API key, allowed origins), with the
channel options, durations, permission switches and namespaces of the v5
documentation added, and the keys and tokens the tests sign with: shared
by tests/integration/test_v5_config.py and test_v2_server_subs.py."""
from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

HMAC_KEY = "2b8e1c6e-1b0d-4e4c-9a5e-3f1c0f4a1b7d"
API_KEY = "v5-api-key-for-the-tests"
ALLOWED_ORIGIN = "http://allowed.example"


class Keys:
    """An RSA and an EC key pair (made once per test module), and another
    RSA key the server does not know."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @staticmethod
    def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
        return key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def token(self, alg: str = "HS256", ttl: float = 3600, **claims: Any) -> str:
        key: Any = {"HS256": HMAC_KEY, "HS384": HMAC_KEY, "RS256": self.rsa, "ES256": self.ec,
                    "stranger": self.stranger}[alg]
        return jwt.encode({"exp": int(time.time() + ttl), **claims}, key,
                          algorithm="RS256" if alg == "stranger" else alg)


def v5_config(keys: Keys) -> dict[str, Any]:
    """The file's content: Centrifugo v5 names only, no 1.x ``secret``."""
    return {
        # what `centrifugo genconfig` (v5) writes
        "token_hmac_secret_key": HMAC_KEY,
        "admin_password": "a-long-admin-password-0123",
        "admin_secret": "a-long-admin-secret-0123456789abcdef",
        "api_key": API_KEY,
        "allowed_origins": [ALLOWED_ORIGIN, "https://*.example.org"],
        # tokens signed with public keys
        "token_rsa_public_key": keys.public_pem(keys.rsa),
        "token_ecdsa_public_key": keys.public_pem(keys.ec),
        # channels without a namespace: history with forced recovery, no client permissions
        "presence": True,
        "join_leave": True,
        "history_size": 10,
        "history_ttl": "300s",
        "force_recovery": True,
        "allow_anonymous_connect_without_token": True,
        # durations as Go writes them
        "client_expired_close_delay": "1s",
        "client_expired_sub_close_delay": "2500ms",
        "client_presence_update_interval": "1m30s",
        "client_stale_close_delay": "10s",
        "ping_interval": "25s",
        "pong_timeout": "8s",
        "shutdown_timeout": "5s",
        "client_channel_limit": 128,
        "channel_max_length": 255,
        "websocket_message_size_limit": 65536,
        "log_level": "info",
        "health": True,
        "namespaces": [
            {"name": "open", "presence": True, "history_size": 10, "history_ttl": "1m",
             "allow_subscribe_for_client": True, "allow_publish_for_subscriber": True,
             "allow_presence_for_subscriber": True, "allow_history_for_subscriber": True},
            {"name": "wide", "presence": True, "history_size": 10, "history_ttl": "60s",
             "allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
             "allow_publish_for_client": True, "allow_presence_for_client": True,
             "allow_history_for_client": True},
            {"name": "closed", "presence": True, "history_size": 10, "history_ttl": "500ms",
             "allow_positioning": True},
            {"name": "users", "allow_user_limited_channels": True},
        ],
    }

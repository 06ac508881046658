"""Signed JWTs for access and ID tokens, and the matching JWKS.

Xero's access tokens are RS256 JWTs carrying e.g. ``authentication_event_id``
(the value to filter ``GET /connections?authEventId=`` with). The key is made
lazily on first use, never at import time.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from typing import Any

_KEY_LOCK = threading.Lock()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Signer:
    """An RSA key pair used to sign every token the sandbox issues."""

    def __init__(self) -> None:
        self._key: Any = None
        self.kid = secrets.token_hex(8)

    def _private_key(self) -> Any:
        with _KEY_LOCK:
            if self._key is None:
                from cryptography.hazmat.primitives.asymmetric import rsa

                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self._private_key().sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def jwks(self) -> dict[str, Any]:
        numbers = self._private_key().public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "e": _int_b64(numbers.e),
                    "n": _int_b64(numbers.n),
                }
            ]
        }

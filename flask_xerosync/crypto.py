"""Encryption of token sets at rest, with key rotation (``cryptography``'s ``MultiFernet``).

``XEROSYNC_ENCRYPTION_KEY`` holds one key or several separated by commas: the first encrypts, every
one decrypts. To rotate, put a new key first, run ``flask xerosync rotate-key``, then drop the old key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import XeroSyncError


class TokenDecryptError(XeroSyncError):
    """A stored token set cannot be decrypted with any configured key."""


class TokenCipher:
    """Encrypts a token set (a JSON-able mapping) into an opaque text, and back."""

    def __init__(self, keys: Iterable[str | bytes]) -> None:
        fernets = [Fernet(key) for key in keys]
        if not fernets:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet(fernets)

    def encrypt(self, token: Mapping[str, Any]) -> str:
        plain = json.dumps(dict(token), separators=(",", ":"), sort_keys=True).encode()
        return self._fernet.encrypt(plain).decode("ascii")

    def decrypt(self, ciphertext: str) -> dict[str, Any]:
        try:
            plain = self._fernet.decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            raise TokenDecryptError(
                "The stored Xero connection cannot be decrypted with XEROSYNC_ENCRYPTION_KEY "
                "(was the key changed without keeping the old one?). Reconnect to Xero."
            ) from None
        token: dict[str, Any] = json.loads(plain)
        return token

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the first key (a no-op in meaning, a new ciphertext in form)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise TokenDecryptError(
                "A stored Xero connection cannot be decrypted with any key of XEROSYNC_ENCRYPTION_KEY."
            ) from None

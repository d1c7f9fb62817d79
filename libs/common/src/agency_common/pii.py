"""PII at rest: encrypted with MultiFernet (keys outside the database, rotation by prepending a
new key), masked on the server to the last four characters unless the user may reveal it."""

from __future__ import annotations

import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# A date's last four characters would give away a birth month and day: dates are masked whole.
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}")


class PiiCipher:
    def __init__(self, keys: str) -> None:
        parsed = [k.strip() for k in keys.split(",") if k.strip()]
        if not parsed:
            raise ValueError("no PII encryption key configured")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in parsed])

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("PII value cannot be decrypted with the configured keys") from exc

    def encrypt_bytes(self, value: bytes) -> bytes:
        return self._fernet.encrypt(value)

    def decrypt_bytes(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise ValueError("PII value cannot be decrypted with the configured keys") from exc

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()


def mask(value: str | None, visible: int = 4) -> str | None:
    """``123-45-6789`` → ``*******6789``; short values and dates are masked whole."""
    if value is None:
        return None
    if len(value) <= visible or _DATE.fullmatch(value.strip()):
        return "*" * len(value)
    return "*" * (len(value) - visible) + value[-visible:]

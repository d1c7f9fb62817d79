"""An individual's PII as stored (encrypted) and as shown (clear)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from agency_common.pii import PiiCipher

from intake.errors import UseCaseError
from intake.individuals.domain.fields import (
    PII_FIELDS,
    STANDARD_FIELDS,
    storage_key,
)

if TYPE_CHECKING:  # the schemas show PII through this module
    from intake.individuals.schemas import IndividualIn


def require_cipher(runtime: Any) -> PiiCipher:
    if runtime.pii is None:
        raise UseCaseError("PII encryption keys are not configured")
    return runtime.pii


def encrypt_field(cipher: PiiCipher, field: str, value: Any) -> Any:
    if field not in PII_FIELDS:
        return value
    if value is None or value == "":
        return None
    return cipher.encrypt(value.isoformat() if isinstance(value, date) else str(value))


def storage_values(data: IndividualIn, cipher: PiiCipher, only_set: bool = False) -> dict[str, Any]:
    raw = data.model_dump(exclude={"custom_fields"}, exclude_unset=only_set)
    return {storage_key(f): encrypt_field(cipher, f, v) for f, v in raw.items()}


def clear_values(row: Any, cipher: PiiCipher) -> dict[str, Any]:
    """Field name → clear value (PII decrypted; DOB as ISO text)."""
    get = (lambda k: row[k]) if isinstance(row, dict) else (lambda k: getattr(row, k))
    out: dict[str, Any] = {}
    for f in STANDARD_FIELDS:
        v = get(storage_key(f))
        out[f] = cipher.decrypt(v) if f in PII_FIELDS and v else v
    return out

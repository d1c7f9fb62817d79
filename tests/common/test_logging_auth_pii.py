"""PII scrubbing in logs, passwords and tokens, PII encryption and masking."""

from __future__ import annotations

import json

import jwt
import pytest
import structlog
from agency_common.auth import TokenService, User, UserDirectory, hash_password
from agency_common.logging import configure_logging, scrub_text
from agency_common.pii import PiiCipher, mask


def test_scrub_masks_ssn_shapes_and_mbi() -> None:
    assert scrub_text("ssn 123-45-6789 here") == "ssn ***-**-6789 here"
    assert scrub_text("raw 123456789.") == "raw ***-**-6789."
    assert scrub_text("policy 1234567890123") == "policy 1234567890123"  # not SSN-shaped: kept
    assert scrub_text("mbi 1EG4TE5MK73") == "mbi *******MK73"


def test_log_lines_carry_correlation_and_never_pii(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test", "INFO", json=True)
    structlog.get_logger().info("imported", ssn="123-45-6789", note="agent 987-65-4321 onboarded",
                                nested={"dob": "1970-01-01", "name": "Jo"}, correlation_id="c-9")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["ssn"] == "***" and line["nested"]["dob"] == "***" and line["nested"]["name"] == "Jo"
    assert "987-65-4321" not in json.dumps(line) and line["note"].endswith("***-**-4321 onboarded")
    assert line["correlation_id"] == "c-9" and line["service"] == "test"


def test_password_hashing_and_directory() -> None:
    directory = UserDirectory.from_dict({
        "groups": {"accounting": ["statements:import"], "admins": ["*"]},
        "users": [{"login": "clerk", "password_hash": hash_password("s3cret!"), "groups": ["accounting"]}],
    })
    assert directory.users["clerk"].password_hash.startswith("$argon2")
    user = directory.authenticate("clerk", "s3cret!")
    assert user is not None and user.can("statements:import") and not user.can("policies:create")
    assert directory.authenticate("clerk", "wrong") is None
    assert directory.authenticate("nobody", "s3cret!") is None
    with pytest.raises(ValueError, match="unknown groups"):
        UserDirectory.from_dict({"groups": {}, "users": [{"login": "x", "password_hash": "h", "groups": ["ghost"]}]})


def test_tokens_are_signed_and_expire() -> None:
    service = TokenService("k" * 40, ttl_minutes=5)
    token = service.issue(User("clerk", "Clerk", ("accounting",), frozenset({"statements:import"})))
    assert service.verify(token).can("statements:import")
    with pytest.raises(jwt.InvalidSignatureError):
        TokenService("z" * 40).verify(token)
    expired = TokenService("k" * 40, ttl_minutes=-1).issue(User("clerk"))
    with pytest.raises(jwt.ExpiredSignatureError):
        service.verify(expired)
    admin = User("admin", permissions=frozenset({"*"}))
    assert admin.can("anything:at-all")


def test_pii_is_encrypted_rotatable_and_masked() -> None:
    old, new = PiiCipher.generate_key(), PiiCipher.generate_key()
    cipher = PiiCipher(old)
    token = cipher.encrypt("123-45-6789")
    assert token and "123-45-6789" not in token and "123456789" not in token
    rotated = PiiCipher(f"{new},{old}")
    assert rotated.decrypt(token) == "123-45-6789"
    assert PiiCipher(new).decrypt(rotated.rotate(token)) == "123-45-6789"
    with pytest.raises(ValueError):
        PiiCipher(PiiCipher.generate_key()).decrypt(token)
    assert cipher.encrypt("") is None and cipher.encrypt(None) is None
    assert mask("123-45-6789") == "*******6789" and mask("12") == "**" and mask(None) is None
    # a date of birth keeps nothing: its last four characters would be the month and day
    assert mask("1980-04-12") == "**********" and mask("4/12/1980") == "*********"


def test_uuids_reach_the_log_whole_while_ssns_beside_them_are_masked() -> None:
    """Issue 18 item 5: scrubbing corrupted UUIDs that hold nine digits in a row."""
    from agency_common.logging import scrub_text

    ids = ["3f1c2a9e-1b2c-4d3e-a123-456789012345", "00000000-1234-5678-9123-a123456789bc",
           "123456789-12-1234-1234-123456789012"]  # the last is no UUID: its 9 digits are masked
    assert scrub_text(f"statement {ids[0]} imported") == f"statement {ids[0]} imported"
    assert scrub_text(f"job {ids[1]} for 123-45-6789") == f"job {ids[1]} for ***-**-6789"
    assert scrub_text(f"{ids[0]}:987654321:{ids[1]}") == f"{ids[0]}:***-**-4321:{ids[1]}"
    assert "123456789-" not in scrub_text(ids[2])

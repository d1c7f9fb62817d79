"""Secrets and data at rest (issue 19 item 8): the data folder is 0700 and its files 0600, the admin
password is shown once and never stored, a forgotten one is reset; a service's own files (its SQLite
database) are its owner's only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import yaml
from agency_common.auth import TokenKeys, TokenService, User, UserDirectory
from agency_platform.launcher import prepare_data_dir, reset_admin_password, rotate_token_key


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_keeps_secrets_private_and_no_admin_password(tmp_path) -> None:
    data = tmp_path / "data"
    first = prepare_data_dir(data)
    password = first["ADMIN_PASSWORD"]
    assert len(password) >= 16
    assert _mode(data) == 0o700
    for name in ("secrets.yaml", "users.yaml"):
        assert _mode(data / name) == 0o600, name
    stored = (data / "secrets.yaml").read_text() + (data / "users.yaml").read_text()
    assert password not in stored and "admin_password" not in stored
    assert UserDirectory.from_file(data / "users.yaml").authenticate("admin", password) is not None
    # the next start knows no password to show
    assert prepare_data_dir(data)["ADMIN_PASSWORD"] == ""
    # a forgotten one is reset
    new = reset_admin_password(data)
    users = UserDirectory.from_file(data / "users.yaml")
    assert users.authenticate("admin", new) is not None and users.authenticate("admin", password) is None
    assert _mode(data / "users.yaml") == 0o600


def test_a_secrets_file_of_an_older_version_loses_its_admin_password(tmp_path) -> None:
    data = tmp_path / "old"
    data.mkdir()
    (data / "secrets.yaml").write_text(yaml.safe_dump({"jwt_secret": "s" * 48, "pii_keys": "k", "admin_password": "pw-1"}))
    (data / "users.yaml").write_text("groups: {}\nusers: []\n")
    assert prepare_data_dir(data)["ADMIN_PASSWORD"] == "pw-1"  # shown a last time
    assert "pw-1" not in (data / "secrets.yaml").read_text() and _mode(data / "secrets.yaml") == 0o600


def test_the_token_signing_key_is_generated_kept_and_rotated(tmp_path) -> None:
    data = tmp_path / "keys"
    first = prepare_data_dir(data)
    assert first["AGENCY_JWT_SIGNING_KEY"] and first["AGENCY_JWT_VERIFY_KEYS"] == ""
    assert prepare_data_dir(data)["AGENCY_JWT_SIGNING_KEY"] == first["AGENCY_JWT_SIGNING_KEY"]
    before = TokenService(keys=TokenKeys.parse(first["AGENCY_JWT_SIGNING_KEY"])).issue(User("ann"))
    rotate_token_key(data)
    after = prepare_data_dir(data)
    assert after["AGENCY_JWT_SIGNING_KEY"] != first["AGENCY_JWT_SIGNING_KEY"]
    # a token of the previous key is still verified: nobody is logged out by the rotation
    keys = TokenKeys.parse(after["AGENCY_JWT_SIGNING_KEY"], after["AGENCY_JWT_VERIFY_KEYS"])
    assert TokenService(keys=keys).verify(before).login == "ann"
    assert _mode(data / "secrets.yaml") == 0o600


def test_an_older_secrets_file_gets_a_signing_key(tmp_path) -> None:
    data = tmp_path / "older"
    data.mkdir()
    (data / "secrets.yaml").write_text(yaml.safe_dump({"jwt_secret": "s" * 48, "pii_keys": "k"}))
    (data / "users.yaml").write_text("groups: {}\nusers: []\n")
    key = prepare_data_dir(data)["AGENCY_JWT_SIGNING_KEY"]
    assert TokenKeys.parse(key).signing and yaml.safe_load((data / "secrets.yaml").read_text())["jwt_signing_key"] == key


def test_a_service_writes_its_database_for_its_owner_only(tmp_path) -> None:
    db = tmp_path / "svc" / "reporting.db"
    env = {**os.environ, "REPORTING_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    subprocess.run([sys.executable, "-m", "reporting", "migrate"], env=env, check=True, timeout=120,
                   capture_output=True)
    assert _mode(db) == 0o600

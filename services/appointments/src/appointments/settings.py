from __future__ import annotations

from typing import Literal

from agency_common.settings import ServiceSettings
from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict


class AppointmentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APPOINTMENTS_", extra="ignore", populate_by_name=True)

    service_name: str = "appointments"
    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///./data/appointments.db"

    # The shipped reference dataset (several states) is loaded into an empty database at start-up
    # (in the development environment only).
    load_dev_reference_data: bool = True
    # License sync: producers are refreshed from NIPR daily; a request without an answer is asked again.
    license_refresh_seconds: int = 86_400
    license_sync_retry_seconds: int = 3_600
    license_sync_check_seconds: float = 300.0
    # Bulk appoint: above this many requests the API answers 202 with a job processed in the
    # background, in chunks of ``bulk_job_chunk`` requests (each chunk one transaction).
    bulk_background_threshold: int = 1000
    bulk_job_chunk: int = 100
    # On SQLite, the pause between chunks that lets other writers take the database's write lock.
    bulk_job_pause_seconds: float = 0.1

    # Portal invitations: ``file`` writes each to ``<data_dir>/outbox-mail/<invite id>.eml`` (the
    # embedded run), ``smtp`` sends it to ``smtp_host``. ``{invite_id}`` in the link is the invitation's id.
    mail_transport: Literal["file", "smtp"] = "file"
    mail_from: str = "no-reply@agency.example"
    portal_invite_url: str = "https://portal.agency.example/register?invite={invite_id}"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    # STARTTLS on the submission port (587), or TLS from the first byte (465; takes precedence).
    smtp_starttls: bool = True
    smtp_tls: bool = False
    # A PEM file of the CA that signs the server's certificate (a private relay); empty: the system's.
    smtp_ca_file: str = ""
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = 30.0

    @field_validator("portal_invite_url")
    @classmethod
    def _link_names_the_invite(cls, value: str) -> str:
        try:
            ok = "{invite_id}" in value and bool(value.format(invite_id="x"))
        except (KeyError, IndexError, ValueError):
            ok = False
        if not ok:
            raise ValueError("portal_invite_url must hold {invite_id} and no other {placeholder}")
        return value

from zoneinfo import ZoneInfo

from agency_common.settings import ServiceSettings
from pydantic import field_validator
from pydantic_settings import SettingsConfigDict


class InvoicingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICING_", extra="ignore", populate_by_name=True)

    service_name: str = "invoicing"
    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///./data/invoicing.db"
    # Create Invoices runs in the background above this many selected rows (the operator may leave).
    background_threshold: int = 5000
    background_chunk: int = 10000
    # The agency's business time zone: "today" (the default date booked) is taken there.
    business_timezone: str = "UTC"

    @field_validator("business_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # an unknown zone fails at start-up, not when an operator opens a reconciliation
        return value

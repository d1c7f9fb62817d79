from pydantic_settings import SettingsConfigDict

from agency_common.settings import ServiceSettings


class InvoicingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICING_", extra="ignore", populate_by_name=True)

    service_name: str = "invoicing"
    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///./data/invoicing.db"

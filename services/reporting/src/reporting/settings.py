from pydantic_settings import SettingsConfigDict

from agency_common.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore", populate_by_name=True)

    service_name: str = "reporting"
    port: int = 8004
    database_url: str = "sqlite+aiosqlite:///./data/reporting.db"

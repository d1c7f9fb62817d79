from pydantic_settings import SettingsConfigDict

from agency_common.settings import ServiceSettings


class AppointmentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APPOINTMENTS_", extra="ignore", populate_by_name=True)

    service_name: str = "appointments"
    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///./data/appointments.db"

from pydantic_settings import SettingsConfigDict

from agency_common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    port: int = 8005
    database_url: str = "sqlite+aiosqlite:///./data/gateway.db"
    nipr_client: str = "simulator"  # simulator | real

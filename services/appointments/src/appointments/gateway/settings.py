from agency_common.settings import ServiceSettings
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    port: int = 8005
    database_url: str = "sqlite+aiosqlite:///./data/gateway.db"
    nipr_client: str = "simulator"  # simulator | real

    # The submission worker: how often it looks for due submissions besides being woken (by a batch
    # consumed, a retry coming due), how many calls it makes to NIPR for one form before giving up
    # (then the form waits for an operator), and the backoff base.
    worker_poll_seconds: float = 10.0
    submit_max_attempts: int = 5
    submit_backoff_seconds: float = 1.0
    # A claimed submission is leased to its gateway instance for this long; another instance takes
    # it over (looking it up at NIPR first) only after that. Longer than a NIPR call can take.
    submit_lease_seconds: float = 120.0

    # The simulator: delays (seconds, per form; a state factor applies), failure rate (0..1) and seed.
    simulator_delay_seconds: float = 0.2
    simulator_failure_rate: float = 0.05
    simulator_seed: int | None = None

    # The real NIPR Gateway client (deployment).
    nipr_gateway_url: str = "https://pdb-services-beta.nipr.com"
    nipr_username: str | None = None
    nipr_password: SecretStr | None = None
    nipr_timeout_seconds: float = 30.0

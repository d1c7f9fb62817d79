"""Configuration from the environment with pydantic-settings.

Platform-wide values (the broker, the token secret, the users file, the PII keys) are read from
unprefixed or ``AGENCY_`` variables shared by every service; a service's own values (database URL,
port) carry its prefix, e.g. ``INTAKE_DATABASE_URL``. No module builds settings at import time:
``create_app(settings)`` receives them, so one process can host several services in tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agency_common.auth import TokenKeys

DEV_JWT_SECRET = "dev-only-not-a-secret-change-me-0123456789"


def _shared(name: str) -> AliasChoices:
    return AliasChoices(f"AGENCY_{name}", name)


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set ``env_prefix`` and ``service_name``."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "service"
    environment: str = Field("development", validation_alias=_shared("ENVIRONMENT"))
    # Served over HTTPS (at the ingress): Secure cookies and HSTS. Default: on outside development.
    cookie_secure: bool | None = Field(None, validation_alias=_shared("COOKIE_SECURE"))
    # Other origins (comma-separated URLs) whose pages may post to this service's dashboard.
    trusted_origins: str = Field("", validation_alias=_shared("TRUSTED_ORIGINS"))
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite+aiosqlite:///./data/service.db"

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=_shared("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_topic_partitions: int = Field(4, validation_alias=_shared("KAFKA_TOPIC_PARTITIONS"))
    # Topics created with these (a 3-broker cluster: 3 and 2, so acks=all survives one broker down;
    # the embedded broker: 1 and 1).
    kafka_replication_factor: int = Field(1, ge=1, validation_alias=_shared("KAFKA_REPLICATION_FACTOR"))
    kafka_min_insync_replicas: int = Field(1, ge=1, validation_alias=_shared("KAFKA_MIN_INSYNC_REPLICAS"))
    # TLS and SASL for every Kafka client (agency_common.messaging.connection; MSK, Confluent Cloud).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias=_shared("KAFKA_SECURITY_PROTOCOL"))
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", validation_alias=_shared("KAFKA_SASL_MECHANISM"))
    kafka_sasl_username: str = Field("", validation_alias=_shared("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: SecretStr = Field(SecretStr(""), validation_alias=_shared("KAFKA_SASL_PASSWORD"))
    kafka_ssl_cafile: Path | None = Field(None, validation_alias=_shared("KAFKA_SSL_CAFILE"))
    kafka_ssl_certfile: Path | None = Field(None, validation_alias=_shared("KAFKA_SSL_CERTFILE"))
    kafka_ssl_keyfile: Path | None = Field(None, validation_alias=_shared("KAFKA_SSL_KEYFILE"))
    # How long the broker may hold an empty fetch: what an idle consumer costs (one fetch per wait, of
    # every partition it reads). The embedded broker does not answer a waiting fetch at once when data
    # arrives, but looks again at halves of the time left (after 1/2, 3/4, ... of the wait), so a new
    # event waits a fraction of this (docs/benchmarks.md, "Idle platform").
    kafka_fetch_max_wait_ms: int = Field(1000, validation_alias=_shared("KAFKA_FETCH_MAX_WAIT_MS"))
    # aiokafka's fetcher looks over every assigned partition this often besides answers (its default,
    # 200 ms, is 5 scans a second of 80 partitions in reporting, at rest).
    kafka_consumer_timeout_ms: int = Field(1000, validation_alias=_shared("KAFKA_CONSUMER_TIMEOUT_MS"))
    # An empty poll of the consumer is followed by a blind sleep as long (FastStream's batch loop): a
    # bound on what it adds to a new event's wait.
    consumer_batch_timeout_ms: int = Field(200, validation_alias=_shared("CONSUMER_BATCH_TIMEOUT_MS"))
    # Heartbeats are requests too; a third of the session, as Kafka advises.
    kafka_session_timeout_ms: int = Field(9000, validation_alias=_shared("KAFKA_SESSION_TIMEOUT_MS"))
    kafka_heartbeat_interval_ms: int = Field(3000, validation_alias=_shared("KAFKA_HEARTBEAT_INTERVAL_MS"))
    kafka_request_timeout_ms: int = Field(15000, validation_alias=_shared("KAFKA_REQUEST_TIMEOUT_MS"))

    consumer_max_attempts: int = Field(4, validation_alias=_shared("CONSUMER_MAX_ATTEMPTS"))
    consumer_batch_size: int = Field(500, validation_alias=_shared("CONSUMER_BATCH_SIZE"))
    consumer_backoff_seconds: float = Field(0.2, validation_alias=_shared("CONSUMER_BACKOFF_SECONDS"))
    outbox_batch_size: int = Field(500, validation_alias=_shared("OUTBOX_BATCH_SIZE"))
    # The relay is woken by each commit that wrote events in its process; the sweep only catches what
    # it was not woken for (rows of another replica, a wake lost in a crash).
    outbox_sweep_seconds: float = Field(10.0, validation_alias=_shared("OUTBOX_SWEEP_SECONDS"))
    # How often /metrics' gauges (lag, outbox backlog, dead letters) are refreshed.
    metrics_refresh_seconds: float = Field(15.0, validation_alias=_shared("METRICS_REFRESH_SECONDS"))
    # A background job's lease: its holder renews it every quarter; a replica takes over a job whose
    # holder stopped once this has run out (issue 20: one owner at a time).
    job_lease_seconds: float = Field(60.0, validation_alias=_shared("JOB_LEASE_SECONDS"))
    # How long a request's idempotency key (and its answer) is kept: a retry within it changes nothing.
    idempotency_retention_hours: float = Field(72, validation_alias=_shared("IDEMPOTENCY_RETENTION_HOURS"))

    # The HMAC secret of the CSRF tokens; in development also the seed of a token key pair when no
    # keys are given (refused elsewhere).
    jwt_secret: SecretStr = Field(SecretStr(DEV_JWT_SECRET), validation_alias=_shared("JWT_SECRET"))
    # Token keys (Ed25519, "<kid>:<base64url raw key>"): the private key that signs (absent on a
    # verify-only service) and the public keys that verify besides its own, comma-separated (the
    # previous key while it rotates out). docs/SECURITY.md, "Token keys".
    jwt_signing_key: SecretStr | None = Field(None, validation_alias=_shared("JWT_SIGNING_KEY"))
    jwt_verify_keys: str = Field("", validation_alias=_shared("JWT_VERIFY_KEYS"))
    # An access token's lifetime (permissions are frozen in it this long); a login session's (its
    # refresh tokens), however often it is refreshed.
    jwt_ttl_minutes: float = Field(15, gt=0, validation_alias=_shared("JWT_TTL_MINUTES"))
    refresh_ttl_minutes: float = Field(480, gt=0, validation_alias=_shared("REFRESH_TTL_MINUTES"))
    users_file: Path | None = Field(None, validation_alias=_shared("USERS_FILE"))
    # Login throttling: a login locked after this many failures in a row (back-off doubling from
    # login_lockout_seconds up to 15 minutes); an address refused after login_failures_per_address
    # failures in 5 minutes.
    login_failures_before_lockout: int = Field(5, validation_alias=_shared("LOGIN_FAILURES_BEFORE_LOCKOUT"))
    login_lockout_seconds: float = Field(30.0, validation_alias=_shared("LOGIN_LOCKOUT_SECONDS"))
    login_failures_per_address: int = Field(20, validation_alias=_shared("LOGIN_FAILURES_PER_ADDRESS"))
    # Comma-separated Fernet keys, newest first (MultiFernet: rotation without re-encrypting at once).
    pii_keys: SecretStr | None = Field(None, validation_alias=_shared("PII_KEYS"))
    data_dir: Path = Field(Path("./data"), validation_alias=_shared("DATA_DIR"))
    max_upload_bytes: int = Field(64 * 1024 * 1024, validation_alias=_shared("MAX_UPLOAD_BYTES"))
    log_level: str = Field("INFO", validation_alias=_shared("LOG_LEVEL"))
    log_json: bool = Field(True, validation_alias=_shared("LOG_JSON"))
    run_consumers: bool = True
    dashboard_urls: str = Field(
        "intake=http://127.0.0.1:8001,invoicing=http://127.0.0.1:8002,"
        "appointments=http://127.0.0.1:8003,reporting=http://127.0.0.1:8004",
        validation_alias=_shared("DASHBOARD_URLS"),
    )

    @field_validator("jwt_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("JWT secret must be at least 32 characters")
        return value

    def model_post_init(self, context: object, /) -> None:
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError("kafka_min_insync_replicas cannot exceed kafka_replication_factor: nothing "
                             "could be published with acks=all")
        if self.kafka_security_protocol.startswith("SASL") and not self.kafka_sasl_username:
            raise ValueError(f"{self.kafka_security_protocol} needs AGENCY_KAFKA_SASL_USERNAME and _PASSWORD")
        if self.environment != "development" and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            raise ValueError("refusing the development JWT secret outside development")
        if self.environment != "development" and self.jwt_signing_key is None and not self.jwt_verify_keys.strip():
            raise ValueError("outside development tokens need keys: AGENCY_JWT_SIGNING_KEY (a service that issues "
                             "them) or AGENCY_JWT_VERIFY_KEYS (a service that only verifies them)")
        self.token_keys()  # a malformed key is refused at start, not at the first login

    def token_keys(self) -> TokenKeys:
        """The keys of the settings; none given (development, tests): a pair derived from the secret."""
        signing = self.jwt_signing_key.get_secret_value() if self.jwt_signing_key else None
        if not signing and not self.jwt_verify_keys.strip():
            return TokenKeys.derived(self.jwt_secret.get_secret_value())
        return TokenKeys.parse(signing, self.jwt_verify_keys)

    def dashboard_links(self) -> list[tuple[str, str]]:
        """The four dashboards, for the navigation bar of each."""
        pairs = (item.split("=", 1) for item in self.dashboard_urls.split(",") if "=" in item)
        return [(name.strip(), url.strip()) for name, url in pairs]

    @property
    def https_only(self) -> bool:
        """Secure cookies and HSTS: said explicitly, or on everywhere but development."""
        return self.cookie_secure if self.cookie_secure is not None else self.environment != "development"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

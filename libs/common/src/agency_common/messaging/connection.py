"""How every Kafka client of a service connects: TLS and SASL from settings (issue 18 item 1), the
same for the FastStream broker (consumers and the API's publishers), the outbox relay's producer and
the topic admin. The embedded broker needs none of it (PLAINTEXT, the default).

    AGENCY_KAFKA_SECURITY_PROTOCOL = PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    AGENCY_KAFKA_SASL_MECHANISM    = PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    AGENCY_KAFKA_SASL_USERNAME / AGENCY_KAFKA_SASL_PASSWORD
    AGENCY_KAFKA_SSL_CAFILE / AGENCY_KAFKA_SSL_CERTFILE / AGENCY_KAFKA_SSL_KEYFILE  (mutual TLS)

Amazon MSK: SASL_SSL + SCRAM-SHA-512 (port 9096), or SSL with client certificates (9094). Confluent
Cloud: SASL_SSL + PLAIN with an API key and secret as user name and password. The system's CA
bundle is used unless a CA file is given.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from agency_common.settings import ServiceSettings

SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def ssl_context(settings: ServiceSettings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    return create_ssl_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
        keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
    )


def broker_security(settings: ServiceSettings) -> BaseSecurity | None:
    """The FastStream form (``KafkaBroker(security=...)``)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return SASL[settings.kafka_sasl_mechanism](
        username=settings.kafka_sasl_username, password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context, use_ssl=protocol == "SASL_SSL")


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """The aiokafka form, for the clients made directly (the relay's producer, the topic admin)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.endswith("SSL"):
        options["ssl_context"] = ssl_context(settings)
    if protocol.startswith("SASL"):
        options |= {"sasl_mechanism": settings.kafka_sasl_mechanism,
                    "sasl_plain_username": settings.kafka_sasl_username,
                    "sasl_plain_password": settings.kafka_sasl_password.get_secret_value()}
    return options

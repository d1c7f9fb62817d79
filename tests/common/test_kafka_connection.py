"""Kafka for production (issue 18 item 1): TLS and SASL settings reach every client the same way, topics
are created with the replication factor and min.insync.replicas of the settings, and settings that could
never publish with acks=all are refused at start."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from agency_common.messaging.admin import ensure_topics
from agency_common.messaging.broker import make_broker
from agency_common.messaging.connection import broker_security, client_options
from agency_common.settings import ServiceSettings
from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka.security import parse_security
from faststream.security import SASLScram512
from pydantic import ValidationError


def ca_file(tmp_path: Path) -> Path:
    """A self-signed CA certificate, as a cluster's private CA would be given."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test kafka ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    path = tmp_path / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_the_embedded_default_is_plaintext_everywhere() -> None:
    settings = ServiceSettings()
    assert broker_security(settings) is None
    assert client_options(settings) == {"security_protocol": "PLAINTEXT"}


def test_msk_scram_over_tls_reaches_the_broker_and_the_direct_clients_alike(tmp_path: Path) -> None:
    settings = ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                               kafka_sasl_username="intake", kafka_sasl_password="s3cret",
                               kafka_ssl_cafile=ca_file(tmp_path))
    security = broker_security(settings)
    assert isinstance(security, SASLScram512)
    through_faststream = parse_security(security)
    direct = client_options(settings)
    for options in (through_faststream, direct):
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("intake", "s3cret")
        assert options["ssl_context"].verify_mode.name == "CERT_REQUIRED"
    assert "s3cret" not in repr(settings), "the password is a secret in settings"
    make_broker(settings)  # the FastStream broker accepts it


def test_confluent_cloud_plain_over_tls_uses_the_system_ca() -> None:
    options = client_options(ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="KEY",
                                             kafka_sasl_password="SECRET"))
    assert options["sasl_mechanism"] == "PLAIN" and options["ssl_context"] is not None


def test_settings_that_could_never_publish_are_refused() -> None:
    with pytest.raises(ValidationError, match="cannot exceed"):
        ServiceSettings(kafka_replication_factor=1, kafka_min_insync_replicas=2)
    with pytest.raises(ValidationError, match="SASL_USERNAME"):
        ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT")
    with pytest.raises(ValidationError):
        ServiceSettings(kafka_security_protocol="TLS")  # not a protocol Kafka knows


async def test_topics_are_created_with_the_settings_partitions(kafka: str) -> None:
    settings = ServiceSettings(kafka_bootstrap_servers=kafka, kafka_topic_partitions=3)
    created = await ensure_topics(kafka, ["ops.sized", "ops.sized.dlt"], partitions=settings.kafka_topic_partitions,
                                  settings=settings)
    assert created == ["ops.sized", "ops.sized.dlt"]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka, **client_options(settings))
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics(["ops.sized", "ops.sized.dlt"])}
        assert len(described["ops.sized"]["partitions"]) == 3
        assert len(described["ops.sized.dlt"]["partitions"]) == 1
        assert all(len(p["replicas"]) == 1 for p in described["ops.sized"]["partitions"])
    finally:
        await admin.close()
    assert await ensure_topics(kafka, ["ops.sized"], settings=settings) == [], "a second run creates nothing"

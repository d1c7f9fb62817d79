"""Prometheus metrics, one registry per service (several services can share a test process)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.http_latency = Histogram(
            "http_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )
        self.events_consumed = Counter(
            "events_consumed_total", "Events consumed, by outcome", ["topic", "outcome"], registry=self.registry
        )
        self.events_published = Counter(
            "events_published_total", "Events published from the outbox", ["topic"], registry=self.registry
        )
        self.dead_lettered = Counter(
            "events_dead_lettered_total", "Messages sent to a dead-letter topic", ["topic"], registry=self.registry
        )
        self.consumer_lag = Gauge(
            "consumer_lag", "Messages behind the partition's end", ["topic", "partition"], registry=self.registry
        )
        self.logins = Counter(
            "logins_total", "Login attempts, by outcome (ok, wrong, throttled)", ["outcome"], registry=self.registry
        )
        self.outbox_pending = Gauge("outbox_pending", "Events not yet published", registry=self.registry)
        self.outbox_oldest_seconds = Gauge(
            "outbox_oldest_pending_seconds", "Age of the oldest event not yet published (0: none)",
            registry=self.registry)
        self.dead_letters_unreplayed = Gauge(
            "dead_letters_unreplayed", "Dead letters stored and not replayed", registry=self.registry)
        self.broker_connected = Gauge(
            "broker_connected", "1 while the Kafka broker answers; 0: degraded (HTTP goes on, events wait in "
            "the outbox)", registry=self.registry)
        # the process's CPU, memory and open files, and the Python version (prometheus-client's own)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

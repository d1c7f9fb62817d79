"""Prometheus metrics, one registry per service (several services can share a test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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

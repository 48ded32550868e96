"""Prometheus metrics of one app, in a registry of its own (never the process-global one, so
several apps in one process, as in tests, do not collide).

With several uvicorn workers each process counts its own requests; a scrape reaches one worker.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["Metrics", "CONTENT_TYPE_LATEST"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LIST_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50)


class Metrics:
    """The service's counters and histograms.

    Attributes:
        registry: The registry they live in, rendered by :meth:`render`.
        requests: Requests by method, route template and status.
        latency: Request durations by method and route template, in seconds.
        list_entries: Entries per study list served (``kind``: daily, or path_day per day of a path).
        list_minutes: Minutes per study list served.
        events: Events received, by outcome (``new``, ``duplicate``).
        writes: Items and members written, by kind.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("recsys_http_requests", "HTTP requests handled.",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("recsys_http_request_duration_seconds", "HTTP request latency.",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.list_entries = Histogram("recsys_list_entries", "Entries per study list served.",
                                      ["kind"], buckets=_LIST_BUCKETS, registry=r)
        self.list_minutes = Histogram("recsys_list_minutes", "Minutes per study list served.", ["kind"],
                                      buckets=(0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 240, 480), registry=r)
        self.events = Counter("recsys_events_ingested", "Events received by POST /v1/events, by outcome.",
                              ["outcome"], registry=r)
        self.writes = Counter("recsys_records_written", "Items and members written.", ["kind"], registry=r)

    def observe_list(self, kind: str, entries: int, minutes: int) -> None:
        self.list_entries.labels(kind).observe(entries)
        self.list_minutes.labels(kind).observe(minutes)

    def render(self) -> bytes:
        """The text exposition format, for ``/metrics``."""
        return generate_latest(self.registry)

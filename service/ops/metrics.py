"""Prometheus metrics, one registry per process (tests build their own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The service's counters and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("newswatch_polls", "Feed polls by outcome", ["outcome"], registry=r)
        self.fetch_seconds = Histogram("newswatch_poll_seconds", "Time to poll one feed", registry=r)
        self.new_items = Counter("newswatch_new_items", "Items stored for the first time", registry=r)
        self.matches = Counter("newswatch_matches", "Rule matches stored, by rule", ["rule"], registry=r)
        self.deliveries = Counter("newswatch_deliveries", "Delivery attempts by outcome", ["destination", "outcome"], registry=r)
        self.delivery_seconds = Histogram("newswatch_delivery_seconds", "Time for a sink to accept an alert", ["destination"], registry=r)
        self.reloads = Counter("newswatch_config_reloads", "Config reloads by outcome", ["outcome"], registry=r)
        self.config_ok = Gauge("newswatch_config_valid", "1 if the config files on disk are the ones in force", registry=r)
        self.article_pages = Counter("newswatch_article_pages", "Article pages fetched for matching, by outcome", ["status"], registry=r)
        self.article_seconds = Histogram(
            "newswatch_article_seconds",
            "Time an article page added to an item before it was matched (robots.txt, pace, fetch, extraction)",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
            registry=r,
        )
        self.failing_feeds = Gauge("newswatch_failing_feeds", "Feeds whose last poll failed", registry=r)
        self.failing_destinations = Gauge(
            "newswatch_destination_failing", "1 while a destination's last alert failed permanently", ["destination"], registry=r
        )
        self.slack_ok = Gauge(
            "newswatch_slack_connected",
            "1 while Slack accepts the bot token (connection=bot) or the Socket Mode connection works (connection=socket)",
            ["connection"],
            registry=r,
        )
        self.slack_failures = Counter(
            "newswatch_slack_connection_failures",
            "Failed checks of the bot token (connection=bot) and failed Socket Mode connection attempts (connection=socket)",
            ["connection"],
            registry=r,
        )

        self.rule_sent = Gauge("newswatch_rule_alerts_sent", "Alerts sent on their own in the last 30 days, by rule", ["rule"], registry=r)
        self.rule_rated = Gauge(
            "newswatch_rule_alerts_rated", "Of those, alerts rated relevant or not in Slack, by rule", ["rule"], registry=r
        )
        self.rule_precision = Gauge(
            "newswatch_rule_precision", "Rated alerts marked relevant over rated alerts, last 30 days, by rule", ["rule"], registry=r
        )
        self.rule_missed = Gauge("newswatch_rule_missed", "Stories reported missed in the last 30 days, by rule", ["rule"], registry=r)
        self.rule_recall = Gauge(
            "newswatch_rule_recall",
            "Relevant alerts over relevant alerts and reported misses, last 30 days, by rule (rules with a reported miss)",
            ["rule"],
            registry=r,
        )

    def rule_feedback(self, stats: Mapping[str, Any]) -> None:
        """Per-rule figures from Slack feedback (`service.storage.feedback.RuleStats` by rule)."""
        for rule, s in stats.items():
            self.rule_sent.labels(rule=rule).set(s.sent)
            self.rule_rated.labels(rule=rule).set(s.rated)
            if s.precision is not None:
                self.rule_precision.labels(rule=rule).set(s.precision)
            self.rule_missed.labels(rule=rule).set(s.missed)
            if s.recall is not None:
                self.rule_recall.labels(rule=rule).set(s.recall)

    def slack(self, connection: str, health: Any) -> None:
        """A Slack connection's state changed (`alerts.slack.health.Health`): "bot" or "socket"."""
        self.slack_ok.labels(connection=connection).set(1 if health.ok else 0)
        if health.state == "failing":
            self.slack_failures.labels(connection=connection).inc()

    def poll(self, feed: str, outcome: str, seconds: float) -> None:
        """Count one poll."""
        self.polls.labels(outcome=outcome).inc()
        self.fetch_seconds.observe(seconds)

    def stored(self, items: int, rules: Mapping[str, int]) -> None:
        """Count the new items and matches one poll stored."""
        self.new_items.inc(items)
        for rule, count in rules.items():
            self.matches.labels(rule=rule).inc(count)

    def article(self, status: str, seconds: float) -> None:
        """Count one article page the pipeline tried."""
        self.article_pages.labels(status=status).inc()
        self.article_seconds.observe(seconds)

    def delivery(self, destination: str, outcome: str, seconds: float | None) -> None:
        """Count one delivery attempt."""
        self.deliveries.labels(destination=destination, outcome=outcome).inc()
        if outcome in ("sent", "dead"):
            self.failing_destinations.labels(destination=destination).set(1 if outcome == "dead" else 0)
        if seconds is not None:
            self.delivery_seconds.labels(destination=destination).observe(seconds)

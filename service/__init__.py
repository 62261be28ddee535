"""newswatch: polls news feeds, matches watch rules, stores matches, alerts Slack."""

__version__ = "0.1.0"

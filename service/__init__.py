"""newswatch: polls news feeds, matches watch rules, stores matches, alerts Slack."""

from service import httpxcli

__version__ = "0.1.0"

httpxcli.install()  # before anything imports httpx: its command-line client (click, pygments) is never used

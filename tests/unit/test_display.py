"""What reaches a screen: no terminal escapes, controls, bidi overrides or stray invisible characters; legitimate joiners kept."""

from __future__ import annotations

import json

import pytest

from alerts.base import redact, secret_forms
from alerts.display import clean, shown_url, urls_shown, visible
from service.settings import Settings


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J\x1b[31mBorder\x1b[0m talks", "Border talks"),  # clear the screen, colour
        ("\x1b]0;pwned\x07Title", "Title"),  # set the window title
        ("\x1b]52;c;ZWNobyBoaQ==\x07copy", "copy"),  # write the clipboard
        ("\x9b31mred", "red"),  # the 8-bit CSI
        ("line\rover", "lineover"),  # a carriage return overwrites the line
        ("bell\x07 and nul\x00", "bell and nul"),
        ("tab\there", "tab here"),
        ("\u202egpj.exe", "gpj.exe"),  # right-to-left override: shows as exe.jpg
        ("Hun Sen \u2066says\u2069 \u202bhello\u202c", "Hun Sen says hello"),
        ("Reu\u200bters", "Reuters"),  # a zero-width space inside a Latin word hides nothing worth keeping
        ("\u200b\u200dBorder\u2060", "Border"),
        ("\ufeffBOM and soft\u00adhyphen", "BOM and softhyphen"),
        ("line\u2028separator", "line\nseparator"),
        ("\u3164", ""),  # a Hangul filler: a "blank" name
    ],
)
def test_clean_removes_what_could_rewrite_a_terminal_or_spoof_a_title(text: str, shown: str) -> None:
    assert clean(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "ព្រំដែន\u200bកម្ពុជា",  # Khmer: a zero-width space between words
        "พรมแดน\u200bไทย",  # Thai
        "क्\u200dष",  # Devanagari: a joiner after the virama
        "می\u200cخواهم",  # Persian: a non-joiner inside a word
        "👨\u200d👩\u200d👧",  # a family: one emoji of three
        "❤️\u200d🔥",
        "👩🏽\u200d💻",
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # the flag of Scotland
        "Việt Nam – Cambodia: “border” talks ✓",
    ],
)
def test_clean_keeps_joiners_where_writing_needs_them(text: str) -> None:
    assert clean(text) == text
    assert visible(text) == text


def test_visible_writes_what_clean_removes_as_escapes_so_json_stays_exact() -> None:
    title = "\u202egpj.exe \x1b[31mred\x9b"
    line = visible(json.dumps({"title": title}, ensure_ascii=False))
    assert "\u202e" not in line and "\x9b" not in line and "\x1b" not in line
    assert json.loads(line)["title"] == title
    assert visible("ESC \x1b[2J") == "ESC \\u001b[2J"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.example.com/feed.xml?apikey=s3cr3t&lang=en", "https://api.example.com/feed.xml?…"),
        ("https://user:pa55@feeds.example.com:8443/rss#top", "https://feeds.example.com:8443/rss"),
        ("http://[::1]:8080/a?token=x", "http://[::1]:8080/a?…"),
        ("https://example.org/news/1.html", "https://example.org/news/1.html"),
        ("file:demo/seed.xml", "file:demo/seed.xml"),
    ],
)
def test_urls_are_shown_without_query_string_or_user_and_password(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_every_url_in_a_message_is_shown_so() -> None:
    message = "redirect to a malformed URL from https://u:p@api.example.com/f?key=s3cr3t (after http://x.org/?a=1)"
    assert urls_shown(message) == "redirect to a malformed URL from https://api.example.com/f?… (after http://x.org/?…)"


WEBHOOK = "https://hooks.slack.com/services/T000/B000/webhooksecret123"


@pytest.mark.parametrize(
    "leaked",
    [
        WEBHOOK,
        f'"{WEBHOOK}"',  # written with quotes in an env file
        "%22https://hooks.slack.com/services/T000/B000/webhooksecret123%22",  # ...and percent-encoded by the HTTP library
        "https%3A%2F%2Fhooks.slack.com%2Fservices%2FT000%2FB000%2Fwebhooksecret123",  # in a query string
        "https:\\/\\/hooks.slack.com\\/services\\/T000\\/B000\\/webhooksecret123",  # JSON-escaped
        "POST /services/T000/B000/webhooksecret123 failed",  # the URL's path: the webhook's secret part
    ],
)
def test_redaction_covers_every_form_a_secret_takes(leaked: str) -> None:
    for secret in (WEBHOOK, f'"{WEBHOOK}"'):
        assert "webhooksecret123" not in redact(f"error: {leaked}", [secret]), (secret, leaked)
    assert WEBHOOK in secret_forms(f"'{WEBHOOK}'")


def test_secrets_written_with_quotes_lose_them_with_a_warning_that_does_not_repeat_them() -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": '"xoxb-secret-1"', "SLACK_APP_TOKEN": "'xapp-secret-2'"})
    assert (settings.slack_bot_token, settings.slack_app_token) == ("xoxb-secret-1", "xapp-secret-2")
    assert settings.notes == (
        "SLACK_BOT_TOKEN is written with quotes around it: they were removed (they are not part of it)",
        "SLACK_APP_TOKEN is written with quotes around it: they were removed (they are not part of it)",
    )
    assert Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-plain"}).notes == ()

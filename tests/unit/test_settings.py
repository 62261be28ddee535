"""Settings: one table of variables, defaults and meanings; clear errors; secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_every_variable_has_its_default_when_unset_or_empty() -> None:
    settings = Settings.from_env({"NEWSWATCH_HTTP_PORT": "", "NEWSWATCH_PER_HOST": "  "})
    assert (settings.http_port, settings.per_host, settings.lease_seconds, settings.article_pace) == (8080, 2, 120, 1.0)
    assert settings.database_url == "sqlite:///./data/newswatch.db" and settings.slack_bot_token is None


def test_values_are_read_and_normalised() -> None:
    settings = Settings.from_env(
        {"NEWSWATCH_HTTP_PORT": "9000", "NEWSWATCH_LOG_LEVEL": "debug", "NEWSWATCH_LOG_FORMAT": "JSON", "NEWSWATCH_ARTICLE_PACE": "0.5"}
    )
    assert (settings.http_port, settings.log_level, settings.log_format, settings.article_pace) == (9000, "DEBUG", "json", 0.5)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWSWATCH_HTTP_PORT": "eighty"}, "NEWSWATCH_HTTP_PORT: input should be a valid integer"),
        ({"NEWSWATCH_PER_HOST": "0"}, "NEWSWATCH_PER_HOST: input should be greater than or equal to 1, got '0'"),
        ({"NEWSWATCH_LOG_FORMAT": "xml"}, "NEWSWATCH_LOG_FORMAT: input should be 'text' or 'json', got 'xml'"),
        ({"NEWSWATCH_ARTICLE_TIMEOUT": "-1"}, "NEWSWATCH_ARTICLE_TIMEOUT: input should be greater than 0"),
    ],
)
def test_a_bad_value_names_its_variable_and_value(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env)
    assert str(error.value).startswith(message)


def test_secrets_are_listed_for_redaction_and_never_shown() -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-secret-1", "SLACK_WEBHOOK_OPS": "https://hooks.slack.com/services/T/B/s3cr3t"})
    assert set(settings.secrets) == {"xoxb-secret-1", "https://hooks.slack.com/services/T/B/s3cr3t"}
    assert "xoxb-secret-1" not in repr(settings) and "s3cr3t" not in repr(settings)


def test_the_documented_tables_are_the_settings_tables() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert markdown_table() in documented, "paste service.settings.markdown_table() into docs/configuration.md"
    web = (ROOT / "docs" / "web.md").read_text(encoding="utf-8")
    assert markdown_table("web") in web, "paste service.settings.markdown_table('web') into docs/web.md"

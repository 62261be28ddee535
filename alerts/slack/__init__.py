"""The Slack sinks (`sink`): chat.postMessage with a bot token, and incoming webhooks; their rendering (`blocks`)."""

from alerts.slack.sink import SlackBotSink, SlackWebhookSink

__all__ = ["SlackBotSink", "SlackWebhookSink"]

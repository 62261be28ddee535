"""The e-mail sink (`sink`): SMTP with aiosmtplib, threaded by Message-ID; its rendering (`render`): text and HTML."""

from alerts.email.sink import EmailSink, SmtpTarget, parse_smtp_url

__all__ = ["EmailSink", "SmtpTarget", "parse_smtp_url"]

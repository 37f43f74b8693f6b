"""Mail drivers: SMTP when configured, otherwise an outbox folder."""

from __future__ import annotations

from cumulo.core.config import Settings
from cumulo.drivers.mail.base import Mail, Mailer
from cumulo.drivers.mail.outbox import OutboxMailer
from cumulo.drivers.mail.smtp import SmtpMailer

__all__ = ["Mail", "Mailer", "make_mailer"]


def make_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_from,
                          settings.smtp_user, settings.smtp_password, settings.smtp_starttls)
    return OutboxMailer(settings.data_dir / "outbox", settings.smtp_from)

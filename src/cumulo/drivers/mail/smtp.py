"""Delivery through an SMTP server (``CUMULO_SMTP_*``)."""

from __future__ import annotations

import asyncio
import smtplib

from cumulo.core.errors import Unavailable
from cumulo.drivers.mail.base import Mail


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, user: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 15.0):
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    def _send_blocking(self, mail: Mail) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(mail.to_message(self.sender))

    async def send(self, mail: Mail) -> None:
        try:
            await asyncio.to_thread(self._send_blocking, mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise Unavailable(f"mail delivery failed: {exc.__class__.__name__}") from exc

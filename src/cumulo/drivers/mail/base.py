"""Mail driver contract."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str

    def to_message(self, sender: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = self.to
        msg["Subject"] = self.subject
        msg.set_content(self.body)
        return msg


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None:
        """Deliver or raise ``cumulo.core.errors.Unavailable``."""

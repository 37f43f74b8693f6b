"""No SMTP configured: each message becomes one .eml file in ``<data_dir>/outbox`` and a log line."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from pathlib import Path

from cumulo.drivers.mail.base import Mail

log = logging.getLogger("cumulo.mail")


class OutboxMailer:
    def __init__(self, folder: Path, sender: str):
        self.folder, self.sender = folder, sender

    def _write(self, mail: Mail) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # mails carry reset tokens
        with os.fdopen(fd, "wb") as fh:
            fh.write(bytes(mail.to_message(self.sender)))
        tmp.rename(path)
        return path

    async def send(self, mail: Mail) -> None:
        path = await asyncio.to_thread(self._write, mail)
        log.info("mail to %s (%s) written to %s", mail.to, mail.subject, path)

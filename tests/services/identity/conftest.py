from __future__ import annotations

import email
import re
from pathlib import Path

from cumulo.testing import eventually
from cumulo.testing.server import LiveServer


def mails_to(live: LiveServer, address: str) -> list[email.message.Message]:
    """Messages the outbox mailer wrote for ``address``, oldest first."""
    folder = Path(live.settings.data_dir) / "outbox"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        msg = email.message_from_bytes(path.read_bytes())
        if msg["To"] == address:
            found.append(msg)
    return found


def last_token(live: LiveServer, address: str, subject_word: str) -> str:
    """The token in the newest mail to ``address`` whose subject contains ``subject_word``."""
    def newest() -> email.message.Message | None:
        msgs = [m for m in mails_to(live, address) if subject_word in m["Subject"]]
        return msgs[-1] if msgs else None

    body = eventually(newest, 10, what=f"a '{subject_word}' mail for {address}").get_payload(decode=True).decode()
    match = re.search(r"/auth/verify/([A-Za-z0-9_\-]+)", body) or re.search(r"\n\n([A-Za-z0-9_\-]{30,})\n", body)
    assert match, body
    return match.group(1)

"""What a message may contain: SQS's character set, on both databases.

SQS accepts ``#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`` in a body and in
attribute names and values; anything else (NUL and other control characters, lone surrogates,
U+FFFE/U+FFFF) is ``400 InvalidMessageContents``. PostgreSQL cannot store NUL in text at all, so
checking first also keeps that database from refusing it halfway through a send.
"""

from __future__ import annotations

import re
from typing import Any

from cumulo.core.errors import InvalidInput

_OUTSIDE = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class InvalidMessageContents(InvalidInput):
    code = "InvalidMessageContents"


def _where(text: str) -> str | None:
    found = _OUTSIDE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X} at position {found.start()}"


def check(body: str, attributes: dict[str, Any] | None, label: str = "") -> None:
    """Raise ``InvalidMessageContents`` naming the first character SQS would refuse."""
    bad = _where(body)
    if bad:
        raise InvalidMessageContents(f"{label}message body contains {bad}, which is not allowed (allowed: tab, "
                                     "newline, carriage return and Unicode from U+0020 except surrogates, "
                                     "U+FFFE and U+FFFF)")
    for key, value in (attributes or {}).items():
        for part, text in (("name", key), ("value", value)):
            if isinstance(text, str) and (bad := _where(text)):
                raise InvalidMessageContents(f"{label}attribute {part} contains {bad}, which is not allowed")

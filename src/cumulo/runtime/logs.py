"""Keep secrets out of the server log.

- uvicorn logs each WebSocket handshake with its query string (``/instances/x/console?api_key=...``):
  the values of sensitive query parameters (API keys, tokens, passwords, signatures, S3 credentials)
  are replaced with ``***`` in every record that passes the uvicorn loggers or the root handlers.
- httpx and httpcore log every outbound request URL at INFO (webhook and cron URLs often carry a
  token): they are held at WARNING, and redacted too.

``redact(text)`` is public for code that must log a user-given URL.
"""

from __future__ import annotations

import logging
import re

SENSITIVE = ("api_key", "apikey", "api-key", "key", "token", "access_token", "auth", "authorization", "password",
             "passwd", "secret", "client_secret", "signature", "sig", "x-amz-signature", "x-amz-credential",
             "x-amz-security-token", "awsaccesskeyid", "credential", "session")
_NAMES = "|".join(re.escape(s) for s in sorted(SENSITIVE, key=len, reverse=True))
_QUERY = re.compile(r"(?P<name>(?:^|(?<=[?&;\s\"']))(?:[\w.-]*(?:" + _NAMES + r")[\w.-]*))=(?P<value>[^&;\s\"'#]*)",
                    re.IGNORECASE)
_BEARER = re.compile(r"\b(cml_)[A-Za-z0-9_\-]{6,}")  # a Cumulo API key wherever it appears
_QUIET = ("httpx", "httpcore")


def redact(text: str) -> str:
    """``text`` with the values of sensitive query parameters and Cumulo API keys replaced by ``***``."""
    if "=" in text:
        text = _QUERY.sub(lambda m: f"{m.group('name')}=***", text)
    if "cml_" in text:
        text = _BEARER.sub(r"\1***", text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is not ours to break
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()


def install() -> None:
    """Idempotent: add the filter to uvicorn's loggers and the root handlers; quiet httpx/httpcore."""
    loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access", *_QUIET)]
    for quiet in _QUIET:
        logging.getLogger(quiet).setLevel(logging.WARNING)
    handlers = logging.getLogger().handlers + [h for lg in loggers for h in lg.handlers]
    for target in (*loggers, *handlers):
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)

"""Helpers for tests of Cumulo and of services built on it: ``LiveServer`` (``testing/server.py``)
and ``eventually`` (``testing/polling.py``)."""

from cumulo.testing.polling import eventually

__all__ = ["eventually"]

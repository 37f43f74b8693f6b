"""The failures of the CLI's HTTP client (``lighthttp``), raised as exceptions named as httpx names
them (``ConnectError``, ``ReadTimeout``...), so the SDK reports them the same. All are
``TransportError``s: the request did not get an answer."""

from __future__ import annotations


class TransportError(Exception):
    """The request did not get an answer (httpx.TransportError's counterpart)."""


class UnsupportedProtocol(TransportError):
    pass


class ConnectError(TransportError):
    pass


class ConnectTimeout(TransportError):
    pass


class ReadError(TransportError):
    pass


class ReadTimeout(TransportError):
    pass


class WriteError(TransportError):
    pass


class WriteTimeout(TransportError):
    pass


class RemoteProtocolError(TransportError):
    pass

"""Typed Python SDK for the Cumulo API (httpx). The CLI and the end-to-end tests use it.

    from cumulo.client import Client
    c = Client("http://127.0.0.1:8080", api_key="cml_...")
    c.identity.keys()
"""

from __future__ import annotations

from cumulo.client.base import ApiError, Client, ConnectionFailed

__all__ = ["ApiError", "Client", "ConnectionFailed"]

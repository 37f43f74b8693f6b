"""The bottom of the SDK: one ``Transport`` whose ``request`` turns Cumulo's error model into
``ApiError``. Every service namespace (``client/<name>.py``) takes a ``Transport``; ``Client``
(``client/base.py``) is a ``Transport`` that also has the namespaces, so they never import it.

The HTTP underneath is an ``httpx.Client`` (imported when the first ``Transport`` is made), or any
object with its interface passed as ``http``: the CLI passes ``client/lighthttp.py``'s, which answers
a command without the tenth of a second ``import httpx`` costs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    import httpx


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


class ConnectionFailed(Exception):
    """The server did not answer."""


def error_of(response: Any) -> ApiError:
    """The ``ApiError`` of a 4xx/5xx answer (read)."""
    try:
        err = response.json()["error"]
        return ApiError(response.status_code, err.get("code", "ERROR"), err.get("message", ""), err.get("details"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return ApiError(response.status_code, "ERROR", response.text[:500])


class Transport:
    def __init__(self, base_url: str = "http://127.0.0.1:8080", api_key: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None, http: Any = None):
        """``http``: an object with ``httpx.Client``'s ``request``/``stream``/``get``/``close`` whose
        ``errors`` are the exceptions meaning "no answer" (``lighthttp.Client``); default httpx."""
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        if http is None:
            import httpx

            http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)
            self._errors: tuple[type[BaseException], ...] = (httpx.TransportError,)
        else:
            self._errors = tuple(http.errors)
        self._http: Any = http

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key} if self.api_key else {}

    def send(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
             **kwargs: Any) -> Any:
        """The answer whatever its status (the HTTP client's response object); no answer raises
        ``ConnectionFailed``."""
        try:
            return self._http.request(method, path, json=json, params=params,
                                      headers={**self.headers(), **kwargs.pop("headers", {})}, **kwargs)
        except self._errors as exc:
            raise ConnectionFailed(f"cannot reach Cumulo at {self.base_url}: {exc.__class__.__name__}") from exc

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                raw: bool = False, **kwargs: Any) -> Any:
        response = self.send(method, path, json=json, params=params, **kwargs)
        if response.status_code >= 400:
            raise error_of(response)
        if raw:
            return response
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[Any]:
        """A streamed answer (read it with ``iter_bytes``/``iter_lines``); a 4xx/5xx raises ``ApiError``."""
        try:
            with self._http.stream(method, path, headers={**self.headers(), **kwargs.pop("headers", {})},
                                   **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_of(response)
                yield response
        except self._errors as exc:
            raise ConnectionFailed(f"cannot reach Cumulo at {self.base_url}: {exc.__class__.__name__}") from exc

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json=json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

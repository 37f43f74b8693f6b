"""The route index answers exactly as Starlette's ordered scan would."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cumulo.api.routing import RouteIndex, index_routes


def _app(indexed: bool = True) -> FastAPI:
    app = FastAPI()

    @app.get("/a/x")
    async def literal() -> str:
        return "literal"

    @app.get("/{p}/y")
    async def param_first(p: str) -> str:
        return f"param-first {p}"

    @app.get("/a/{q}")
    async def param_second(q: str) -> str:
        return f"param-second {q}"

    @app.get("/")
    async def root() -> str:
        return "root"

    if indexed:
        index_routes(app)
    return app


def test_first_full_match_in_declaration_order() -> None:
    client = TestClient(_app())
    assert client.get("/a/x").json() == "literal"
    assert client.get("/a/y").json() == "param-first a"  # declared before /a/{q}
    assert client.get("/b/y").json() == "param-first b"
    assert client.get("/a/z").json() == "param-second z"
    assert client.get("/").json() == "root"


def test_every_answer_matches_the_plain_router() -> None:
    indexed, plain = TestClient(_app()), TestClient(_app(indexed=False))
    for method, path in [("GET", "/a/x"), ("POST", "/a/x"), ("HEAD", "/a/x"), ("GET", "/a/x/"), ("GET", "/nope/q/r"),
                         ("DELETE", "/b/y"), ("GET", "/a"), ("GET", ""), ("GET", "//y")]:
        got, want = indexed.request(method, path), plain.request(method, path)
        assert (got.status_code, got.content) == (want.status_code, want.content), (method, path)
    assert indexed.post("/a/x").status_code == 405 and indexed.get("/nope/q/r").status_code == 404


def test_buckets_hold_literal_and_parameter_routes_in_order() -> None:
    app = _app()
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    assert [r.path for r in index.buckets["a"]] == ["/a/x", "/{p}/y", "/a/{q}"]
    assert [r.path for r in index.anywhere] == ["/{p}/y"]

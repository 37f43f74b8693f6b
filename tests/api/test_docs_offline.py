"""``/docs`` and ``/redoc`` work air-gapped (every asset from the API itself, CSP 'self'), and the
OpenAPI document says how the API really behaves (API-key scheme, error envelope and 400, raw bodies)."""

from __future__ import annotations

import json
import re

import httpx

from cumulo.testing.server import LiveServer

URL = re.compile(r"""(?:src|href|spec-url|url)\s*=\s*["']([^"']+)["']""")


def _assets(page: str) -> list[str]:
    return [u for u in URL.findall(page) if u != "/openapi.json"]


def test_docs_pages_load_nothing_from_the_network(server_sqlite: LiveServer) -> None:
    for path, needed in (("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js"}),
                         ("/redoc", {"redoc.standalone.js"})):
        r = httpx.get(server_sqlite.url + path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "http://" not in r.text and "https://" not in r.text and "<script>" not in r.text
        assets = _assets(r.text)
        assert needed <= {a.rsplit("/", 1)[-1] for a in assets}
        for asset in assets:
            assert asset.startswith("/docs/assets/"), asset
            got = httpx.get(server_sqlite.url + asset)
            assert got.status_code == 200 and len(got.content) > 400, asset
            assert got.headers["content-type"].split(";")[0] in ("text/javascript", "text/css", "image/png")
        csp = r.headers["content-security-policy"]
        script = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert script.split() == ["script-src", "'self'"] and "https:" not in csp
    init = httpx.get(server_sqlite.url + "/docs/assets/swagger-init.js").text
    assert "validatorUrl: null" in init  # the default validator badge calls an outside service
    assert httpx.get(server_sqlite.url + "/docs/assets/nope.js").status_code == 404


def test_openapi_declares_the_api_key_and_the_real_errors(server_sqlite: LiveServer) -> None:
    doc = httpx.get(server_sqlite.url + "/openapi.json").json()
    text = json.dumps(doc)
    assert "HTTPValidationError" not in text and '"422"' not in text
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"]["scheme"] == "bearer"
    keys = doc["paths"]["/auth/keys"]["get"]
    assert {"ApiKey": []} in keys["security"] and "401" in keys["responses"]
    login = doc["paths"]["/auth/login"]["post"]
    assert "security" not in login
    assert login["responses"]["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]
    assert {"code", "message", "details", "request_id"} <= set(error["properties"])
    put = doc["paths"]["/storage/{bucket}/{key}"]["put"]
    assert put["requestBody"]["content"]["*/*"]["schema"]["format"] == "binary"
    key = next(p for p in put["parameters"] if p["name"] == "key")
    assert "`/`" in key["description"]
    assert "404" in doc["paths"]["/storage/{bucket}/{key}"]["get"]["responses"]

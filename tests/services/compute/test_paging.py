"""GET /instances searched and paged on the server: a thousand instances (rows of STOPPED instances
written straight into the database: the list is what is tested, not a thousand containers)."""

from __future__ import annotations

from typing import Any

import httpx

from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login


def stopped_instances(live: LiveServer, user_id: str, count: int, prefix: str = "web") -> None:
    """``count`` STOPPED instances of ``user_id`` named ``<prefix>-0000``..., every tenth with image
    ``cumulo/debian``, the others ``cumulo/busybox``."""
    import datetime as dt

    from cumulo.services.compute.models import Instance

    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)

    async def write() -> None:
        async with live.platform.db.session() as session:  # type: ignore[union-attr]
            session.add_all([Instance(user_id=user_id, name=f"{prefix}-{n:04d}", image=image, image_ref=image,
                                      desired="stopped", status="STOPPED", cpus=0.1, memory_mb=64, meta={},
                                      created_at=start + dt.timedelta(milliseconds=n))
                             for n in range(count)
                             for image in ("cumulo/debian" if n % 10 == 0 else "cumulo/busybox",)])
            await session.commit()

    live.call(write(), timeout=120)


def test_a_thousand_instances_are_searched_and_paged_on_the_server(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server()
    with register_and_login(live) as c, register_and_login(live) as other:
        stopped_instances(live, c.get("/auth/me")["id"], 1000)
        http = httpx.Client(base_url=live.url, headers=c.headers(), timeout=60)

        def listed(**params: Any) -> tuple[list[dict[str, Any]], httpx.Headers]:
            r = http.get("/instances", params=params)
            assert r.status_code == 200, r.text
            return r.json(), r.headers

        rows, headers = listed(limit=50)
        assert [r["name"] for r in rows] == [f"web-{n:04d}" for n in range(50)]  # launch order
        assert headers["X-Total-Count"] == "1000"
        assert headers["Link"] == '</instances?offset=50&limit=50>; rel="next"'
        rows, headers = listed(limit=50, offset=950)
        assert rows[-1]["name"] == "web-0999" and len(rows) == 50 and "Link" not in headers
        assert listed(limit=50, offset=1000)[0] == []
        rows, headers = listed(q="WEB-099")  # any case, a substring of the name
        assert [r["name"] for r in rows] == [f"web-{n:04d}" for n in range(990, 1000)]
        assert headers["X-Total-Count"] == "10"
        rows, headers = listed(q="debian", limit=5)  # the image is searched too
        assert headers["X-Total-Count"] == "100" and all(r["image"] == "cumulo/debian" for r in rows)
        assert listed(status="stopped", limit=1)[1]["X-Total-Count"] == "1000"
        assert listed(status="RUNNING")[0] == []
        assert listed(q="100%")[0] == [] and listed(q="_")[0] == []  # LIKE wildcards are plain text
        assert len(listed()[0]) == 1000  # no limit: the whole list, as before (CLI, SDK)
        for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"q": "x" * 201}):
            r = http.get("/instances", params=bad)
            assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_INPUT", (bad, r.text)
        theirs = httpx.get(f"{live.url}/instances", params={"q": "web"}, headers=other.headers())
        assert theirs.json() == [] and theirs.headers["X-Total-Count"] == "0"  # nobody else's rows
        http.close()

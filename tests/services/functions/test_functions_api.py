"""Function resources through the HTTP API, on SQLite and PostgreSQL: create (JSON and multipart),
versions, validation (zip-slip, zip bombs, handlers, runtimes) and ownership."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest

from cumulo.client import ApiError, Client
from cumulo.client.functions import zip_files

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


def fname() -> str:
    return f"fn-{uuid.uuid4().hex[:8]}"


def status_of(fn, *args, **kwargs) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    return err.value.status, err.value.message


def test_runtimes_are_real_versions(user: Client) -> None:
    runtimes = {r["language"]: r for r in user.functions.runtimes()}
    assert set(runtimes) >= {"python", "node"}
    assert runtimes["python"]["name"].startswith("python3.") and runtimes["python"]["version"].count(".") == 2
    assert runtimes["node"]["name"] == "nodejs" + runtimes["node"]["version"].split(".")[0]


def test_create_json_and_multipart_get_list_update_delete(user: Client, py_zip: bytes, node_zip: bytes) -> None:
    name = fname()
    fn = user.functions.create(name, "python", py_zip, env={"GREETING": "hi"})
    assert fn["runtime"].startswith("python3.") and fn["handler"] == "main.handler" and fn["version"] == 1
    assert (fn["timeout_seconds"], fn["memory_mb"], fn["max_concurrency"]) == (30, 128, 10)
    assert user.functions.get(name)["id"] == fn["id"] and user.functions.get(fn["id"])["name"] == name
    assert name in [f["name"] for f in user.functions.list()]

    other = user.functions.create_multipart({"name": fname(), "runtime": "nodejs", "handler": "index.sync",
                                             "timeout_seconds": "5", "env": {"A": "1"}}, node_zip)
    assert other["runtime"].startswith("nodejs") and other["timeout_seconds"] == 5 and other["env"] == {"A": "1"}

    updated = user.functions.update(name, handler="main.fail", memory_mb=256)
    assert (updated["version"], updated["handler"], updated["memory_mb"]) == (2, "main.fail", 256)
    assert updated["env"] == {"GREETING": "hi"} and updated["code_sha256"] == fn["code_sha256"]
    new_code = user.functions.update(name, code=zip_files({"main.py": "def fail(e, c):\n    return 1\n"}))
    assert new_code["version"] == 3 and new_code["code_sha256"] != fn["code_sha256"]

    user.functions.delete(name)
    assert status_of(user.functions.get, name)[0] == 404
    assert status_of(user.functions.create, other["name"], "python", py_zip)[0] == 409


def test_unknown_runtime_lists_the_available_ones(user: Client, py_zip: bytes) -> None:
    status, message = status_of(user.functions.create, fname(), "cobol85", py_zip)
    assert status == 400 and "python3." in message and "nodejs" in message


def _zip_with(name: str, data: bytes = b"x", attr: int | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("main.py", "def handler(e, c):\n    return 1\n")
        info = zipfile.ZipInfo(name)
        if attr is not None:
            info.external_attr = attr << 16
        archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def test_unsafe_or_invalid_code_is_rejected(user: Client, py_zip: bytes) -> None:
    cases = {
        "zip-slip": _zip_with("../../etc/evil.py"),
        "absolute": _zip_with("/etc/evil.py"),
        "symlink": _zip_with("link", b"/etc/passwd", attr=0o120777),
        "bomb": _zip_with("zeros.bin", b"\0" * (40 * 1024 * 1024)),
        "not a zip": b"plain text, not a zip",
        "no handler module": zip_files({"other.py": "x = 1\n"}),
    }
    for label, data in cases.items():
        status, _ = status_of(user.functions.create, fname(), "python", data)
        assert status in (400, 413), label
    assert status_of(user.functions.create, fname(), "python", py_zip, handler="main")[0] == 400
    assert status_of(user.functions.create, fname(), "nodejs", py_zip)[0] == 400  # no index.js
    assert status_of(user.post, "/functions", json={"name": fname(), "runtime": "python", "code_zip": "***"})[0] == 400
    assert status_of(user.post, "/functions", json={"name": fname(), "runtime": "python"})[0] == 400
    for bad in ({"timeout_seconds": 0}, {"memory_mb": 8}, {"max_concurrency": 1000}, {"env": {"1X": "a"}},
                {"env": {"CUMULO_HANDLER": "x"}}, {"env_secrets": {"X": "no-such-secret"}},
                {"dead_letter_queue": "no-such-queue"}, {"name": "bad name!"}):
        body = {"name": fname(), "runtime": "python", "code_zip": __import__("base64").b64encode(py_zip).decode(),
                **bad}
        assert status_of(user.post, "/functions", json=body)[0] == 400, bad
    assert all(f["name"].startswith("fn-") is False or f["version"] >= 1 for f in user.functions.list())


def test_invalid_invoke_bodies_are_400(user: Client, py_zip: bytes) -> None:
    fn = user.functions.create(fname(), "python", py_zip)
    assert status_of(user.request, "POST", f"/functions/{fn['id']}/invoke", content=b"{not json",
                     headers={"content-type": "application/json"})[0] == 400
    assert status_of(user.post, f"/functions/{fn['id']}/invoke", json={"payload": 1, "async": "yes"})[0] == 400
    assert status_of(user.get, f"/functions/{fn['id']}/invocations/{uuid.uuid4()}")[0] == 404
    assert status_of(user.get, f"/functions/{fn['id']}/invocations/not-a-uuid")[0] == 404


def test_other_users_function_is_404(user: Client, other_user: Client, py_zip: bytes) -> None:
    fn = user.functions.create(fname(), "python", py_zip)
    for ref in (fn["id"], fn["name"]):
        assert status_of(other_user.functions.get, ref)[0] == 404
        assert status_of(other_user.functions.invoke, ref, {})[0] == 404
        assert status_of(other_user.functions.update, ref, memory_mb=256)[0] == 404
        assert status_of(other_user.functions.logs, ref)[0] == 404
        assert status_of(other_user.functions.delete, ref)[0] == 404
    assert fn["name"] not in [f["name"] for f in other_user.functions.list()]
    assert user.functions.get(fn["id"])["version"] == 1


def test_finished_invocations_are_pruned_after_the_retention(server, user: Client, py_zip: bytes) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from sqlalchemy import select

    from cumulo.services.functions import service
    from cumulo.services.functions.models import Invocation

    fn = user.functions.create(fname(), "python", py_zip)
    me = user.identity.me()["id"]
    now = dt.datetime.now(dt.UTC)
    old = now - dt.timedelta(seconds=server.settings.function_invocation_retention_seconds + 60)
    rows = {"old-finished": {"ended_at": old, "created_at": old}, "recent": {"ended_at": now, "created_at": now},
            "old-pending": {"ended_at": None, "created_at": old}}

    async def seed() -> dict[str, str]:
        ids = {}
        async with server.platform.db.session() as s:
            for label, times in rows.items():
                inv = Invocation(function_id=fn["id"], user_id=me, version=1, status="SUCCESS", **times)
                s.add(inv)
                await s.flush()
                ids[label] = inv.id
            await s.commit()
        return ids

    async def remaining(ids: dict[str, str]) -> set[str]:
        async with server.platform.db.session() as s:
            found = set((await s.scalars(select(Invocation.id).where(Invocation.id.in_(ids.values())))).all())
        return {label for label, i in ids.items() if i in found}

    ids = server.call(seed())
    assert server.call(service.prune_invocations(server.platform)) >= 1
    assert server.call(remaining(ids)) == {"recent", "old-pending"}


def test_vpc_is_resolved_by_the_network_service_for_its_owner_only(user: Client, other_user: Client,
                                                                    py_zip: bytes) -> None:
    vpc = user.network.create_vpc(f"fvpc-{uuid.uuid4().hex[:6]}")
    try:
        fn = user.functions.create(fname(), "python", py_zip, vpc_id=vpc["id"])
        assert fn["vpc_id"] == vpc["id"]
        status, message = status_of(other_user.functions.create, fname(), "python", py_zip, vpc_id=vpc["id"])
        assert status == 400 and "not found" in message
        user.functions.delete(fn["id"])
    finally:
        user.network.delete_vpc(vpc["id"])

"""Images: the shared catalogue, builds of one's own (streamed log), launch, privacy, delete."""

from __future__ import annotations

import uuid

import pytest

from cumulo.client import ApiError, Client
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login

pytestmark = pytest.mark.docker
CATALOGUE = {"cumulo/busybox", "cumulo/debian", "cumulo/python", "cumulo/node", "cumulo/nginx", "cumulo/postgres",
             "cumulo/mariadb", "cumulo/redis"}


def test_catalogue_lists_the_bootstrapped_images(sqlite_user: Client) -> None:
    listed = {i["name"]: i for i in sqlite_user.images.list() if i["owner"] == "cumulo"}
    assert CATALOGUE <= set(listed)
    assert listed["cumulo/busybox"]["status"] == "READY" and listed["cumulo/busybox"]["size_mb"] > 0
    assert sqlite_user.images.get("cumulo/python")["reference"] == "cumulo/python"
    with pytest.raises(ApiError) as err:
        sqlite_user.images.delete("cumulo/busybox")
    assert err.value.status == 403


def test_build_stream_launch_private_and_delete(server_sqlite: LiveServer, sqlite_user: Client) -> None:
    name = f"app-{uuid.uuid4().hex[:8]}"
    items = list(sqlite_user.images.build(name, "FROM cumulo/busybox\nCOPY greeting.txt /greeting.txt\n"
                                          'CMD ["cat", "/greeting.txt"]\n', tag="v1",
                                          files={"greeting.txt": "hi from my image\n"}))
    assert any("Step 1/" in i.get("log", "") for i in items)
    image = items[-1]["image"]
    assert (image["status"], image["reference"], image["owner"]) == ("READY", f"{name}:v1", "you")
    assert f"{name}:v1" in [i["reference"] for i in sqlite_user.images.list()]
    assert "Successfully" in sqlite_user.images.log(image["id"])

    inst = sqlite_user.instances.launch(f"i-{name}", f"{name}:v1")
    assert inst["status"] in ("RUNNING", "ERROR")  # cat exits at once; the output is what matters
    assert "hi from my image" in sqlite_user.instances.logs(inst["id"])
    with pytest.raises(ApiError) as err:
        sqlite_user.images.delete(image["id"])
    assert err.value.status == 409 and f"instance i-{name}" in err.value.message  # compute's delete guard

    with register_and_login(server_sqlite) as other:
        assert f"{name}:v1" not in [i["reference"] for i in other.images.list()]
        for call in (lambda: other.images.get(image["id"]), lambda: other.images.delete(image["id"])):
            with pytest.raises(ApiError) as err:
                call()
            assert err.value.status == 404
        with pytest.raises(ApiError) as err:
            other.instances.launch("steal", f"{name}:v1")
        assert err.value.status == 404 and "not found" in err.value.message

    with pytest.raises(ApiError) as err:  # same name and tag twice
        sqlite_user.images.build_wait(name, "FROM cumulo/busybox\n", tag="v1")
    assert err.value.status == 409
    sqlite_user.instances.terminate(inst["id"])
    sqlite_user.images.delete(image["id"])
    with pytest.raises(ApiError):
        sqlite_user.images.get(image["id"])


def test_failed_build_reports_the_error_and_is_marked_failed(sqlite_user: Client) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    final = sqlite_user.images.build_wait(name, "FROM cumulo/busybox\nRUN exit 3\n")
    assert final["error"]["code"] == "BUILD_FAILED" and "returned a non-zero code: 3" in final["error"]["message"]
    (img,) = [i for i in sqlite_user.images.list() if i["name"] == name]
    assert img["status"] == "FAILED" and img["error"]
    with pytest.raises(ApiError) as err:
        sqlite_user.instances.launch("x", name)
    assert err.value.status == 400
    sqlite_user.images.delete(img["id"])


@pytest.mark.parametrize("body", [
    {"name": "UPPER", "dockerfile": "FROM cumulo/busybox"}, {"name": "cumulo-x", "dockerfile": "FROM x"},
    {"name": "ok", "dockerfile": ""}, {"name": "ok", "dockerfile": "FROM x", "tag": "bad tag"},
    {"name": "ok", "dockerfile": "FROM x", "files": {"../escape": "x"}},
    {"name": "ok", "dockerfile": "FROM x", "files": {"/abs": "x"}},
    {"name": "ok", "dockerfile": "FROM x", "files": {"Dockerfile": "x"}},
])
def test_bad_build_requests_are_400(user: Client, body: dict) -> None:
    with pytest.raises(ApiError) as err:
        user.post("/images", body)
    assert err.value.status == 400
    assert [i for i in user.images.list() if i["owner"] == "you"] == []

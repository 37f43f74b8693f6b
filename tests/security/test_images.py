"""Images across tenants, and image builds against the host (issue 10 points 1 and 4, and the image
quotas of point 7), on the real dockerd.

A build names only the catalogue and the caller's own images (by name[:tag], id or full engine id):
id prefixes, other users' ``cumulo-user/...`` tags and their ids are 404 before Docker sees the
Dockerfile. ``RUN`` steps have no network, and ``ADD <url>`` (fetched by dockerd from the host) is
refused with 400."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import ipaddress
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest

from cumulo.client import ApiError, Client
from cumulo.drivers.compute.docker import DockerDriver
from cumulo.services.images.bootstrap import context_tar
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import concurrent_statuses, register_and_login

pytestmark = pytest.mark.docker


def slow_run() -> str:
    """A build whose RUN step really takes a while (unique, so never a build-cache hit)."""
    return f"FROM cumulo/busybox\nRUN echo {uuid.uuid4().hex} && sleep 4\n"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = request.getfixturevalue("pg_database") if request.param == "postgresql" else None
    live = LiveServer(settings_for(str(tmp_path_factory.mktemp("images-sec")), url, quota_images=10,
                                    quota_image_builds=1)).start()
    yield live
    live.stop()


@pytest.fixture
def alice(srv: LiveServer) -> Iterator[Client]:
    with register_and_login(srv) as client:
        yield client


@pytest.fixture
def bob(srv: LiveServer) -> Iterator[Client]:
    with register_and_login(srv) as client:
        yield client


def name(prefix: str = "img") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def built(client: Client, image: str, dockerfile: str, **kw: Any) -> dict[str, Any]:
    final = client.images.build_wait(image, dockerfile, **kw)
    assert "image" in final, final
    assert final["image"]["status"] == "READY"
    return final["image"]  # type: ignore[no-any-return]


def engine_id(client: Client, image: str, tag: str = "latest") -> str:
    return docker.from_env().images.get(f"cumulo-user/{client.identity.me()['id']}/{image}:{tag}").id  # type: ignore[no-any-return]


def refused(call: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        call(*args)
    return err.value


def own_images(client: Client) -> list[dict[str, Any]]:
    return [i for i in client.images.list() if i["owner"] == "you"]


@pytest.fixture
def vault(alice: Client) -> dict[str, Any]:
    """Alice's private image, holding a token."""
    token = uuid.uuid4().hex
    image = built(alice, name("vault"), "FROM cumulo/busybox\nCOPY token.txt /token.txt\n", files={"token.txt": token})
    full = engine_id(alice, image["name"])
    return {"image": image, "token": token, "full": full, "hex": full.removeprefix("sha256:"),
            "tag": f"cumulo-user/{alice.identity.me()['id']}/{image['name']}"}


def foreign_refs(vault: dict[str, Any]) -> list[str]:
    hexid, tag, img = vault["hex"], vault["tag"], vault["image"]
    return [hexid[:3], hexid[:2], hexid[:12], hexid, vault["full"], tag, f"{tag}:latest", img["id"], img["name"],
            f"{img['name']}:latest"]


def test_a_build_cannot_name_another_users_image(vault: dict[str, Any], bob: Client) -> None:
    templates = ["FROM {ref}\nRUN cat /token.txt\n",
                 "FROM cumulo/busybox\nCOPY --from={ref} /token.txt /stolen.txt\n",
                 "FROM cumulo/busybox AS first\nRUN true\nFROM {ref}\n",
                 "FROM cumulo/busybox\nONBUILD COPY --from={ref} /token.txt /stolen.txt\n"]
    for ref in foreign_refs(vault):
        for template in templates:
            if ref.isdigit() and "ONBUILD" in template:
                continue  # a number there is the child's stage index, which Docker never takes for an image
            err = refused(bob.images.build_wait, name("steal"), template.format(ref=ref))
            if ref.isdigit() and "--from" in template:  # a stage index here too: no such earlier stage
                assert err.status == 400 and "stage" in err.message, (ref, template, err)
            else:
                assert err.status == 404 and "not found" in err.message and "line" in err.message, (ref, template, err)
    assert own_images(bob) == []
    bob_id = bob.identity.me()["id"]
    assert docker.from_env().images.list(filters={"label": f"cumulo.owner={bob_id}"}) == []


def test_another_users_image_cannot_be_launched(vault: dict[str, Any], bob: Client) -> None:
    for ref in foreign_refs(vault):
        err = refused(bob.instances.launch, name("steal"), ref)
        assert err.status == 404 and "not found" in err.message, (ref, err)
    assert bob.instances.list() == []


def test_own_images_by_name_and_id_multi_stage_and_onbuild_still_build(alice: Client) -> None:
    token = uuid.uuid4().hex
    lib = built(alice, name("lib"), "FROM cumulo/busybox\nCOPY lib.txt /lib.txt\n", files={"lib.txt": token})
    check = f"RUN grep -q {token} /lib.txt\n"
    full = engine_id(alice, lib["name"])
    for ref in (lib["name"], f"{lib['name']}:latest", lib["id"], full, full.removeprefix("sha256:")):
        built(alice, name("child"), f"FROM {ref}\n{check}")
    busybox = docker.from_env().images.get("cumulo/busybox:latest").id
    built(alice, name("cat"), f"FROM {busybox}\nRUN test -x /bin/sh\n")
    built(alice, name("multi"), "\n".join([
        "FROM cumulo/busybox AS build", "RUN echo built > /out",
        f"FROM {lib['name']} AS final", "COPY --from=build /out /out", "COPY --from=0 /out /out0",
        f"COPY --from={lib['name']} /lib.txt /copied.txt",
        f"RUN grep -q built /out && grep -q built /out0 && grep -q {token} /copied.txt"]) + "\n")
    trig = built(alice, name("trig"), f"FROM cumulo/busybox\nONBUILD COPY --from={lib['name']} /lib.txt /t.txt\n")
    built(alice, name("ontrig"), f"FROM {trig['name']}\nRUN grep -q {token} /t.txt\n")
    err = refused(alice.images.build_wait, name("clash"), f"FROM cumulo/busybox AS {lib['name']}\n")
    assert err.status == 400 and "stage name" in err.message


def test_deleting_an_image_a_running_build_uses_does_not_break_the_build(alice: Client) -> None:
    token = uuid.uuid4().hex
    lib = built(alice, name("lib"), "FROM cumulo/busybox\nCOPY lib.txt /lib.txt\n", files={"lib.txt": token})
    stream = alice.images.build(name("late"), f"FROM cumulo/busybox\nRUN echo {token} && sleep 3\nCOPY "
                                f"--from={lib['name']} /lib.txt /copied.txt\nRUN grep -q {token} /copied.txt\n")
    assert any("sleep 3" in item.get("log", "") for item in stream)  # stops once that step runs
    alice.images.delete(lib["id"])  # meanwhile: only the user's tag goes, the build keeps its image
    final = list(stream)[-1]
    assert final.get("image", {}).get("status") == "READY", final
    assert [i["name"] for i in own_images(alice)] == [final["image"]["name"]]


def test_image_quotas_count_and_builds_at_once(srv: LiveServer, alice: Client) -> None:
    statuses = concurrent_statuses([lambda: alice.images.build_wait(name("slow"), slow_run()) for _ in range(3)])
    assert statuses == [201, 403, 403]  # one build at a time, even when they race
    assert len(own_images(alice)) == 1  # the refused builds left nothing
    stream = alice.images.build(name("slow"), slow_run())
    assert "log" in next(stream)  # answered 201: this build is running now
    err = refused(alice.images.build_wait, name("meanwhile"), "FROM cumulo/busybox\n")
    assert (err.status, err.code) == (403, "QUOTA_EXCEEDED") and err.details["kind"] == "image_builds", err
    assert list(stream)[-1]["image"]["status"] == "READY"
    for _ in range(8):
        built(alice, name("fill"), "FROM cumulo/busybox\nLABEL fill=1\n")
    err = refused(alice.images.build_wait, name("over"), "FROM cumulo/busybox\n")
    assert (err.status, err.code) == (403, "QUOTA_EXCEEDED") and err.details["kind"] == "images", err
    assert err.details["setting"] == "CUMULO_QUOTA_IMAGES"
    assert len(own_images(alice)) == 10
    quotas = {q["kind"]: q for q in alice.get("/quotas")}
    assert (quotas["images"]["used"], quotas["images"]["limit"]) == (10, 10)
    assert (quotas["image_builds"]["used"], quotas["image_builds"]["limit"]) == (0, 1)


# --- builds against the host: no network, no remote ADD (the default settings) -----------------------

class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"host secret\n")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def host_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, int, list[str]]]:
    """An HTTP server on the host (address given by the test's parameter), recording the paths asked."""
    handler = type("Handler", (_Recorder,), {"hits": []})
    srv = http.server.ThreadingHTTPServer((request.param(), 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[0], srv.server_address[1], handler.hits
    srv.shutdown()
    srv.server_close()


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge: what a build step on that network reaches."""
    ipam = (docker.from_env().networks.get("bridge").attrs.get("IPAM") or {}).get("Config") or [{}]
    return ipam[0].get("Gateway") or str(next(ipaddress.ip_network(ipam[0]["Subnet"]).hosts()))


def fetch_step(host: str, port: int, path: str) -> str:
    return f"RUN printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port} > /got && grep -q secret /got\n"


@pytest.mark.parametrize("host_server", [bridge_gateway], indirect=True)
def test_run_steps_have_no_network(host_server: tuple[str, int, list[str]], sqlite_user: Client) -> None:
    host, port, hits = host_server
    dockerfile = "FROM cumulo/busybox\n" + fetch_step(host, port, "/from-a-user-build")
    # the same step on the engine's default network does reach the server: the test can see a leak
    driver = DockerDriver()
    control = f"cumulo-test-control-{uuid.uuid4().hex[:8]}:latest"
    try:
        asyncio.run(driver.build_image(context_tar(dockerfile.replace("/from-a-user-build", "/control")), control,
                                       {"cumulo.kind": "test"}))
    finally:
        driver.close()
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker.from_env().images.remove(control, force=True)
    assert hits == ["/control"]
    final = sqlite_user.images.build_wait(name("net"), dockerfile)
    assert final["error"]["code"] == "BUILD_FAILED", final
    assert hits == ["/control"]  # the user's build never reached it


@pytest.mark.parametrize("host_server", [lambda: "127.0.0.1"], indirect=True)
def test_remote_add_and_buildkit_mounts_are_refused_before_building(host_server: tuple[str, int, list[str]],
                                                                      sqlite_user: Client) -> None:
    host, port, hits = host_server
    for line in (f"ADD http://{host}:{port}/metrics /metrics.txt", f"ADD https://{host}:{port}/x /x",
                 f'ADD ["http://{host}:{port}/json", "/x"]', f"ADD --chown=0:0 http://{host}:{port}/c /x",
                 "ADD git@github.com:example/repo.git /src", "ADD https://github.com/example/repo.git#main /src",
                 "ARG U=http://127.0.0.1/\nADD $U /x", "RUN --mount=type=bind,from=cumulo/debian,target=/d ls /d",
                 "RUN --network=host true"):
        err = refused(sqlite_user.images.build_wait, name("add"), f"FROM cumulo/busybox\n{line}\n")
        assert err.status == 400, (line, err)
    assert hits == []
    assert own_images(sqlite_user) == []

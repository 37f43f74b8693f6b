"""Docker helpers shared by the network, volume and metrics tests (real dockerd, no mocks)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from cumulo.core.errors import CumuloError
from cumulo.testing.engine import containers as find_containers

IMAGE = "cumulo/busybox"


def engine() -> docker.DockerClient:
    return docker.from_env(timeout=120)


@pytest.fixture(scope="session")
def busybox() -> str:
    """The catalogue's busybox image, built locally (no registry) when it is missing."""
    client = engine()
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        from cumulo.drivers.compute.docker import DockerDriver
        from cumulo.services.images.bootstrap import bootstrap

        results = asyncio.run(bootstrap(DockerDriver(), only=[IMAGE]))
        assert all(r.action != "failed" for r in results), results
    return IMAGE


def sh(script: str, *, volumes: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, str]:
    """Run ``sh -c script`` in a throw-away busybox container; (exit code, output)."""
    client = engine()
    container = client.containers.run(IMAGE, ["sh", "-c", script], detach=True,
                                      volumes={name: {"bind": path, "mode": "rw"}
                                               for name, path in (volumes or {}).items()}, **kwargs)
    try:
        code = container.wait(timeout=300)["StatusCode"]
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


@pytest.fixture
def containers() -> Iterator[list[Any]]:
    """Long-running containers started by a test (removed at the end)."""
    started: list[Any] = []
    yield started
    for c in started:
        try:
            c.remove(force=True)
        except docker.errors.NotFound:
            pass


def sleeper(containers: list[Any], **kwargs: Any) -> Any:
    c = engine().containers.run(IMAGE, ["sleep", "3600"], detach=True, name=f"t-{uuid.uuid4().hex[:10]}",
                                **kwargs)
    containers.append(c)
    return c


def status_of(call: Any) -> int:
    from cumulo.client.base import ApiError

    try:
        call()
    except ApiError as exc:
        return exc.status
    except CumuloError as exc:
        return exc.status
    raise AssertionError("the call succeeded")


def container_of(instance_id: str) -> Any:
    """The running container of an instance, found by its labels."""
    found = find_containers(engine(), label=f"cumulo.resource={instance_id}")
    assert len(found) == 1, f"expected one container for {instance_id}, found {len(found)}"
    return found[0]


def exec_in(instance_id: str, script: str) -> tuple[int, str]:
    code, out = container_of(instance_id).exec_run(["sh", "-c", script])
    return code, out.decode(errors="replace")


WEB = ["sh", "-c", "echo $NAME > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]


def launch_web(client: Any, name: str, **placement: Any) -> dict[str, Any]:
    """A busybox instance answering its own name on port 8080."""
    inst = client.post("/instances", {"name": name, "image": IMAGE, "command": WEB, "env": {"NAME": name},
                                      **placement})
    assert inst["status"] == "RUNNING", inst
    return inst  # type: ignore[no-any-return]


def fetch(from_instance: str, host: str) -> str | None:
    """What ``http://host:8080/`` answers from inside an instance, or None when unreachable. Busybox-static's
    libc resolver cannot use Docker's DNS (its wget crashes), so the name is resolved with ``nslookup``
    against the engine's embedded DNS server and the request is sent with ``nc``."""
    script = (f"t={host}; case $t in *[a-z]*) t=$(nslookup $t 127.0.0.11 2>/dev/null | "
              "awk '/^Address: /{a=$2} END{print a}');; esac; [ -n \"$t\" ] || exit 2; "
              "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $t 8080")
    code, out = exec_in(from_instance, script)
    return out.strip().splitlines()[-1] if code == 0 and "200 OK" in out else None


@pytest.fixture(scope="session", autouse=True)
def release_loop_devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Loop devices are scarce (8 on a stock host): at the end of the session unmount and detach those
    of volumes a failed test left behind in the test servers' data dirs, and drop their Docker volumes."""
    yield
    import subprocess

    base = str(tmp_path_factory.getbasetemp())
    with open("/proc/mounts") as fh:
        mounts = [line.split()[1] for line in fh if "/volumes/mnt/" in line]
    for path in mounts:
        if path.startswith(base):
            subprocess.run(["umount", "-l", path], check=False)
    listing = subprocess.run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"], capture_output=True, text=True,
                             check=False)
    for line in listing.stdout.splitlines():
        name, _, backing = line.strip().partition(" ")
        if backing.strip().startswith(base):
            subprocess.run(["losetup", "-d", name], check=False)
    client = engine()
    for vol in client.api.volumes(filters={"label": "cumulo.kind=volume"}).get("Volumes") or []:
        if (vol.get("Options") or {}).get("device", "").startswith(base):
            try:
                client.api.remove_volume(vol["Name"])
            except docker.errors.APIError:
                pass

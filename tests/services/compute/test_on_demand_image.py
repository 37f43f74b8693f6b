"""An on-demand catalogue image (``cumulo/desktop`` is one: ~810 MB, so ``cumulo images bootstrap``
leaves it to its first use) is built at the first launch that names it, once however many API
processes launch from it at the same time: the launch answers at once
(201, PENDING, a status_reason saying the image is being built), each build step is an
``instance.image_building`` event, then the instance goes on to RUNNING as any launch does; the
next launch finds the image built. A build that fails leaves the instance ERROR with the reason.

A light recipe stands in for the desktop's (a few seconds on ``cumulo/busybox``, the same code path:
``Recipe.on_demand``), added to the catalogue for this module only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cumulo.drivers.compute.docker import DockerDriver
from cumulo.services.images import recipes
from cumulo.services.images.bootstrap import bootstrap
from cumulo.testing.polling import eventually
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import PASSWORD, new_email

pytestmark = pytest.mark.docker


def _recipe(name: str, run: str) -> recipes.Recipe:
    return recipes.Recipe(name, "dockerfile", on_demand=True, first_build="a few seconds",
                          description="a test image built on first use",
                          dockerfile=f"FROM cumulo/busybox:latest\nRUN {run}\nCMD [\"sleep\", \"3600\"]")


@pytest.fixture(scope="module")
def lazy() -> Iterator[tuple[recipes.Recipe, recipes.Recipe]]:
    tag = uuid.uuid4().hex[:8]
    good = _recipe(f"cumulo/lazy-{tag}", f"sleep 2 && echo built-{tag}")  # never in Docker's build cache
    bad = _recipe(f"cumulo/broken-{tag}", f"echo failing-{tag} && exit 3")
    recipes.RECIPES.extend([good, bad])  # the one list bootstrap and the catalogue read
    yield good, bad
    recipes.RECIPES.remove(good)
    recipes.RECIPES.remove(bad)
    driver = DockerDriver()
    asyncio.run(driver.remove_image(good.tag))
    driver.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, lazy: Any) -> Iterator[LiveServer]:
    server = LiveServer(settings_for(str(tmp_path_factory.mktemp("on-demand")), compute_reconcile_seconds=2)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(live: LiveServer) -> Iterator[httpx.Client]:
    client = httpx.Client(base_url=live.url, timeout=120)
    email = new_email()
    assert client.post("/auth/register", json={"email": email, "password": PASSWORD, "name": "Lazy"}).status_code == 201
    client.headers["X-API-Key"] = client.post("/auth/login", json={"email": email, "password": PASSWORD}).json()["api_key"]
    yield client
    for inst in client.get("/instances").json():
        client.delete(f"/instances/{inst['id']}")
    client.close()


def _events(api: httpx.Client, inst: dict[str, Any]) -> list[dict[str, Any]]:
    return list(reversed(api.get("/events", params={"resource_id": inst["id"], "limit": 100}).json()))


def _steps(api: httpx.Client, inst: dict[str, Any]) -> list[str]:
    """The build steps (``"2/3"``) an instance was told of while it waited, in order."""
    return [str(e["data"]["progress"]).split(" ")[1] for e in _events(api, inst)
            if e["action"] == "instance.image_building" and str(e["data"].get("progress", "")).startswith("step ")]


def test_the_first_launch_builds_the_image_and_answers_pending_then_runs(
        api: httpx.Client, lazy: tuple[recipes.Recipe, recipes.Recipe]) -> None:
    good, _ = lazy
    listed = {i["name"]: i for i in api.get("/images").json()}
    assert listed[good.name]["status"] == "NOT_BUILT" and "first launch" in listed[good.name]["description"]
    driver = DockerDriver()
    results = {r.image: r.action for r in asyncio.run(bootstrap(driver))}
    driver.close()
    assert results[good.name] == "on first launch"  # a plain bootstrap leaves it to its first use

    r = api.post("/instances", json={"name": "first", "image": good.name})
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["status"] == "PENDING" and f"building the catalogue image {good.name}" in first["status_reason"]
    r = api.post("/instances", json={"name": "second", "image": f"{good.name}:latest"})  # waits for the same build
    assert r.status_code == 201 and r.json()["status"] == "PENDING", r.text
    second = r.json()

    def running(inst: dict[str, Any]) -> bool:
        got = api.get(f"/instances/{inst['id']}").json()
        assert got["status"] in ("PENDING", "STARTING", "RUNNING"), got
        return bool(got["status"] == "RUNNING")

    eventually(lambda: running(first), 300, 0.5, what="the first instance RUNNING after its image's build")
    eventually(lambda: running(second), 60, 0.5, what="the second instance RUNNING")
    actions = [e["action"] for e in _events(api, first)]
    building = [e for e in _events(api, first) if e["action"] == "instance.image_building"]
    assert any(str(e["data"].get("progress", "")).startswith("step ") for e in building), building
    assert actions.index("instance.image_building") < actions.index("instance.image_built") \
        < actions.index("instance.launched"), actions
    assert api.get(f"/instances/{first['id']}").json()["status_reason"] is None
    assert {i["name"]: i for i in api.get("/images").json()}[good.name]["status"] == "READY"

    r = api.post("/instances", json={"name": "third", "image": good.name})  # built now: a launch like any other
    assert r.status_code == 201 and r.json()["status"] == "RUNNING", r.text
    assert "instance.image_building" not in [e["action"] for e in _events(api, r.json())]


def test_a_failed_build_leaves_the_instance_error_with_the_reason(
        api: httpx.Client, lazy: tuple[recipes.Recipe, recipes.Recipe]) -> None:
    _, bad = lazy
    r = api.post("/instances", json={"name": "broken", "image": bad.name})
    assert r.status_code == 201 and r.json()["status"] == "PENDING", r.text
    inst = r.json()

    def failed() -> dict[str, Any] | None:
        got: dict[str, Any] = api.get(f"/instances/{inst['id']}").json()
        return got if got["status"] == "ERROR" else None

    got = eventually(failed, 120, 0.5, what="the instance ERROR after the failed build")
    assert f"the catalogue image {bad.name} could not be built" in got["status_reason"]
    assert "instance.launch_failed" in [e["action"] for e in _events(api, inst)]
    assert {i["name"]: i for i in api.get("/images").json()}[bad.name]["status"] == "NOT_BUILT"
    assert api.post("/instances", json={"name": "nothing-such", "image": "cumulo/no-such-image"}).status_code == 404


def test_two_processes_launching_from_it_at_once_build_it_once(live: LiveServer, api: httpx.Client) -> None:
    """A second API process on the same database (and Docker) launches from the image while the first
    builds it: it builds nothing (the build's lease is held), and the first process's build takes its
    instance on to RUNNING too; each waiting instance sees every build step once."""
    tag = uuid.uuid4().hex[:8]
    shared = _recipe(f"cumulo/shared-{tag}", f"sleep 5 && echo built-{tag}")
    recipes.RECIPES.append(shared)
    second = LiveServer(settings_for(str(live.settings.data_dir), compute_reconcile_seconds=2)).start()
    other = httpx.Client(base_url=second.url, headers=api.headers, timeout=120)
    made: list[dict[str, Any]] = []
    try:
        for client, name in ((api, "via-first"), (other, "via-second")):
            r = client.post("/instances", json={"name": name, "image": shared.name})
            assert r.status_code == 201 and r.json()["status"] == "PENDING", r.text
            made.append(r.json())

        def running(inst: dict[str, Any]) -> bool:
            got = api.get(f"/instances/{inst['id']}").json()
            assert got["status"] in ("PENDING", "STARTING", "RUNNING"), got
            return bool(got["status"] == "RUNNING")

        for inst in made:
            eventually(lambda i=inst: running(i), 300, 0.5, what=f"{inst['name']} RUNNING after the one build")
        for inst in made:
            steps = _steps(api, inst)
            assert steps and len(steps) == len(set(steps)), (inst["name"], steps)  # one build's steps, once each
        first = _steps(api, made[0])  # launched first: told of every step of the one build, in order
        total = first[0].split("/")[1]
        assert first == [f"{i}/{total}" for i in range(1, int(total) + 1)], first
    finally:
        for inst in made:
            api.delete(f"/instances/{inst['id']}")
        other.close()
        second.stop()
        recipes.RECIPES.remove(shared)
        driver = DockerDriver()
        asyncio.run(driver.remove_image(shared.tag))
        driver.close()

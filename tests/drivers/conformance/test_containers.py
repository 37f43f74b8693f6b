"""The ``ContainerRuntime`` contract, over every driver in ``conftest.DRIVERS`` (the fake and Docker).

What the compute services rely on: a created container shows its labels and state; start/stop move
the state and repeat harmlessly; a removed container is gone (``find`` None, the rest ``NotFound``);
``list`` filters by every label given; exec returns the command's exit code.
"""

from __future__ import annotations

import uuid

import pytest

from cumulo.core.errors import Conflict, InvalidInput, NotFound
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_RESOURCE
from cumulo.drivers.compute.contract import ContainerRuntime
from tests.drivers.conformance.conftest import INSTALLATION, spec


async def test_create_shows_labels_and_created_state(runtime: ContainerRuntime) -> None:
    s = spec({LABEL_RESOURCE: "i-create"})
    created = await runtime.create(s)
    assert created.name == s.name and created.status == "created" and not created.running
    found = await runtime.find(s.name)
    assert found is not None and found.id == created.id
    assert found.labels[LABEL_RESOURCE] == "i-create" and found.labels[LABEL_INSTALLATION] == INSTALLATION
    assert (await runtime.find(created.id)) is not None  # by id as well as by name
    await runtime.destroy(created.id)


async def test_a_taken_name_is_a_conflict_and_an_unknown_image_invalid(runtime: ContainerRuntime) -> None:
    s = spec()
    await runtime.create(s)
    with pytest.raises(Conflict):
        await runtime.create(spec(name=s.name))
    missing = spec(image=f"cumulo/missing-{uuid.uuid4().hex[:6]}:1")
    with pytest.raises(InvalidInput):
        await runtime.create(missing)
    assert await runtime.find(missing.name) is None  # a failed create leaves nothing behind
    await runtime.destroy(s.name)


async def test_start_stop_restart_move_the_state_and_repeat_harmlessly(runtime: ContainerRuntime) -> None:
    s = spec()
    await runtime.create(s)
    started = await runtime.start(s.name)
    assert started.status == "running" and started.running
    assert (await runtime.start(s.name)).status == "running"  # start of a running one changes nothing
    await runtime.stop(s.name, timeout=2)
    stopped = await runtime.find(s.name)
    assert stopped is not None and stopped.status == "exited" and not stopped.running
    await runtime.stop(s.name, timeout=2)  # stop of a stopped one changes nothing
    assert (await runtime.restart(s.name, timeout=2)).running
    await runtime.destroy(s.name)


async def test_a_removed_container_is_not_found(runtime: ContainerRuntime) -> None:
    s = spec()
    created = await runtime.create(s)
    await runtime.destroy(created.id)
    assert await runtime.find(created.id) is None and await runtime.find(s.name) is None
    await runtime.destroy(created.id)  # already gone: still succeeds
    for call in (runtime.start(s.name), runtime.stop(s.name), runtime.restart(s.name, timeout=1),
                 runtime.logs(s.name, 10), runtime.run_command(s.name, ["true"])):
        with pytest.raises(NotFound):
            await call


async def test_list_filters_by_every_label(runtime: ContainerRuntime) -> None:
    group = uuid.uuid4().hex[:8]
    a = await runtime.create(spec({"cumulo.test-group": group, LABEL_RESOURCE: "a"}))
    b = await runtime.create(spec({"cumulo.test-group": group, LABEL_RESOURCE: "b"}))
    other = await runtime.create(spec({"cumulo.test-group": f"{group}-other", LABEL_RESOURCE: "a"}))
    both = await runtime.list({LABEL_INSTALLATION: INSTALLATION, "cumulo.test-group": group})
    assert sorted(c.id for c in both) == sorted([a.id, b.id])
    assert all(c.labels["cumulo.test-group"] == group for c in both)
    only_a = await runtime.list({"cumulo.test-group": group, LABEL_RESOURCE: "a"})
    assert [c.id for c in only_a] == [a.id]
    await runtime.start(b.id)
    statuses = {c.id: c.status for c in await runtime.list({"cumulo.test-group": group})}
    assert statuses == {a.id: "created", b.id: "running"}  # stopped ones are listed too
    assert await runtime.list({"cumulo.test-group": f"nobody-{group}"}) == []
    for c in (a, b, other):
        await runtime.destroy(c.id)


async def test_exec_returns_the_exit_code_and_needs_a_running_container(runtime: ContainerRuntime) -> None:
    s = spec()
    await runtime.create(s)
    with pytest.raises(Conflict):
        await runtime.run_command(s.name, ["true"])
    await runtime.start(s.name)
    assert await runtime.run_command(s.name, ["true"]) == 0
    assert await runtime.run_command(s.name, ["false"]) == 1
    assert await runtime.run_command(s.name, ["sh", "-c", "exit 7"]) == 7
    await runtime.destroy(s.name)


async def test_logs_of_a_container_are_text(runtime: ContainerRuntime) -> None:
    s = spec()
    await runtime.create(s)
    assert await runtime.logs(s.name, 10) == ""  # never started: nothing written
    await runtime.destroy(s.name)

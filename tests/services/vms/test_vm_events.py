"""VM state from QMP events, under real QEMU (TCG): one module-scoped server whose periodic instance
sweep is slow (10 minutes), so whatever the instance shows after its first pass came from the VM's
event watcher. One catalogue VM whose main command is a shell on the serial console (no password):
the test types into it. In file order: paused and resumed from outside Cumulo and through the API, a
restart of Cumulo re-attaching the watcher, two processes with one watcher, then a reboot, a
power-off and a kernel panic asked for inside the guest."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import websockets

from cumulo.client.base import ApiError
from cumulo.drivers.vm import qmp
from cumulo.services.compute import vmevents
from cumulo.services.compute.vms import vm_driver
from cumulo.testing.polling import eventually, eventually_served
from cumulo.testing.server import LiveServer
from tests.services.vms.conftest import BOOT, VmEnv, module_env

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("vm-events")]
SHELL = ["sh", "-c", "mkdir -p /w; echo up > /w/index.html; httpd -p 80 -h /w; exec sh"]


class Env(VmEnv):
    overrides: ClassVar[dict[str, Any]] = {"compute_reconcile_seconds": 600, "vm_stop_timeout_seconds": 2}

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.vm: dict[str, Any] = {}


env = module_env(Env, "vm-events")


def name_of(env: Env) -> str:
    return f"cumulo-{env.installation}-{env.vm['id']}"


def folder(env: Env) -> Path:
    return vm_driver(env.server.platform).folder(name_of(env))


def qemu(env: Env, command: str) -> None:
    """A QMP command sent to the VM behind Cumulo's back (as a hypervisor tool or the guest would cause)."""
    env.server.call(qmp.execute(folder(env) / "qmp.sock", command))


def status_becomes(env: Env, status: str, timeout: float = 60) -> dict[str, Any]:
    with explained(env):
        found: dict[str, Any] = eventually(lambda: (i := env.client.instances.get(env.vm["id"]))["status"] == status
                                           and i, timeout=timeout)
    return found


@contextlib.contextmanager
def explained(env: Env) -> Iterator[None]:
    """A wait that fails says what the VM's folder, its QEMU and the event watcher showed then."""
    try:
        yield
    except AssertionError as exc:
        f = folder(env)
        files = {n: (f / n).read_text()[-600:] for n in ("vm.json", "run-state.json", "shutdown.json", "console.log")
                 if (f / n).exists()}
        seen = {"instance": env.client.instances.get(env.vm["id"]), "pid": vm_driver(env.server.platform).pid(f),
                "watching": sorted(vmevents.watchers(env.server.platform).watching()),
                "heard": vmevents.watchers(env.server.platform).heard, "files": files}
        raise AssertionError(f"{exc}; then: {json.dumps(seen, default=str)[-4000:]}") from None


def page(env: Env) -> str | None:
    inst = env.client.instances.get(env.vm["id"])
    r = httpx.get(f"http://127.0.0.1:{int(inst['ports'].split(':')[0])}/", timeout=3)
    return r.text.strip() if r.status_code == 200 else None


def type_in_guest(env: Env, line: bytes) -> None:
    """Type ``line`` into the guest's shell on the serial console, once the shell answers."""
    with env.client.instances.console(env.vm["id"]) as ws:
        seen = b""

        def answers() -> bool:
            nonlocal seen
            ws.send(b"echo ready-$((20+22))\n")
            try:
                while b"ready-42" not in seen:
                    seen += ws.recv(timeout=5)
            except TimeoutError:
                return False
            return True

        eventually(answers, timeout=BOOT)
        ws.send(line + b"\n")
        echoed = b""

        def delivered() -> bool:
            """The guest echoed the whole line: QEMU has read it. (What QEMU has not read from the
            console's socket when it closes is lost: a busy TCG guest reads its UART slowly.)"""
            nonlocal echoed
            try:
                echoed += ws.recv(timeout=5)
            except TimeoutError:
                pass
            except websockets.ConnectionClosed:
                return True  # the VM ended: the line got there
            return line in echoed

        eventually(delivered, timeout=120)


def events_of(env: Env, action: str) -> list[dict[str, Any]]:
    return [e for e in env.client.events(limit=500) if e["action"] == action and e["resource_id"] == env.vm["id"]]


def watched(env: Env, server: LiveServer) -> bool:
    return name_of(env) in vmevents.watchers(server.platform).watching()


def test_a_vm_is_watched_from_its_boot(env: Env) -> None:
    vm = env.client.instances.launch("ev1", "cumulo/busybox", backend="vm", memory_mb=192, ports="0:80",
                                     command=SHELL)
    env.vm = env.client.instances.wait(vm["id"], {"RUNNING", "ERROR"}, timeout=120)
    assert env.vm["status"] == "RUNNING", env.vm["status_reason"]
    assert eventually_served(lambda: page(env), timeout=BOOT) == "up"
    assert eventually(lambda: watched(env, env.server), timeout=30)
    assert (folder(env) / "events.sock").exists()  # the watcher's monitor, beside the command monitor


def test_a_pause_and_resume_from_outside_cumulo_show_at_once(env: Env) -> None:
    qemu(env, "stop")  # only the STOP event tells Cumulo (its sweep runs every 10 minutes)
    paused = status_becomes(env, "PAUSED")
    assert paused["status_reason"] == "paused"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{int(paused['ports'].split(':')[0])}/", timeout=2)
    with pytest.raises(ApiError) as err:
        env.client.instances.start(env.vm["id"])  # a paused VM is resumed, not started
    assert err.value.status == 409 and "resume" in err.value.message
    qemu(env, "cont")
    assert status_becomes(env, "RUNNING")["status_reason"] is None
    assert page(env) == "up"
    assert events_of(env, "instance.paused") and events_of(env, "instance.resumed")


def test_pause_and_resume_through_the_api(env: Env) -> None:
    paused = env.client.instances.pause(env.vm["id"])
    assert paused["status"] == "PAUSED"
    assert env.server.call(vm_driver(env.server.platform).status(name_of(env))) == "paused"  # QEMU agrees
    assert env.client.instances.pause(env.vm["id"])["status"] == "PAUSED"  # again: no change
    for call in (env.other.instances.pause, env.other.instances.resume):
        with pytest.raises(ApiError) as err:
            call(env.vm["id"])
        assert err.value.status == 404  # another user's VM
    with pytest.raises(ApiError) as err:
        env.client.instances.reboot(env.vm["id"])
    assert err.value.status == 409
    resumed = env.client.instances.resume(env.vm["id"])
    assert resumed["status"] == "RUNNING"
    assert eventually_served(lambda: page(env), timeout=60) == "up"
    with pytest.raises(ApiError) as err:
        env.client.instances.pause("no-such-vm")
    assert err.value.status == 404
    ctr = env.client.instances.launch("ctr", "cumulo/busybox", command=["sleep", "600"])
    with pytest.raises(ApiError) as err:
        env.client.instances.pause(ctr["id"])
    assert err.value.status == 400 and "VM" in err.value.message  # a container is stopped instead
    env.client.instances.terminate(ctr["id"])


def test_a_restarted_cumulo_reattaches_the_watcher(env: Env) -> None:
    pid = vm_driver(env.server.platform).pid(folder(env))
    env.server.stop()
    qemu_sock = folder(env) / "qmp.sock"
    env.server = env.start()
    env.point(env.server)
    assert eventually(lambda: watched(env, env.server), timeout=30)
    assert vm_driver(env.server.platform).pid(folder(env)) == pid  # adopted: the same QEMU
    env.server.call(qmp.execute(qemu_sock, "stop"))
    status_becomes(env, "PAUSED")
    qemu(env, "cont")
    status_becomes(env, "RUNNING")


def test_with_two_processes_one_watches_and_the_other_takes_over(env: Env) -> None:
    second = LiveServer(env.settings()).start()  # the same database, data dir and installation
    try:
        w1, w2 = vmevents.watchers(env.server.platform), vmevents.watchers(second.platform)
        eventually(lambda: second.platform.runner.loops["compute.vm_events"].runs >= 2, timeout=30)
        assert watched(env, env.server) and not watched(env, second)  # the lease holder only
        before, heard = len(events_of(env, "instance.paused")), (w1.heard, w2.heard)
        qemu(env, "stop")
        status_becomes(env, "PAUSED")
        qemu(env, "cont")
        status_becomes(env, "RUNNING")
        assert len(events_of(env, "instance.paused")) == before + 1  # recorded once
        assert w2.heard == heard[1] and w1.heard > heard[0]
        env.server.stop()  # the watching process goes: its lease with it
        env.point(second)
        assert eventually(lambda: watched(env, second), timeout=60)
        env.server = second
        qemu(env, "stop")
        status_becomes(env, "PAUSED")
        qemu(env, "cont")
        status_becomes(env, "RUNNING")
    except BaseException:
        second.stop()
        raise


def test_a_reboot_inside_the_guest_boots_it_again(env: Env) -> None:
    pid = vm_driver(env.server.platform).pid(folder(env))
    before = len(events_of(env, "instance.rebooted"))
    type_in_guest(env, b"sync; reboot -f")
    with explained(env):
        eventually(lambda: len(events_of(env, "instance.rebooted")) > before, timeout=BOOT)
    rebooted = events_of(env, "instance.rebooted")[0]
    assert rebooted["data"].get("by") == "guest", rebooted
    assert status_becomes(env, "RUNNING")
    assert vm_driver(env.server.platform).pid(folder(env)) not in (None, pid)  # a new boot
    assert eventually_served(lambda: page(env), timeout=BOOT) == "up"


def test_a_poweroff_inside_the_guest_stops_the_instance(env: Env) -> None:
    type_in_guest(env, b"sync; poweroff -f")
    stopped = status_becomes(env, "STOPPED", timeout=BOOT)
    assert "guest powered itself off" in stopped["status_reason"], stopped
    assert events_of(env, "instance.stopped")[0]["data"].get("by") == "guest"
    assert vm_driver(env.server.platform).pid(folder(env)) is None
    env.client.instances.start(env.vm["id"])  # a stopped instance, started as any other
    assert env.client.instances.wait(env.vm["id"], {"RUNNING", "ERROR"}, timeout=120)["status"] == "RUNNING"
    assert eventually_served(lambda: page(env), timeout=BOOT) == "up"
    assert eventually(lambda: watched(env, env.server), timeout=30)


def test_a_kernel_panic_turns_the_instance_error_with_the_reason(env: Env) -> None:
    type_in_guest(env, b"echo c > /proc/sysrq-trigger")
    failed = status_becomes(env, "ERROR", timeout=BOOT)
    assert "panicked" in failed["status_reason"], failed["status_reason"]
    assert "sysrq" in failed["status_reason"]  # the panic's own line

"""VMs as instances (backend vm) under real QEMU (TCG on this machine): one module-scoped server and
one VM, booted twice (launch, then stop/start), carried through the lifecycle in file order."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cumulo.client.base import ApiError
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_KIND, LABEL_RESOURCE, ContainerSpec
from cumulo.services.compute.vms import LABEL_BACKEND, vm_driver
from cumulo.testing.polling import eventually, eventually_served
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import register_and_login

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("vms")]
BOOT = 240  # seconds a boot may take on a loaded 2-core CI machine under TCG
# the guest's main command: count boots on the root disk, serve the count over HTTP, and leave a shell
# on the serial console
COMMAND = ["sh", "-c", ("n=$(cat /boots 2>/dev/null || echo 0); n=$((n+1)); echo $n > /boots; mkdir -p /www; "
           "cp /boots /www/boots; echo vm-page > /www/index.html; sync; httpd -p 80 -h /www; exec sh")]
PASSWORD = f"pw-{uuid.uuid4().hex[:12]}"


class Env:
    def __init__(self, tmp: Path) -> None:
        self.data_dir, self.installation = str(tmp / "data"), f"t{uuid.uuid4().hex[:10]}"
        self.server = self.start()
        self.client = register_and_login(self.server)
        self.other = register_and_login(self.server)
        self.vm: dict[str, Any] = {}
        self.key: dict[str, Any] = {}

    def start(self) -> LiveServer:
        return LiveServer(settings_for(self.data_dir, installation_id=self.installation, compute_reconcile_seconds=2,
                                        vm_kvm_probe_seconds=8, vm_stop_timeout_seconds=2)).start()

    def restart(self) -> None:
        self.server.stop()
        self.server = self.start()
        for c in (self.client, self.other):
            c.base_url = self.server.url
            c._http.base_url = self.server.url


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = Env(tmp_path_factory.mktemp("vms"))
    yield e
    for inst in e.client.instances.list():
        e.client.instances.terminate(inst["id"])
    e.server.stop()


def port_of(inst: dict[str, Any]) -> int:
    return int(inst["ports"].split(",")[0].split(":")[0])


def page(inst: dict[str, Any], path: str = "/") -> str | None:
    r = httpx.get(f"http://127.0.0.1:{port_of(inst)}{path}", timeout=3)
    return r.text.strip() if r.status_code == 200 else None


def qemu_pid(env: Env, inst: dict[str, Any]) -> int:
    machines = Path(env.data_dir).resolve() / "vm" / "machines"
    pids = [int(p.read_text()) for p in machines.glob("*/qemu.pid")]
    assert len(pids) == 1, pids
    assert f"cumulo-{env.installation}-{inst['id']}".encode() in Path(f"/proc/{pids[0]}/cmdline").read_bytes()
    return pids[0]


def test_launch_serves_a_guest_service_on_a_published_port(env: Env) -> None:
    env.key = env.client.keypairs.create("vm-key")
    vm = env.client.instances.launch("vm1", "cumulo/busybox", backend="vm", memory_mb=256, cpus=1, ports="0:80",
                                     command=COMMAND, password=PASSWORD, key_name="vm-key")
    assert vm["backend"] == "vm" and vm["accelerator"] in ("kvm", "tcg")
    assert env.client.instances.wait(vm["id"], {"RUNNING"}, timeout=60)["status"] == "RUNNING"
    assert eventually_served(lambda: page(vm), timeout=BOOT) == "vm-page"
    assert page(vm, "/boots") == "1"
    env.vm = env.client.instances.get(vm["id"])
    assert "cumulo: starting the guest's main command" in env.client.instances.logs(vm["id"], tail=50)


def test_serial_console_shell_the_root_password_and_the_key(env: Env) -> None:
    seen = b""
    with env.client.instances.console(env.vm["id"]) as ws:
        ws.send(b"echo answer-$((6*7)); grep ^root: /etc/shadow; echo keys-$(cat /root/.ssh/authorized_keys)-$((2*3))end\n")
        while b"answer-42" not in seen or b"root:$6$" not in seen or b"-6end" not in seen:
            seen += ws.recv(timeout=60)
    assert f"keys-{env.key['public_key']}-6end".encode() in seen
    shadow = seen.decode(errors="replace").split("root:", 2)[-1].split(":")[0]
    salt = shadow.split("$")[2]
    expected = subprocess.run(["busybox", "mkpasswd", "-m", "sha512", PASSWORD, salt], capture_output=True,
                              text=True, check=True).stdout.strip()
    assert shadow == expected  # the guest's root password is the one given at launch
    for path in (Path(env.data_dir) / "vm").rglob("*"):  # never written to the VM's files on the host
        if path.is_file() and path.stat().st_size < 2**20:
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in str(env.client.instances.get(env.vm["id"]))


def test_stats_of_a_vm(env: Env) -> None:
    stats = env.client.instances.stats(env.vm["id"])
    assert stats["cpu_time_seconds"] > 0 and stats["memory_bytes"] > 0
    assert stats["memory_limit_bytes"] == 256 * 2**20
    assert stats["disk_read_bytes"] > 0 and stats["disk_read_ops"] > 0


def test_pause_and_resume_through_qmp(env: Env) -> None:
    driver, name = vm_driver(env.server.platform), f"cumulo-{env.installation}-{env.vm['id']}"
    env.server.call(driver.pause(name))
    assert env.server.call(driver.status(name)) == "paused"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port_of(env.vm)}/", timeout=2)  # a paused guest answers nothing
    env.server.call(driver.resume(name))
    assert env.server.call(driver.status(name)) == "running"
    assert eventually_served(lambda: page(env.vm), timeout=60) == "vm-page"


def test_another_user_gets_404_and_bad_input_400(env: Env) -> None:
    for call in (env.other.instances.get, env.other.instances.stop, env.other.instances.stats,
                 env.other.instances.terminate):
        with pytest.raises(ApiError) as err:
            call(env.vm["id"])
        assert err.value.status == 404
    with pytest.raises(ApiError) as err:
        env.client.instances.exec(env.vm["id"], ["true"])
    assert err.value.status == 400 and "VM" in err.value.message
    before = len(env.client.instances.list())
    for fields in ({"backend": "xen"}, {"backend": "vm", "memory_mb": 64},
                   {"backend": "vm", "volumes": [{"volume_id": "nope", "mount_path": "/data"}]}):
        with pytest.raises(ApiError) as err:
            env.client.instances.launch("bad", "cumulo/busybox", **fields)
        assert err.value.status == 400, fields
    with pytest.raises(ApiError) as err:
        env.client.instances.launch("bad", "no-such-image", backend="vm")
    assert err.value.status in (400, 404)
    assert len(env.client.instances.list()) == before


def test_stop_and_start_keep_the_disk(env: Env) -> None:
    pid = qemu_pid(env, env.vm)
    stopped = env.client.instances.stop(env.vm["id"])
    assert stopped["status"] == "STOPPED"
    assert not Path(f"/proc/{pid}").exists() or b"qmp.sock" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    env.client.instances.start(env.vm["id"])
    started = env.client.instances.wait(env.vm["id"], {"RUNNING", "ERROR"}, timeout=60)
    assert started["status"] == "RUNNING", started["status_reason"]
    assert eventually_served(lambda: page(env.vm, "/boots"), timeout=BOOT) == "2"


def test_a_restarted_cumulo_adopts_the_running_vm(env: Env) -> None:
    pid = qemu_pid(env, env.vm)
    env.restart()
    assert env.client.instances.get(env.vm["id"])["status"] == "RUNNING"
    env.server.platform.runner.wake("compute.reconcile")
    eventually(lambda: env.server.platform.runner.loops["compute.reconcile"].runs >= 2, timeout=60)
    assert qemu_pid(env, env.vm) == pid  # the same QEMU process, not a new boot
    assert page(env.vm, "/boots") == "2"
    assert env.client.instances.get(env.vm["id"])["status"] == "RUNNING"


def test_a_killed_qemu_turns_the_instance_error_with_a_reason(env: Env) -> None:
    os.kill(qemu_pid(env, env.vm), signal.SIGKILL)
    failed = eventually(lambda: (i := env.client.instances.get(env.vm["id"]))["status"] == "ERROR" and i,
                        timeout=60)
    assert "QEMU process ended" in failed["status_reason"]
    env.client.instances.terminate(env.vm["id"])
    machines = Path(env.data_dir).resolve() / "vm" / "machines"
    assert list(machines.glob("*/vm.json")) == []


def test_orphan_vms_of_this_installation_are_removed(env: Env) -> None:
    platform = env.server.platform
    driver = vm_driver(platform)

    def spec(name: str, installation: str) -> ContainerSpec:
        return ContainerSpec(name=name, image="cumulo/busybox", labels={
            LABEL_INSTALLATION: installation, LABEL_KIND: "instance", LABEL_RESOURCE: "gone", LABEL_BACKEND: "vm"})

    orphan, foreign = f"cumulo-{env.installation}-orphan", f"cumulo-x{env.installation}-foreign"
    env.server.call(driver.create(spec(orphan, env.installation)))
    env.server.call(driver.create(spec(foreign, f"x{env.installation}")))  # another installation's: kept
    runs = platform.runner.loops["compute.reconcile"].runs
    platform.runner.wake("compute.reconcile")
    eventually(lambda: platform.runner.loops["compute.reconcile"].runs >= runs + 2, timeout=60)
    assert not driver.owns(orphan)
    assert driver.owns(foreign)
    env.server.call(driver.destroy(foreign))
    assert not driver.owns(foreign)

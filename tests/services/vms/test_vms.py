"""VMs as instances (backend vm) under real QEMU (TCG on this machine): one module-scoped server and
one VM in a VPC of its own, booted twice (launch, then stop/start), carried through the lifecycle in
file order. Containers of the same VPC and of another VPC check the VM's place on the network."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
import websockets
from websockets.sync import client as ws_client
from websockets.typing import Subprotocol

from cumulo.client.base import ApiError
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_KIND, LABEL_RESOURCE, ContainerSpec
from cumulo.services.compute.vms import LABEL_BACKEND, vm_driver
from cumulo.services.disks import service as disks
from cumulo.testing.polling import eventually, eventually_served
from cumulo.testing.server import test_settings as settings_for
from tests.services.vms.conftest import BOOT, VmEnv, module_env
from tests.services.vms.rfb import Rfb

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("vms")]
# the guest's main command: count boots on the root disk and serve the count over HTTP
COMMAND = ["sh", "-c", ("n=$(cat /boots 2>/dev/null || echo 0); n=$((n+1)); echo $n > /boots; mkdir -p /www; "
           "cp /boots /www/boots; echo vm-page > /www/index.html; cp /ud-ran /www/ud 2>/dev/null; sync; "
           "exec httpd -f -p 80 -h /www")]
USER_DATA = "#!/bin/sh\necho ran-$((20+1)) > /ud-ran\n"
PASSWORD = f"pw-{uuid.uuid4().hex[:12]}"
WEB = ["sh", "-c", "mkdir -p /w && echo ctr-page > /w/index.html && exec httpd -f -p 80 -h /w"]


class Env(VmEnv):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.vm: dict[str, Any] = {}
        self.vm2: dict[str, Any] = {}
        self.key: dict[str, Any] = {}
        self.vpc = self.client.network.create_vpc("vm-net")
        block = ipaddress.IPv4Network(self.vpc["cidr_block"])
        self.subnet = self.client.network.create_subnet(self.vpc["id"], "vm-sub",
                                                        str(list(block.subnets(new_prefix=26))[1]))
        self.other_vpc = self.client.network.create_vpc("elsewhere")
        self.docker = docker.from_env()

    def settings(self) -> Any:  # the accelerator probed (KVM, with a timeout, else TCG)
        return settings_for(self.data_dir, installation_id=self.installation, compute_reconcile_seconds=2,
                            vm_kvm_probe_seconds=8, vm_stop_timeout_seconds=2, metrics_interval_seconds=1)

    def close(self) -> None:
        super().close()
        self.docker.close()


env = module_env(Env, "vms")


def port_of(inst: dict[str, Any]) -> int:
    return int(inst["ports"].split(",")[0].split(":")[0])


def page(inst: dict[str, Any], path: str = "/") -> str | None:
    r = httpx.get(f"http://127.0.0.1:{port_of(inst)}{path}", timeout=3)
    return r.text.strip() if r.status_code == 200 else None


def fetch(host: str, path: str = "/", wait: int = 10) -> str:
    """A shell line printing the body of ``http://host/path`` (busybox's nc: its static wget crashes
    in these images)."""
    return f"printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w {wait} {host} 80 | tr -d '\\r' | sed '1,/^$/d'"


def get_in(env: Env, inst: dict[str, Any], host: str, path: str = "/", wait: int = 10) -> str | None:
    code, out = in_container(env, inst, "sh", "-c", f"set -o pipefail; {fetch(host, path, wait)}")
    return out.strip() if code == 0 and out.strip() else None


def in_container(env: Env, inst: dict[str, Any], *command: str) -> tuple[int, str]:
    """Run ``command`` in a container instance (its engine container, found by the instance's labels)."""
    found = env.docker.containers.list(filters={"label": [f"{LABEL_INSTALLATION}={env.installation}",
                                                          f"{LABEL_RESOURCE}={inst['id']}"]})
    ctr = next(c for c in found if "cumulo.vm-port" not in c.labels)
    code, out = ctr.exec_run(list(command))
    return code, out.decode(errors="replace")


PROMPTS = (("login", re.compile(rb"login: *$")), ("password", re.compile(rb"[Pp]assword: *$")),
           ("shell", re.compile(rb"[#$] *$")))
# what may follow a prompt without it being answered: a kernel message, a terminal query (ash's
# line editing asks for the cursor position: ESC [6n)
NOT_AN_ANSWER = re.compile(rb"\r?\n?\[ *\d+\.\d+\] [^\n]*\n|\x1b\[[0-9;?]*[A-Za-z]")


class Serial:
    """The VM's serial console over the instance console WebSocket."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.seen = ws, b""
        self.password_typed = 0  # times PASSWORD was typed (each at a Password: prompt waiting for it)

    def until(self, *marks: bytes, timeout: float = 60) -> bytes:
        while not all(m in self.seen for m in marks):
            self.seen += self.ws.recv(timeout=timeout)
        out, self.seen = self.seen, b""
        return out

    def prompt(self, *wanted: str, timeout: float = 60, nudge: bool = False) -> tuple[str, bytes]:
        """Read until the guest's output ends with one of the ``wanted`` prompts, with nothing after it:
        the program that printed it is then waiting for a line (a ``Password:`` prompt also means echo
        off and earlier input flushed). Prompts not wanted are read past (an earlier empty line's
        prompt). ``nudge``: an empty line after each 10 s of silence, for a prompt printed before the
        socket was opened (only before anything is typed: a nudge then could answer a later prompt)."""
        while True:
            tail = NOT_AN_ANSWER.sub(b"", self.seen[-400:])
            for kind, pattern in PROMPTS:
                if kind in wanted and pattern.search(tail):
                    out, self.seen = self.seen, b""
                    return kind, out
            try:
                self.seen += self.ws.recv(timeout=10 if nudge else timeout)
            except TimeoutError:
                if not nudge or (timeout := timeout - 10) <= 0:
                    raise TimeoutError(f"no {' or '.join(wanted)} prompt; the console ends {self.seen[-300:]!r}")
                self.ws.send(b"\n")


def logged_in(ws: Any, wrong_first: bool = True) -> Serial:
    """Log in as root on the serial console (with ``wrong_first``, a wrong password first: refused),
    typing each line only at the prompt that waits for it. A session left by an earlier run is logged
    out first."""
    serial = Serial(ws)
    while (found := serial.prompt("login", "password", "shell", timeout=BOOT, nudge=True))[0] != "login":
        ws.send(b"exit\n" if found[0] == "shell" else b"\n")  # a leftover shell / password prompt
    if wrong_first:
        ws.send(b"root\n")
        serial.prompt("password")
        ws.send(b"not-the-password\n")
        assert b"incorrect" in serial.prompt("login", timeout=90)[1]  # a wrong password is refused
    ws.send(b"root\n")
    serial.prompt("password")
    ws.send(PASSWORD.encode() + b"\n")
    serial.password_typed += 1
    kind, out = serial.prompt("shell", "login", timeout=90)
    assert kind == "shell" and b"incorrect" not in out, out  # logged in at the first try
    return serial


def qemu_pid(env: Env, inst: dict[str, Any]) -> int:
    machines = Path(env.data_dir).resolve() / "vm" / "machines"
    name = f"cumulo-{env.installation}-{inst['id']}".encode()
    pids = [pid for p in machines.glob("*/qemu.pid")
            if (pid := int(p.read_text())) and Path(f"/proc/{pid}").exists()
            and name in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(pids) == 1, pids
    return pids[0]


def test_launch_serves_a_guest_service_on_a_published_port(env: Env) -> None:
    env.key = env.client.keypairs.create("vm-key")
    vm = env.client.instances.launch("vm1", "cumulo/busybox", backend="vm", memory_mb=256, cpus=1, ports="0:80",
                                     command=COMMAND, password=PASSWORD, key_name="vm-key", user_data=USER_DATA,
                                     vpc_id=env.vpc["id"], subnet_id=env.subnet["id"])
    assert vm["backend"] == "vm" and vm["accelerator"] in ("kvm", "tcg")
    # the second VM (another VPC, no subnet) boots beside the first and the container tests: its own
    # checks come later (test_a_vm_without_a_subnet_in_another_vpc)
    serve = "mkdir -p /w; echo vm2-page > /w/index.html; exec httpd -f -p 80 -h /w"
    env.vm2 = env.client.instances.launch("vm2", "cumulo/busybox", backend="vm", memory_mb=192,
                                          vpc_id=env.other_vpc["id"], command=["sh", "-c", serve])
    assert env.client.instances.wait(vm["id"], {"RUNNING"}, timeout=60)["status"] == "RUNNING"
    assert eventually_served(lambda: page(vm), timeout=BOOT) == "vm-page"
    assert page(vm, "/boots") == "1"
    env.vm = env.client.instances.get(vm["id"])
    assert "cumulo: starting the guest's main command" in env.client.instances.logs(vm["id"], tail=50)


def test_the_vm_has_its_subnet_address_and_containers_of_its_vpc_reach_it(env: Env) -> None:
    address = ipaddress.IPv4Address(env.vm["ip_address"])
    assert address in ipaddress.IPv4Network(env.subnet["cidr_block"])
    web = env.client.instances.launch("web", "cumulo/busybox", vpc_id=env.vpc["id"], command=WEB)
    web = env.client.instances.wait(web["id"], {"RUNNING"}, timeout=120)
    assert web["ip_address"] != env.vm["ip_address"]  # one allocation for both: no collision
    assert get_in(env, web, str(address)) == "vm-page"
    assert get_in(env, web, "vm1", "/boots") == "1"  # the VM's name in the VPC's DNS
    env.vm["web"] = web


def test_a_container_of_another_vpc_cannot_reach_the_vm(env: Env) -> None:
    far = env.client.instances.launch("far", "cumulo/busybox", vpc_id=env.other_vpc["id"], command=WEB)
    far = env.client.instances.wait(far["id"], {"RUNNING"}, timeout=120)
    assert get_in(env, far, env.vm["ip_address"], wait=3) is None
    assert get_in(env, far, far["ip_address"]) == "ctr-page"  # the probe itself works: only the VPC boundary stops it
    env.vm["far"] = far


def test_a_vm_without_a_subnet_in_another_vpc(env: Env) -> None:
    vm2 = env.client.instances.wait(env.vm2["id"], {"RUNNING"}, timeout=60)
    block = ipaddress.IPv4Network(env.other_vpc["cidr_block"])
    assert ipaddress.IPv4Address(vm2["ip_address"]) in block and vm2["ip_address"] != env.vm["far"]["ip_address"]
    assert eventually_served(lambda: get_in(env, env.vm["far"], vm2["ip_address"], wait=3), timeout=BOOT) == "vm2-page"
    env.vm["vm2"] = vm2


def test_serial_console_login_with_the_password_user_data_and_the_vpc(env: Env) -> None:
    web_ip = env.vm["web"]["ip_address"]
    with env.client.instances.console(env.vm["id"]) as ws:
        serial = logged_in(ws)
        ws.send(b"echo answer-$((6*7)); grep ^root: /etc/shadow; echo keys-$(cat /root/.ssh/authorized_keys)-$((2*3))end; "
                b"echo ud-$(cat /ud-ran)-end; " + fetch(web_ip).encode() + b" | sed 's/^/got-/'; "
                b"hostname | sed 's/^/host-/'\n")
        seen = serial.until(b"answer-42", b"root:$6$", b"-6end", b"ud-ran-21-end", b"got-ctr-page", b"host-vm1")
        # and the VM cannot reach into another VPC (the same address answers a container of that VPC)
        ws.send(b"echo far-$(" + fetch(env.vm["far"]["ip_address"], wait=3).encode() + b")-$((1+1))end\n")
        assert b"far--2end" in serial.until(b"-2end", timeout=60)
        ws.send(b"echo vm2-$(" + fetch(env.vm["vm2"]["ip_address"], wait=3).encode() + b")-$((4+1))end\n")
        assert b"vm2--5end" in serial.until(b"-5end", timeout=60)  # nor a VM of another VPC
        # a packet with another source address than the VM's own never leaves its tap (no spoofing)
        spoofed = str(ipaddress.IPv4Network(env.vpc["cidr_block"]).broadcast_address - 2).encode()
        ws.send(b"ip addr add " + spoofed + b"/32 dev eth0; ping -c 1 -W 3 -I " + spoofed + b" " + web_ip.encode()
                + b" >/dev/null 2>&1; echo spoofed-$?-$((2+1))end; ping -c 1 -W 5 " + web_ip.encode()
                + b" >/dev/null 2>&1; echo own-$?-$((3+1))end; ip addr del " + spoofed + b"/32 dev eth0\n")
        out = serial.until(b"-3end", b"-4end", timeout=60)
        assert b"spoofed-1-3end" in out and b"own-0-4end" in out
        # the cloud-init seed: a read-only disk with serial cidata, an ISO 9660 volume the guest's
        # kernel mounts, with the NoCloud files under their Joliet names
        ws.send(b"for b in /sys/block/vd*; do [ \"$(cat $b/serial)\" = cidata ] && s=/dev/${b##*/}; done; "
                b"mkdir -p /seed && mount -t iso9660 -o ro $s /seed && echo files-$(ls /seed | tr '\\n' ' ')end; "
                b"tr -d '\\n ' < /seed/meta-data; echo; tr -d '\\n ' < /seed/network-config; echo; "
                b"echo ud-$(grep -c -e '^#cloud-config' -e '^#!/bin/sh' -e 'ran-' -e '\"password\": \"[$]6[$]' "
                b"-e ssh-ed25519 /seed/user-data)-$((3*3))end; "
                b"umount /seed; echo seed-$((5+5))end\n")
        out = serial.until(b"seed-10end", timeout=60).decode(errors="replace")
        ws.send(b"exit\n")  # log out: the next console user meets the login prompt again
    assert "files-meta-data network-config user-data end" in out, out
    assert '"local-hostname":"vm1"' in out and f'"addresses":["{env.vm["ip_address"]}/' in out, out
    # user-data: Cumulo's #cloud-config (root's password hash, the key) and the user's script after it
    assert "ud-5-9end" in out, out
    assert f"keys-{env.key['public_key']}-6end".encode() in seen
    shadow = re.search(r"root:(\$6\$[^:$]+\$[^:]+):", seen.decode(errors="replace")).group(1)  # not the echo
    salt = shadow.split("$")[2]
    expected = subprocess.run(["busybox", "mkpasswd", "-m", "sha512", PASSWORD, salt], capture_output=True,
                              text=True, check=True).stdout.strip()
    assert shadow == expected  # the guest's root password is the one given at launch
    assert serial.password_typed == 1  # typed once, at a Password: prompt (echo off): so never echoed
    for path in (Path(env.data_dir) / "vm").rglob("*"):  # never written to the VM's files on the host
        if path.is_file() and path.stat().st_size < 2**20:
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in str(env.client.instances.get(env.vm["id"]))
    assert "cumulo: the user data ended with 0" in env.client.instances.logs(env.vm["id"], tail=200)
    env.client.instances.terminate(env.vm["far"]["id"])
    env.client.instances.terminate(env.vm["vm2"]["id"])


def test_stats_of_a_vm(env: Env) -> None:
    stats = env.client.instances.stats(env.vm["id"])
    assert stats["cpu_time_seconds"] > 0 and stats["memory_bytes"] > 0
    assert stats["memory_limit_bytes"] == 256 * 2**20
    assert stats["disk_read_bytes"] > 0 and stats["disk_read_ops"] > 0
    assert stats["net_rx_bytes"] > 0 and stats["net_tx_bytes"] > 0  # the earlier pages went through its tap


def test_pause_and_resume_through_qmp(env: Env) -> None:
    driver, name = vm_driver(env.server.platform), f"cumulo-{env.installation}-{env.vm['id']}"
    env.server.call(driver.pause(name))
    assert env.server.call(driver.status(name)) == "paused"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port_of(env.vm)}/", timeout=2)  # a paused guest answers nothing
    # paused behind Cumulo's back: the VM's event watcher turns the instance PAUSED, and RUNNING again
    # after the resume (waited for each in turn, so the next tests find it RUNNING, not a late PAUSED)
    assert env.client.instances.wait(env.vm["id"], {"PAUSED"}, timeout=60)["status"] == "PAUSED"
    env.server.call(driver.resume(name))
    assert env.server.call(driver.status(name)) == "running"
    assert env.client.instances.wait(env.vm["id"], {"RUNNING"}, timeout=60)["status"] == "RUNNING"
    assert eventually_served(lambda: page(env.vm), timeout=60) == "vm-page"


def display(env: Env, vm: str, headers: dict[str, str] | None = None, protocols: tuple[str, ...] = ("binary",)) -> Any:
    url = env.server.url.replace("http://", "ws://", 1) + f"/vm/{vm}/vnc"
    return ws_client.connect(url, additional_headers=headers, subprotocols=[Subprotocol(p) for p in protocols],
                             open_timeout=15, max_size=None)


def refused(conn: Any) -> tuple[str, int]:
    """The error code and the close code of a display WebSocket the server turned down."""
    code = json.loads(conn.recv(timeout=30))["error"]["code"]
    with pytest.raises(websockets.ConnectionClosed) as closed:
        conn.recv(timeout=30)
    return code, closed.value.rcvd.code


def test_the_vm_display_shows_its_screen_over_a_websocket_for_its_owner_only(env: Env) -> None:
    name = f"cumulo-{env.installation}-{env.vm['id']}"
    with display(env, env.vm["id"], env.client.headers()) as conn:
        assert conn.subprotocol == "binary"
        rfb = Rfb(conn)
        assert rfb.handshake() == f"QEMU ({name})"  # ServerInit through the relay: this VM

        def login_on_screen() -> bool:
            # virtio-gpu's framebuffer (1280x800 by its EDID) with tty1's login prompt drawn on it
            # (QEMU's page for a machine without a screen is 640x480)
            width, height, colours = rfb.screen()
            return width > 640 and height > 480 and colours > 1

        assert eventually(login_on_screen, timeout=120)
    with display(env, env.vm["web"]["id"], env.client.headers()) as conn:
        assert refused(conn) == ("NOT_FOUND", 4404)  # a container has no VNC display
    with display(env, env.vm["id"], env.other.headers()) as conn:
        assert refused(conn) == ("NOT_FOUND", 4404)  # another user's VM (the rest: test_uploaded_images)


def test_another_user_gets_404_and_bad_input_400(env: Env) -> None:
    for call in (env.other.instances.get, env.other.instances.stop, env.other.instances.stats,
                 env.other.instances.terminate):
        with pytest.raises(ApiError) as err:
            call(env.vm["id"])
        assert err.value.status == 404
    # VirtCloud's aliases: the user's VMs (others of this module's VMs may still run: only this one is
    # asserted on), never a container
    listed = {v["id"]: v for v in env.client.get("/vm/list")["vms"]}
    assert env.vm["id"] in listed and env.vm["web"]["id"] not in listed
    assert {v["backend"] for v in listed.values()} == {"vm"}
    runtime = {r["id"]: r for r in env.client.get("/vm/stats/runtime")["vms"]}
    assert set(runtime) == set(listed) and runtime[env.vm["id"]]["status"] == "RUNNING"
    assert runtime[env.vm["id"]]["current_session_minutes"] > 0
    assert all(isinstance(runtime[env.vm["id"]][k], float) for k in  # from billing (0: no meter of it yet)
               ("hourly_rate", "total_cost", "total_runtime_minutes", "current_session_cost"))
    assert env.other.get("/vm/list") == {"vms": []}
    with pytest.raises(ApiError) as err:
        env.client.post("/vm/stop", {"vm_id": env.vm["web"]["id"]})  # a container is not a VM
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


def test_the_metrics_sampler_records_the_vm(env: Env) -> None:
    def points() -> list[dict[str, Any]] | None:
        found = env.client.volumes.metrics(env.vm["id"])["points"]
        return found if found and max(p["memory_bytes"] for p in found) > 32 * 2**20 else None

    found = eventually(points, timeout=60)  # QEMU's memory: it runs in the port container's cgroups
    assert any(p["cpu_percent"] > 0 for p in found)
    with pytest.raises(ApiError) as err:
        env.other.volumes.metrics(env.vm["id"])
    assert err.value.status == 404


def test_a_disk_attaches_for_the_next_boot(env: Env) -> None:
    disk = env.client.disks.create("data", 1, "qcow2")
    attached = env.client.disks.attach("data", env.vm["id"])
    assert attached["instance_id"] == env.vm["id"]
    assert env.client.disks.attach("data", env.vm["id"])["instance_id"] == env.vm["id"]  # idempotent
    for call, args in ((env.client.disks.delete, ()), (env.client.disks.convert, ("raw",))):
        with pytest.raises(ApiError) as err:
            call("data", *args)
        assert err.value.status == 409, call
    with pytest.raises(ApiError) as err:
        env.other.disks.attach(disk["id"], env.vm["id"])  # not their disk
    assert err.value.status == 404
    theirs = env.other.disks.create("theirs", 1)
    with pytest.raises(ApiError) as err:
        env.other.disks.attach(theirs["id"], env.vm["id"])  # not their VM
    assert err.value.status == 404
    env.other.disks.delete(theirs["id"])
    with pytest.raises(ApiError) as err:
        env.client.disks.attach("data", env.vm["web"]["id"])  # a container takes volumes, not disks
    assert err.value.status == 400
    env.vm["disk"] = disk


def test_stop_and_start_keep_the_disk_and_the_guest_sees_the_attached_disk_resized(env: Env) -> None:
    pid = qemu_pid(env, env.vm)
    stopped = env.client.instances.stop(env.vm["id"])
    assert stopped["status"] == "STOPPED"
    assert not Path(f"/proc/{pid}").exists() or b"qmp.sock" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    env.client.disks.resize("data", 2)  # the VM is stopped: the disk is free to change
    assert env.client.disks.wait("data")["size_gb"] == 2
    env.client.disks.snapshot("data", "before-boot")
    env.client.instances.start(env.vm["id"])
    started = env.client.instances.wait(env.vm["id"], {"RUNNING", "ERROR"}, timeout=60)
    assert started["status"] == "RUNNING", started["status_reason"]
    assert eventually_served(lambda: page(env.vm, "/boots"), timeout=BOOT) == "2"
    assert env.client.instances.get(env.vm["id"])["ip_address"] == env.vm["ip_address"]  # the subnet's, kept
    serial_id = env.vm["disk"]["id"][:20]
    with env.client.instances.console(env.vm["id"]) as ws:
        serial = logged_in(ws, wrong_first=False)  # the refusal was checked on the first boot
        ws.send(b"for b in /sys/block/vd*; do echo blk-$(cat $b/serial)-$(cat $b/size)-end; done\n")
        serial.until(f"blk-{serial_id}-{2 * 2**30 // 512}-end".encode())  # 2 GiB in 512-byte sectors
        grown = env.client.disks.resize("data", 3)  # while it runs: through QEMU, seen by the guest at once
        assert (grown["status"], grown["size_gb"]) == ("available", 3)
        ws.send(b"for b in /sys/block/vd*; do echo blk-$(cat $b/serial)-$(cat $b/size)-end; done\n")
        serial.until(f"blk-{serial_id}-{3 * 2**30 // 512}-end".encode())
        ws.send(b"exit\n")
    for call, args in ((env.client.disks.snapshot, ("live",)), (env.client.disks.resize, (1, True)),
                       (env.client.disks.revert, ("before-boot",)), (env.client.disks.clone, ("copy",))):
        with pytest.raises(ApiError) as err:
            call("data", *args)  # the running VM has it open
        assert err.value.status == 409, call
    assert env.client.disks.detach("data")["instance_id"] is None  # gone at the next boot ...
    with pytest.raises(ApiError) as err:
        env.client.disks.delete("data")  # ... still open until then
    assert err.value.status == 409


def test_a_restarted_cumulo_adopts_the_running_vm(env: Env) -> None:
    pid = qemu_pid(env, env.vm)
    env.restart()
    assert env.client.instances.get(env.vm["id"])["status"] == "RUNNING"
    env.server.platform.runner.wake("compute.reconcile")
    eventually(lambda: env.server.platform.runner.loops["compute.reconcile"].runs >= 2, timeout=60)
    assert qemu_pid(env, env.vm) == pid  # the same QEMU process, not a new boot
    assert page(env.vm, "/boots") == "2"
    assert env.client.instances.get(env.vm["id"])["status"] == "RUNNING"


def test_a_lost_port_container_turns_the_vm_error_and_a_start_brings_it_back(env: Env) -> None:
    env.docker.containers.get(f"cumulo-{env.installation}-{env.vm['id']}-port").remove(force=True)
    failed = eventually(lambda: (i := env.client.instances.get(env.vm["id"]))["status"] == "ERROR" and i,
                        timeout=120)
    assert "network" in failed["status_reason"], failed["status_reason"]
    env.client.instances.start(env.vm["id"])
    started = env.client.instances.wait(env.vm["id"], {"RUNNING"}, timeout=60)
    assert started["status"] == "RUNNING", started["status_reason"]
    assert eventually_served(lambda: page(env.vm, "/boots"), timeout=BOOT) == "3"


def test_reboot_is_a_power_cycle_keeping_the_disk_and_the_address(env: Env) -> None:
    pid = qemu_pid(env, env.vm)
    env.client.instances.reboot(env.vm["id"])
    assert eventually_served(lambda: page(env.vm, "/boots"), timeout=BOOT) == "4"
    assert qemu_pid(env, env.vm) != pid
    rebooted = env.client.instances.get(env.vm["id"])
    assert (rebooted["status"], rebooted["ip_address"]) == ("RUNNING", env.vm["ip_address"])
    assert get_in(env, env.vm["web"], env.vm["ip_address"]) == "vm-page"  # back on the VPC's bridge


def test_a_killed_qemu_turns_the_instance_error_with_a_reason(env: Env) -> None:
    os.kill(qemu_pid(env, env.vm), signal.SIGKILL)
    failed = eventually(lambda: (i := env.client.instances.get(env.vm["id"]))["status"] == "ERROR" and i,
                        timeout=60)
    assert "QEMU process ended" in failed["status_reason"]
    env.client.disks.create("spare", 1)
    assert env.client.disks.attach("spare", env.vm["id"])["instance_id"] == env.vm["id"]
    env.client.instances.terminate(env.vm["id"])
    platform = env.server.platform
    # attached to a deleted instance: released, by this call or by the disks.release loop (every 30 s)
    # if that ran first or the instance row was still being removed when this call read it
    env.server.call(disks.release_orphans(platform))
    eventually(lambda: env.client.disks.get("spare")["instance_id"] is None, timeout=90)
    spare = env.client.disks.get("spare")["id"]
    assert any(e["action"] == "disk.detached" and e["resource_id"] == spare and
               e["data"].get("reason") == "the instance was deleted" for e in env.client.events(limit=500))
    env.client.disks.delete("spare")
    driver, name = vm_driver(platform), f"cumulo-{env.installation}-{env.vm['id']}"
    assert not driver.owns(name) and not driver.folder(name).exists()  # its machine folder went with it
    assert env.docker.containers.list(all=True, filters={"label": f"{LABEL_INSTALLATION}={env.installation}",
                                                        "name": f"{env.vm['id']}-port"}) == []
    env.client.disks.delete("data")  # the VM that had it open is gone


def test_orphan_vms_of_this_installation_are_removed(env: Env) -> None:
    platform = env.server.platform
    driver = vm_driver(platform)

    def spec(name: str, installation: str) -> ContainerSpec:
        return ContainerSpec(name=name, image="cumulo/busybox", labels={
            LABEL_INSTALLATION: installation, LABEL_KIND: "instance", LABEL_RESOURCE: "gone", LABEL_BACKEND: "vm"})

    orphan, foreign = f"cumulo-{env.installation}-orphan", f"cumulo-x{env.installation}-foreign"
    env.server.call(driver.create(spec(orphan, env.installation)))
    env.server.call(driver.create(spec(foreign, f"x{env.installation}")))  # another installation's: kept
    ghost = f"cumulo-{env.installation}-ghost"  # a port container whose VM is gone
    env.docker.containers.create("cumulo/busybox", ["sleep", "600"], name=f"{ghost}-port", network_mode="none",
                                 labels={LABEL_INSTALLATION: env.installation, LABEL_KIND: "instance",
                                         LABEL_RESOURCE: "gone", "cumulo.vm-port": ghost}).start()
    runs = platform.runner.loops["compute.reconcile"].runs
    platform.runner.wake("compute.reconcile")
    eventually(lambda: platform.runner.loops["compute.reconcile"].runs >= runs + 2, timeout=60)
    assert not driver.owns(orphan)
    assert driver.owns(foreign)
    assert env.docker.containers.list(all=True, filters={"name": f"{ghost}-port"}) == []
    env.server.call(driver.destroy(foreign))
    assert not driver.owns(foreign)

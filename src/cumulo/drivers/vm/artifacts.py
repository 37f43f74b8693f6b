"""Boot artifacts of VMs, built on this host with no registry and cached under the data dir.

- ``kernel``: the host's Debian kernel (``/boot/vmlinuz-*``) with its compressed payload taken out:
  QEMU boots the uncompressed ELF through its PVH note (no decompression inside the guest, about
  2 s less under TCG); the bzImage itself when no payload is found.
- ``initramfs``: the static busybox, the virtio/ext4 modules of that kernel (resolved from the
  ``depends=`` of each module, no depmod needed) and Cumulo's ``/init``, which sets up the user-mode
  network, mounts ``/dev/vda`` and switches to the root disk's ``/.cumulo/init``.
- ``root_disk(image)``: a catalogue (Docker) image as a qcow2 root disk: ``docker export`` into a
  folder, Cumulo's guest init added, ``mkfs.ext4 -d`` (no loop device or mount) and ``qemu-img
  convert``; cached by image id, rebuilt when missing. Each VM runs on a qcow2 overlay of it.
"""

from __future__ import annotations

import asyncio
import glob
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from cumulo.core.errors import InvalidInput, Unavailable
from cumulo.drivers.vm.cpio import Cpio

MODULES = ("virtio_mmio", "virtio_net", "virtio_blk", "crc32c_generic", "ext4", "isofs")  # isofs: the cidata seed
# the screen (virtio-gpu's framebuffer under fbcon, the VNC display): loaded by the root disk's init
# beside the main command, at low priority, so the boot to the guest's service does not wait for it
SCREEN_MODULES = ("virtio_gpu",)
BUSYBOX = "/bin/busybox"
XZ_MAGIC = b"\xfd7zXZ\x00"

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /lib/modules/$m || echo "cumulo: insmod $m failed"; done
if grep -q cumulo.probe /proc/cmdline; then echo CUMULO-PROBE-OK >/dev/ttyS0; poweroff -f; fi
ip link set lo up; ip link set eth0 up
if [ -f /cumulo/net ]; then read addr gw < /cumulo/net; ip addr add $addr dev eth0; ip route add default via $gw
else ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2; fi
root=; i=0
while [ -z "$root" ] && [ $i -lt 400 ]; do
  for b in /sys/block/vd*; do [ "$(cat $b/serial 2>/dev/null)" = cumulo-root ] && root=/dev/${b##*/}; done
  [ -z "$root" ] && [ -b /dev/vda ] && [ -z "$(cat /sys/block/vda/serial 2>/dev/null)" ] && root=/dev/vda
  [ -z "$root" ] && sleep 0.05; i=$((i+1))
done
mkdir -p /newroot && mount -t ext4 -o commit=1 ${root:-/dev/vda} /newroot || { echo 'cumulo: no root disk'; exec sh; }
mount -t tmpfs -o mode=755 run /newroot/run 2>/dev/null || { mkdir -p /newroot/run; mount -t tmpfs run /newroot/run; }
mkdir -p /newroot/run/cumulo && cp -a /cumulo/. /newroot/run/cumulo/ 2>/dev/null; chmod 700 /newroot/run/cumulo
if [ -s /screen.order ]; then mkdir -p /newroot/run/cumulo/screen
  for m in $(cat /screen.order); do cp /lib/modules/$m /newroot/run/cumulo/screen/; done
  cp /screen.order /newroot/run/cumulo/screen/order; fi
for d in proc sys dev; do mkdir -p /newroot/$d; mount --move /$d /newroot/$d; done
exec switch_root /newroot /.cumulo/init
"""

# The root disk's init (PID 1 after switch_root): hostname, resolver, root password, SSH keys, the
# environment, the user data script (once: on the first boot of the VM's disk), then the main
# command. With a root password the serial console offers a login prompt (getty) and the main command
# runs beside it; without one the main command runs on the console. When the main command ends, the
# disk is synced and the VM powers off.
GUEST_INIT = r"""#!/.cumulo/busybox sh
B=/.cumulo/busybox
$B mount -t tmpfs tmp /tmp 2>/dev/null
$B mkdir -p /etc
if [ -f /run/cumulo/resolv.conf ]; then $B cp /run/cumulo/resolv.conf /etc/resolv.conf 2>/dev/null
else echo 'nameserver 10.0.2.3' > /etc/resolv.conf 2>/dev/null; fi
[ -f /run/cumulo/hostname ] && $B hostname "$($B cat /run/cumulo/hostname)"
echo 100 > /proc/sys/vm/dirty_writeback_centisecs; echo 100 > /proc/sys/vm/dirty_expire_centisecs
if [ -f /run/cumulo/password ] && [ -f /etc/shadow ]; then
  h=$($B mkpasswd -m sha512 "$($B cat /run/cumulo/password)")
  $B sed -i "s|^root:[^:]*:|root:$h:|" /etc/shadow
fi
if [ -f /run/cumulo/authorized_keys ]; then
  $B mkdir -p /root/.ssh && $B cp /run/cumulo/authorized_keys /root/.ssh/authorized_keys
  $B chmod 700 /root/.ssh; $B chmod 600 /root/.ssh/authorized_keys
fi
[ -f /run/cumulo/env ] && . /run/cumulo/env
[ -f /run/cumulo/secrets ] && . /run/cumulo/secrets
if [ -f /run/cumulo/user-data ] && [ ! -f /.cumulo/user-data.done ]; then
  echo "cumulo: running the user data"
  $B chmod 700 /run/cumulo/user-data
  if [ "$($B head -c 2 /run/cumulo/user-data)" = '#!' ]; then /run/cumulo/user-data </dev/null >/dev/console 2>&1
  else $B sh /run/cumulo/user-data </dev/null >/dev/console 2>&1; fi
  echo "cumulo: the user data ended with $?"; : > /.cumulo/user-data.done; $B sync
fi
echo "cumulo: starting the guest's main command"
if [ -f /run/cumulo/screen/order ]; then
  $B cat > /run/cumulo/screen/run <<'SCREEN'
# the VM's screen: virtio-gpu's modules, then a login prompt on tty1 (or a note where the console is)
B=/.cumulo/busybox
$B renice -n 19 -p $$ >/dev/null 2>&1  # after the main command (one vCPU: the service comes first)
for m in $($B cat /run/cumulo/screen/order); do $B insmod /run/cumulo/screen/$m 2>/dev/null; done
i=0; while [ ! -e /dev/fb0 ] && [ $i -lt 50 ]; do $B sleep 0.1; i=$((i+1)); done
[ -e /dev/fb0 ] || exit 0
if [ -f /run/cumulo/login ]; then
  while :; do $B setsid $B getty -l /run/cumulo/login 0 tty1 linux; $B sleep 1; done
else
  printf '\n  %s (a Cumulo VM)\n  its main command runs on the serial console\n' "$($B hostname)" > /dev/tty1
fi
SCREEN
  screen=1
fi
if [ -f /run/cumulo/password ]; then
  $B cat > /run/cumulo/login <<'LOGIN'
#!/.cumulo/busybox sh
# getty's login program: echo goes off before "Password:" is printed (busybox's login prints its
# prompt first, so a password typed or pasted at once could be echoed into the console log)
B=/.cumulo/busybox
for u; do :; done
h=$($B awk -F: -v u="$u" '$1 == u {print $2}' /etc/shadow)
$B stty -echo; printf 'Password: '; IFS= read -r pw; $B stty echo; echo
salt=${h#\$6\$}; salt=${salt%%\$*}
case "$h" in '$6$'*) [ "$($B mkpasswd -m sha512 "$pw" "$salt")" = "$h" ] && exec $B login -f "$u";; esac
$B sleep 3; echo "Login incorrect"; exit 1
LOGIN
  $B chmod 700 /run/cumulo/login
  (while :; do $B setsid $B getty -L -l /run/cumulo/login 0 ttyS0 vt100; $B sleep 1; done) &
  [ -n "$screen" ] && $B sh /run/cumulo/screen/run </dev/null >/dev/null 2>&1 &
  $B sh /run/cumulo/command </dev/null >/dev/console 2>&1
else
  [ -n "$screen" ] && $B sh /run/cumulo/screen/run </dev/null >/dev/null 2>&1 &
  $B sh /run/cumulo/command </dev/console >/dev/console 2>&1
fi
echo "cumulo: the main command ended with $?; powering off"
$B sync; $B poweroff -f
"""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def _kernel_release() -> str:
    found = sorted(glob.glob("/boot/vmlinuz-*"))
    if not found:
        raise Unavailable("no guest kernel (/boot/vmlinuz-*): run scripts/ensure-qemu.sh")
    return Path(found[-1]).name.removeprefix("vmlinuz-")


def _module_path(root: Path, name: str) -> Path:
    for variant in {name, name.replace("_", "-")}:
        hits = list(root.rglob(f"{variant}.ko"))
        if hits:
            return hits[0]
    raise Unavailable(f"kernel module {name} not found under {root}")


def _ordered_modules(release: str, wanted: tuple[str, ...] = MODULES, seen: set[str] | None = None) -> list[Path]:
    """``wanted`` and what they depend on, dependencies first, leaving out the modules in ``seen``."""
    root = Path("/lib/modules") / release / "kernel"
    order: list[Path] = []
    seen = set() if seen is None else seen

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        path = _module_path(root, name)
        found = re.search(rb"depends=([^\0]*)\0", path.read_bytes())
        for dep in (found.group(1).decode().split(",") if found and found.group(1) else []):
            visit(dep)
        order.append(path)

    for m in wanted:
        visit(m)
    return order


def _screen_modules(release: str, boot: list[Path]) -> list[Path]:
    """The screen's modules not loaded at boot already; none when this kernel lacks them."""
    names = {p.name.removesuffix(".ko").replace("-", "_") for p in boot}
    try:
        return _ordered_modules(release, SCREEN_MODULES, seen=set(names) | {n.replace("_", "-") for n in names})
    except Unavailable:
        return []


class Artifacts:
    def __init__(self, root: Path, docker_host: str | None = None) -> None:
        self.root = root
        self.docker_host = docker_host
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    # --- kernel and initramfs ------------------------------------------------------------
    async def kernel(self) -> Path:
        release = _kernel_release()
        out = self.root / "kernel" / f"vmlinux-{release}"
        async with self._lock("kernel"):
            if not out.exists():
                await asyncio.to_thread(self._extract_vmlinux, Path(f"/boot/vmlinuz-{release}"), out)
        return out

    @staticmethod
    def _extract_vmlinux(bzimage: Path, out: Path) -> None:
        data = bzimage.read_bytes()
        start = data.find(XZ_MAGIC)
        elf = b""
        while start >= 0 and not elf.startswith(b"\x7fELF"):
            try:
                elf = lzma.LZMADecompressor().decompress(data[start:])
            except lzma.LZMAError:
                elf = b""
            start = data.find(XZ_MAGIC, start + 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(elf if elf.startswith(b"\x7fELF") else data)  # the bzImage boots too, slower
        tmp.replace(out)

    async def initramfs(self) -> Path:
        release = _kernel_release()
        out = self.root / "kernel" / f"initramfs-{release}-{_digest(INIT, *MODULES, *SCREEN_MODULES)}.cpio.gz"
        async with self._lock("initramfs"):
            if not out.exists():
                await asyncio.to_thread(self._build_initramfs, release, out)
        return out

    @staticmethod
    def _build_initramfs(release: str, out: Path) -> None:
        cpio = Cpio()
        for d in ("bin", "sbin", "dev", "proc", "sys", "etc", "tmp", "newroot", "cumulo", "lib", "lib/modules"):
            cpio.dir(d)
        cpio.file("bin/busybox", Path(BUSYBOX).read_bytes(), 0o755)
        cpio.symlink("bin/sh", "busybox")
        cpio.file("etc/resolv.conf", b"nameserver 10.0.2.3\n")
        cpio.file("init", INIT.encode(), 0o755)
        names, boot = [], _ordered_modules(release)
        for path in boot:
            cpio.file(f"lib/modules/{path.name}", path.read_bytes())
            names.append(path.name)
        cpio.file("modules.order", ("\n".join(names) + "\n").encode())
        screen = _screen_modules(release, boot)
        for path in screen:
            cpio.file(f"lib/modules/{path.name}", path.read_bytes())
        cpio.file("screen.order", "".join(f"{p.name}\n" for p in screen).encode())
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(gzip.compress(cpio.bytes(), 6))
        tmp.replace(out)

    @staticmethod
    def with_config(initramfs: bytes, files: dict[str, str]) -> bytes:
        """The initramfs followed by a segment with the VM's own settings under ``/cumulo`` (Linux
        unpacks concatenated archives in order; the first is padded to a 512-byte boundary)."""
        cpio = Cpio()
        for name, text in files.items():
            cpio.file(f"cumulo/{name}", text.encode(), 0o600)
        return initramfs + b"\0" * (-len(initramfs) % 512) + cpio.bytes()

    # --- root disks from catalogue images -----------------------------------------------
    def _cached(self, info: dict[str, Any]) -> tuple[str, Path]:
        key = info["Id"].removeprefix("sha256:")[:24] + "-" + _digest(GUEST_INIT)  # a new init: a new disk
        return key, self.root / "images" / f"{key}.qcow2"

    async def root_disk_size(self, image_ref: str) -> int:
        """The virtual size (bytes) of the image's root disk: exact once it is built, else what the
        build will make of the image's size (the same rule as ``_build_root``)."""
        info = await asyncio.to_thread(self._inspect, image_ref)
        _key, disk = self._cached(info)
        if disk.exists():
            found = json.loads(await asyncio.to_thread(_run, ["qemu-img", "info", "--output=json", "-f", "qcow2",
                                                              str(disk)]))
            return int(found["virtual-size"])
        return _root_mb(int(info.get("Size") or 0)) * 2**20

    async def root_disk(self, image_ref: str) -> tuple[Path, list[str]]:
        """The cached qcow2 root disk of a Docker image and the image's default command."""
        info = await asyncio.to_thread(self._inspect, image_ref)
        key, disk = self._cached(info)
        meta = disk.with_suffix(".json")
        async with self._lock(key):
            if not disk.exists() or not meta.exists():
                await asyncio.to_thread(self._build_root, info["Id"], disk)
                cfg = info.get("Config") or {}
                meta.write_text(json.dumps({"command": (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or []),
                                            "env": cfg.get("Env") or [], "workdir": cfg.get("WorkingDir") or "/"}))
        return disk, json.loads(meta.read_text())["command"]

    def _docker(self) -> Any:
        from cumulo.drivers import dockerclient

        return dockerclient.client(self.docker_host)

    def _inspect(self, image_ref: str) -> dict[str, Any]:
        import docker.errors

        client = self._docker()
        try:
            return client.api.inspect_image(image_ref)  # type: ignore[no-any-return]
        except docker.errors.ImageNotFound as exc:
            raise InvalidInput(f"image '{image_ref}' is not available on this server") from exc
        finally:
            client.close()

    def _build_root(self, image_id: str, disk: Path) -> None:
        disk.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=disk.parent, prefix=".build-") as tmp:
            tree, raw = Path(tmp) / "root", Path(tmp) / "root.raw"
            tree.mkdir()
            client = self._docker()
            try:
                container = client.containers.create(image_id, command=["true"], network_disabled=True)
                try:
                    tar = subprocess.Popen(["tar", "-x", "--numeric-owner", "-C", str(tree)], stdin=subprocess.PIPE)
                    assert tar.stdin is not None
                    for chunk in container.export():
                        tar.stdin.write(chunk)
                    tar.stdin.close()
                    if tar.wait() != 0:
                        raise Unavailable("could not unpack the image's filesystem")
                finally:
                    container.remove(force=True)
            finally:
                client.close()
            cumulo = tree / ".cumulo"
            cumulo.mkdir(exist_ok=True)
            shutil.copy2(BUSYBOX, cumulo / "busybox")
            (cumulo / "init").write_text(GUEST_INIT)
            (cumulo / "init").chmod(0o755)
            for d in ("proc", "sys", "dev", "run", "tmp"):
                (tree / d).mkdir(exist_ok=True)
            used = sum(f.stat().st_size for f in tree.rglob("*") if f.is_file() and not f.is_symlink())
            size_mb = _root_mb(used)
            _run(["mkfs.ext4", "-q", "-F", "-E", "root_owner=0:0", "-d", str(tree), str(raw), f"{size_mb}M"])
            part = disk.with_suffix(".part")
            _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(part)])
            part.replace(disk)


def _root_mb(used: int) -> int:
    """A root disk's size in MiB for ``used`` bytes of files: twice that and 256 MiB, at least 1 GiB."""
    return max(1024, 2 * used // 2**20 + 256)


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=600, env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError as exc:
        raise Unavailable(f"{argv[0]} is not installed: run scripts/ensure-qemu.sh") from exc
    if done.returncode != 0:
        raise Unavailable(f"{argv[0]} failed: {done.stderr.strip()[-400:]}")
    return done.stdout

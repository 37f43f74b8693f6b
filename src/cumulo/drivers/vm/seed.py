"""A VM's cloud-init NoCloud seed: an ISO 9660 volume labelled ``cidata`` with ``meta-data``,
``user-data`` and ``network-config``, written here in Python (no genisoimage or xorriso).

The volume has the primary tree (8.3 names) and a Joliet tree with the real names, which Linux (and
so cloud-init's mount) reads by default. The documents are JSON, which YAML parsers read as is.
``user-data`` is Cumulo's ``#cloud-config`` (hostname, root password as a SHA-512 crypt hash, the key
pair's public key) followed, when the user gave user data, by it as a second part of a MIME
multipart (a ``#cloud-config`` of theirs as cloud-config, anything else as a shell script).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import subprocess
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from cumulo.core.errors import Unavailable

SECTOR = 2048
LABEL = "cidata"
BUSYBOX = "/bin/busybox"


# --- the documents ------------------------------------------------------------------------------

def password_hash(password: str) -> str:
    """SHA-512 crypt of ``password`` (busybox ``mkpasswd``, fed on stdin: never on a command line)."""
    try:
        done = subprocess.run([BUSYBOX, "mkpasswd", "-m", "sha512"], input=password + "\n", capture_output=True,
                              text=True, timeout=30, check=False)
    except FileNotFoundError as exc:
        raise Unavailable("busybox is not installed (scripts/ensure-qemu.sh)") from exc
    hashed = done.stdout.strip()
    if done.returncode != 0 or not hashed.startswith("$6$"):
        raise Unavailable(f"could not hash the VM's password: {done.stderr.strip()[-200:]}")
    return hashed


def cloud_config(hostname: str, password: str | None, ssh_keys: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"hostname": hostname, "preserve_hostname": False, "disable_root": False}
    keys = [k.strip() for k in (ssh_keys or "").splitlines() if k.strip()]
    if keys:
        doc["ssh_authorized_keys"] = keys  # the image's default user and (disable_root: false) root
    if password is not None:
        doc["ssh_pwauth"] = True
        doc["chpasswd"] = {"expire": False, "users": [
            {"name": "root", "password": password_hash(password), "type": "hash"}]}
    return doc


def user_data(config: dict[str, Any], extra: str | None) -> str:
    ours = "#cloud-config\n" + json.dumps(config, indent=1) + "\n"
    if not extra:
        return ours
    whole = MIMEMultipart(boundary="==cumulo-seed==")
    whole.attach(MIMEText(ours, "cloud-config", _charset(ours)))
    if extra.startswith("#cloud-config"):
        part = MIMEText(extra, "cloud-config", _charset(extra))
    else:
        script = extra if extra.startswith("#!") else "#!/bin/sh\n" + extra
        part = MIMEText(script, "x-shellscript", _charset(script))
    part.add_header("Content-Disposition", "attachment", filename="user-data")
    whole.attach(part)
    return whole.as_string()


def _charset(text: str) -> str:
    return "us-ascii" if text.isascii() else "utf-8"  # plain text when it can be (else base64)


def network_config(address: str | None = None, prefix: int | None = None, gateway: str | None = None,
                   mac: str | None = None, nameservers: list[str] | None = None) -> dict[str, Any]:
    """Netplan v2: the VPC's static address on the NIC with ``mac``, else DHCP (QEMU's user network)."""
    if address is None or mac is None:
        return {"version": 2, "ethernets": {"nics": {"match": {"name": "e*"}, "dhcp4": True}}}
    nic: dict[str, Any] = {"match": {"macaddress": mac}, "addresses": [f"{address}/{prefix}"],
                           "routes": [{"to": "0.0.0.0/0", "via": gateway}]}
    if nameservers:
        nic["nameservers"] = {"addresses": nameservers}
    return {"version": 2, "ethernets": {"eth0": nic}}


def documents(instance_id: str, hostname: str, password: str | None, ssh_keys: str | None,
              extra_user_data: str | None, network: dict[str, Any]) -> dict[str, bytes]:
    meta = {"instance-id": instance_id, "local-hostname": hostname}
    return {"meta-data": (json.dumps(meta) + "\n").encode(),
            "user-data": user_data(cloud_config(hostname, password, ssh_keys), extra_user_data).encode(),
            "network-config": (json.dumps(network) + "\n").encode()}


# --- ISO 9660 with Joliet --------------------------------------------------------------------------

def _both16(n: int) -> bytes:
    return struct.pack("<H", n) + struct.pack(">H", n)


def _both32(n: int) -> bytes:
    return struct.pack("<I", n) + struct.pack(">I", n)


def _short_name(name: str) -> bytes:
    """The primary tree's name: 8.3 of d-characters, ``;1`` version (``user-data`` -> ``USER_DAT.;1``)."""
    stem, _, ext = name.upper().partition(".")
    clean = "".join(c if c.isalnum() and c.isascii() else "_" for c in stem)[:8]
    return f"{clean}.{''.join(c for c in ext if c.isalnum())[:3]};1".encode()


def _record(ident: bytes, lba: int, size: int, directory: bool, when: bytes) -> bytes:
    length = 33 + len(ident) + (1 - len(ident) % 2)
    body = (bytes([length, 0]) + _both32(lba) + _both32(size) + when + bytes([2 if directory else 0, 0, 0])
            + _both16(1) + bytes([len(ident)]) + ident)
    return body + b"\0" * (length - len(body))


def _directory(self_lba: int, entries: list[tuple[bytes, int, int]], when: bytes) -> bytes:
    out = _record(b"\0", self_lba, SECTOR, True, when) + _record(b"\1", self_lba, SECTOR, True, when)
    for ident, lba, size in entries:
        out += _record(ident, lba, size, False, when)
    if len(out) > SECTOR:
        raise ValueError("too many files for one directory sector")
    return out + b"\0" * (SECTOR - len(out))


def _path_table(root_lba: int, big_endian: bool) -> bytes:
    return bytes([1, 0]) + struct.pack(">I" if big_endian else "<I", root_lba) + \
        struct.pack(">H" if big_endian else "<H", 1) + b"\0\0"


def _text(value: str, size: int, joliet: bool) -> bytes:
    raw = value.encode("utf-16-be") if joliet else value.encode("ascii")
    pad = " ".encode("utf-16-be") if joliet else b" "
    return (raw + pad * size)[:size]


def _descriptor(kind: int, total: int, root: bytes, l_table: int, m_table: int, stamp: bytes,
                joliet: bool) -> bytes:
    d = bytes([kind]) + b"CD001" + b"\1\0"
    d += _text("LINUX", 32, joliet) + _text(LABEL, 32, joliet) + b"\0" * 8 + _both32(total)
    d += (b"%/E" + b"\0" * 29) if joliet else b"\0" * 32
    d += _both16(1) + _both16(1) + _both16(SECTOR) + _both32(10)
    d += struct.pack("<I", l_table) + b"\0" * 4 + struct.pack(">I", m_table) + b"\0" * 4 + root
    d += _text("", 128, joliet) + _text("", 128, joliet) + _text("CUMULO", 128, joliet)
    d += _text("CUMULO", 128, joliet) + _text("", 37, joliet) + _text("", 37, joliet) + _text("", 37, joliet)
    d += stamp + stamp + b"0" * 16 + b"\0" + stamp + b"\1\0"
    return d + b"\0" * (SECTOR - len(d))


def iso(files: dict[str, bytes], now: dt.datetime | None = None) -> bytes:
    """An ISO 9660 image (with Joliet names) of ``files``, one flat root directory, labelled ``cidata``."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    when = bytes([now.year - 1900, now.month, now.day, now.hour, now.minute, now.second, 0])
    stamp = now.strftime("%Y%m%d%H%M%S00").encode() + b"\0"
    names = sorted(files)
    # sectors: 16 PVD, 17 Joliet SVD, 18 terminator, 19-22 path tables, 23/24 roots, then the files
    root, jroot, lba = 23, 24, 25
    placed = []
    for name in names:
        placed.append((name, lba, len(files[name])))
        lba += max(1, -(-len(files[name]) // SECTOR))
    total = lba
    primary = [(_short_name(n), at, size) for n, at, size in placed]
    primary.sort(key=lambda e: e[0])
    joliet = [(n.encode("utf-16-be"), at, size) for n, at, size in placed]
    out = bytearray(b"\0" * (16 * SECTOR))
    out += _descriptor(1, total, _record(b"\0", root, SECTOR, True, when), 19, 20, stamp, False)
    out += _descriptor(2, total, _record(b"\0", jroot, SECTOR, True, when), 21, 22, stamp, True)
    out += (b"\xffCD001\1" + b"\0" * (SECTOR - 7))
    for table_root, big in ((root, False), (root, True), (jroot, False), (jroot, True)):
        out += _path_table(table_root, big) + b"\0" * (SECTOR - 10)
    out += _directory(root, primary, when) + _directory(jroot, joliet, when)
    for name in names:
        data = files[name]
        out += data + b"\0" * (max(1, -(-len(data) // SECTOR)) * SECTOR - len(data))
    assert len(out) == total * SECTOR
    return bytes(out)

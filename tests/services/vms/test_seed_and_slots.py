"""The cloud-init seed's documents and ISO volume (read back by blkid and Python's MIME parser, as
cloud-init parses user-data), and the display session slots; no QEMU here (the guest mounting the
seed: test_vms; the caps through the API: test_uploaded_images)."""

from __future__ import annotations

import email
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cumulo.drivers.vm import seed, slots


def test_the_seed_is_an_iso9660_volume_labelled_cidata(tmp_path: Path) -> None:
    if shutil.which("blkid") is None:
        pytest.skip("blkid (util-linux) is not installed")
    files = seed.documents("vm-1", "web", None, None, None, seed.network_config())
    image = tmp_path / "seed.iso"
    image.write_bytes(seed.iso(files))
    assert image.stat().st_size % 2048 == 0
    found = subprocess.run(["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True,
                           check=True).stdout
    assert "TYPE=iso9660" in found and "LABEL=cidata" in found, found
    assert json.loads(files["meta-data"]) == {"instance-id": "vm-1", "local-hostname": "web"}
    assert files["user-data"].startswith(b"#cloud-config\n")  # no user data: one cloud-config document


def test_user_data_is_cumulos_cloud_config_then_the_users_part() -> None:
    files = seed.documents("vm-1", "web", "pw 1", "ssh-ed25519 AAAAC3Nza k1\n", "echo hello",
                           seed.network_config("10.1.0.9", 24, "10.1.0.1", "02:00:0a:01:00:09", ["10.0.0.2"]))
    parts = [p for p in email.message_from_bytes(files["user-data"]).walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts] == ["text/cloud-config", "text/x-shellscript"]
    config = json.loads(parts[0].get_payload(decode=True).decode().removeprefix("#cloud-config\n"))
    assert config["hostname"] == "web" and config["ssh_authorized_keys"] == ["ssh-ed25519 AAAAC3Nza k1"]
    hashed = config["chpasswd"]["users"][0]["password"]
    salt = hashed.split("$")[2]
    again = subprocess.run(["busybox", "mkpasswd", "-m", "sha512", "pw 1", salt], capture_output=True, text=True,
                           check=True)
    assert again.stdout.strip() == hashed and "pw 1" not in files["user-data"].decode()
    assert parts[1].get_payload(decode=True) == b"#!/bin/sh\necho hello"
    nic = json.loads(files["network-config"])["ethernets"]["eth0"]
    assert nic["match"] == {"macaddress": "02:00:0a:01:00:09"} and nic["addresses"] == ["10.1.0.9/24"]
    assert nic["routes"] == [{"to": "0.0.0.0/0", "via": "10.1.0.1"}]
    cloud = seed.documents("vm-1", "web", None, None, "#cloud-config\npackages: [nginx]\n", seed.network_config())
    parts = [p for p in email.message_from_bytes(cloud["user-data"]).walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts] == ["text/cloud-config", "text/cloud-config"]


def test_slots_cap_sessions_until_released(tmp_path: Path) -> None:
    first, second = slots.take(tmp_path, 2), slots.take(tmp_path, 2)
    assert first is not None and second is not None
    assert slots.take(tmp_path, 2) is None  # both held (even by this same process)
    slots.release(first)
    third = slots.take(tmp_path, 2)
    assert third is not None
    slots.release(second, third)

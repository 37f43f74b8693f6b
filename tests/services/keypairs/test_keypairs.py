"""/keypairs: a made pair answers its private key once; imports are checked; another user's is 404."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from cumulo.client.base import ApiError, Client


def raises(status: int, fn, *args, **kw):  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as err:
        fn(*args, **kw)
    assert err.value.status == status, err.value
    return err.value


def openssh(key) -> str:  # type: ignore[no-untyped-def]
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def test_a_made_pair_shows_its_private_key_once(user: Client) -> None:
    made = user.keypairs.create("laptop")
    private = serialization.load_ssh_private_key(made["private_key"].encode(), None)
    assert openssh(private) == made["public_key"] and made["fingerprint"].startswith("SHA256:")
    again = user.keypairs.get("laptop")
    assert again["private_key"] is None and again["public_key"] == made["public_key"]
    assert all(k["private_key"] is None for k in user.keypairs.list())
    raises(409, user.keypairs.create, "laptop")
    user.keypairs.delete("laptop")
    raises(404, user.keypairs.get, "laptop")


def test_imports_are_checked(user: Client) -> None:
    line = openssh(ed25519.Ed25519PrivateKey.generate())
    imported = user.keypairs.import_key("ci", line + " someone@host")
    assert imported["public_key"] == line and imported["private_key"] is None
    weak = openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    for bad in ("not a key", "ssh-ed25519 AAAA", weak, line + "\n" + line, "ssh-dss AAAAB3NzaC1kc3MAAACBAP"):
        raises(400, user.keypairs.import_key, "bad", bad)
    for body in ({"name": "../x"}, {"name": "x", "extra": 1}, {}):
        raises(400, user.post, "/keypairs", body)
    assert [k["name"] for k in user.keypairs.list()] == ["ci"]
    user.keypairs.delete("ci")


def test_another_users_key_pair_is_404(user: Client, other_user: Client) -> None:
    k = user.keypairs.create("mine")
    raises(404, other_user.keypairs.get, k["id"])
    raises(404, other_user.keypairs.delete, k["id"])
    raises(404, other_user.instances.launch, "vm", "cumulo/busybox", backend="vm", key_name="mine")
    assert other_user.keypairs.list() == []
    raises(400, user.instances.launch, "c", "cumulo/busybox", key_name="mine")  # containers take no key
    user.keypairs.delete("mine")


def test_keypair_commands(server, user: Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from tests.cli.conftest import _runner

    cli = _runner(tmp_path, server, user.api_key or "")
    key_file = tmp_path / "id"
    out = cli("--json", "keypairs", "create", "cli-key", "--save", str(key_file)).output
    made = json.loads(out[out.index("{"):])  # after the note on stderr
    assert "private_key" not in made and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert openssh(serialization.load_ssh_private_key(key_file.read_bytes(), None)) == made["public_key"]
    pub = tmp_path / "id.pub"
    pub.write_text(openssh(ed25519.Ed25519PrivateKey.generate()) + " me@host\n")
    cli("keypairs", "import", "cli-imported", str(pub))
    names = sorted(k["name"] for k in json.loads(cli("--json", "keypairs", "list").output))
    assert names == ["cli-imported", "cli-key"]
    for name in names:
        assert "deleted" in cli("keypairs", "delete", name, "--yes").output

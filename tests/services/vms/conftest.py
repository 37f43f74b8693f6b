"""What the VM test modules share: a module's own Cumulo server (its own data folder and installation,
so its VMs and its orphan sweep touch nobody else's) with two users, torn down with every instance
it launched; the hand-assembled boot code of the uploaded-image tests; ``raises``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

from cumulo.client.base import ApiError
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import register_and_login

BOOT = 240  # seconds a boot may take on a loaded 2-core CI machine under TCG


class VmEnv:
    """``settings()`` is the module's server settings (TCG at once unless a module probes KVM)."""

    overrides: ClassVar[dict[str, Any]] = {}

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.data_dir, self.installation = tmp, str(tmp / "data"), f"t{uuid.uuid4().hex[:10]}"
        self.server = self.start()
        self.client = register_and_login(self.server)
        self.other = register_and_login(self.server)

    def settings(self) -> Any:
        return settings_for(self.data_dir, installation_id=self.installation, **{"vm_accelerator": "tcg",
                                                                                 **self.overrides})

    def start(self) -> LiveServer:
        return LiveServer(self.settings()).start()

    def point(self, server: LiveServer) -> None:
        """The users' clients talk to ``server`` from now on."""
        for c in (self.client, self.other):
            c.base_url = server.url
            c._http.base_url = server.url

    def restart(self) -> None:
        self.server.stop()
        self.server = self.start()
        self.point(self.server)

    def close(self) -> None:
        for inst in self.client.instances.list():
            self.client.instances.terminate(inst["id"])
        self.server.stop()


E = TypeVar("E", bound=VmEnv)


def module_env(cls: type[E], folder: str) -> Callable[..., Iterator[E]]:
    """The module-scoped fixture ``env`` of a module: ``env = module_env(Env, "vms")``."""

    @pytest.fixture(scope="module", name="env")
    def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E]:
        e = cls(tmp_path_factory.mktemp(folder))
        yield e
        e.close()

    return env


def raises(status: int, call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        call(*args, **kwargs)
    assert err.value.status == status, err.value.message
    return err.value


def boot_code(message: bytes) -> bytes:
    """Real-mode code loaded at 0x7c00: segments zeroed, each byte of ``message`` through the BIOS
    teletype (int 10h, the VGA screen) and to COM1 (out 0x3f8), then hlt forever (the message sits
    right after the 39 bytes of code, at 0x7c27: the operand of ``mov si``)."""
    code = bytes.fromhex("fa31c08ed88ec08ed0bc007cfb" "be277c" "ac84c0740f" "50b40ebb0700cd1058" "baf803ee" "ebec"
                         "f4ebfd")
    assert len(code) == 39
    return code + message + b"\r\n\0"

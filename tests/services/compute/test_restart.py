"""A server that dies between writing an instance and creating its container heals on restart,
without losing or duplicating anything."""

from __future__ import annotations

import uuid

import pytest

from cumulo.core.principal import Principal
from cumulo.services.compute import service
from cumulo.services.compute.schemas import InstanceCreate
from tests.conftest import register_and_login
from tests.services.compute.conftest import HTTPD, eventually, host_port, http_body

pytestmark = pytest.mark.docker


def test_restart_mid_launch_heals_without_duplicates(make_server, tmp_path, containers_of) -> None:  # type: ignore[no-untyped-def]
    data_dir, installation = str(tmp_path / "data"), f"t{uuid.uuid4().hex[:10]}"
    first = make_server(data_dir=data_dir, installation_id=installation, compute_reconcile_seconds=3600)
    with register_and_login(first) as client:
        me = client.identity.me()
        principal = Principal(user_id=me["id"], email=me["email"], name=me["name"], role="user", key_id="test")

        async def write_only() -> str:  # the launch's first half: desired state, no container yet
            async with first.platform.db.session() as session:
                body = InstanceCreate(name="half", image="cumulo/busybox", ports="0:80", command=HTTPD)
                return (await service.create_instance(first.platform, session, principal, body)).id

        instance_id = first.call(write_only())
        assert client.instances.get(instance_id)["status"] == "STARTING"
        assert containers_of(**{"cumulo.resource": instance_id}) == []
        first.stop()

        second = make_server(data_dir=data_dir, installation_id=installation)
        client.base_url = second.url
        client._http.base_url = second.url
        healed = client.instances.wait(instance_id, {"RUNNING"}, timeout=60)
        assert healed["status"] == "RUNNING"
        assert "cumulo/busybox" in eventually(lambda: http_body(host_port(healed)))
        second.platform.runner.wake("compute.reconcile")  # another pass changes nothing
        eventually(lambda: second.platform.runner.loops["compute.reconcile"].runs >= 2)
        assert len(containers_of(**{"cumulo.resource": instance_id})) == 1
        assert [i["id"] for i in client.instances.list()] == [instance_id]
        client.instances.terminate(instance_id)

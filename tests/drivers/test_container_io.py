"""Files and input given to a container after its creation (``put_files``, ``write_stdin``), on the
real Docker engine and on the fake: a running container's process reads the line written to its
input (which stays open), and finds the files put into it; a container without an open input, or
not running, refuses the write."""

from __future__ import annotations

import asyncio
import io
import tarfile
import uuid

import pytest

from cumulo.core.errors import CumuloError
from cumulo.drivers.compute.base import LABEL_INSTALLATION, ContainerSpec
from cumulo.drivers.compute.docker import DockerDriver
from cumulo.testing.fakes import FakeCompute

INSTALLATION = f"io-{uuid.uuid4().hex[:8]}"


def tar_of(path: str, text: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = text.encode()
        info = tarfile.TarInfo(path)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def spec(command: list[str], stdin_open: bool) -> ContainerSpec:
    return ContainerSpec(name=f"cumulo-io-{uuid.uuid4().hex[:8]}", image="cumulo/busybox",
                         labels={LABEL_INSTALLATION: INSTALLATION}, command=command, stdin_open=stdin_open)


@pytest.mark.docker
def test_a_process_reads_its_input_and_finds_the_files_put_in() -> None:
    async def run() -> None:
        driver = DockerDriver()
        script = 'read -r line; echo "got $line from $(cat /srv/note.txt)"; read -r more; echo "then $more"; sleep 60'
        state = await driver.create(spec(["sh", "-c", script], stdin_open=True))
        try:
            await driver.start(state.id)
            await driver.put_files(state.id, tar_of("srv/note.txt", "the archive"))
            await driver.write_stdin(state.id, b"hello\n")
            await driver.write_stdin(state.id, b"again\n")  # the input stayed open after the first write
            logs: list[str] = []

            async def seen() -> bool:
                logs[:] = [await driver.logs(state.id, 10)]
                return "then again" in logs[0]

            deadline = asyncio.get_running_loop().time() + 20
            while not await seen():
                assert asyncio.get_running_loop().time() < deadline, logs
                await asyncio.sleep(0.1)
            assert logs[0].splitlines() == ["got hello from the archive", "then again"]
        finally:
            await driver.destroy(state.id)

    asyncio.run(run())


def test_the_fake_keeps_what_it_was_given_and_refuses_a_closed_input() -> None:
    async def run() -> None:
        driver = FakeCompute(base=("cumulo/busybox",))
        shut = await driver.create(spec(["sleep", "60"], stdin_open=False))
        await driver.start(shut.id)
        with pytest.raises(CumuloError):
            await driver.write_stdin(shut.id, b"x\n")
        state = await driver.create(spec(["sleep", "60"], stdin_open=True))
        with pytest.raises(CumuloError):  # not running yet
            await driver.write_stdin(state.id, b"x\n")
        await driver.start(state.id)
        await driver.put_files(state.id, tar_of("a.txt", "a"))
        await driver.write_stdin(state.id, b"one\n")
        kept = driver.state.container(state.id)
        assert kept.stdin == b"one\n" and len(kept.files) == 1

    asyncio.run(run())



"""``POST /instances/{instance}/exec``: one command in a running instance, no TTY; its exit code,
stdout and stderr (``cumulo exec NAME -- cmd``). Limits: a deadline (default 60 s, at most 600),
1 MiB kept per stream, and a few commands at a time per user."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import Conflict, InvalidInput, RateLimited, Unavailable
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.events import service as events

MAX_OUTPUT = 1024 * 1024
MAX_TIMEOUT = 600
MAX_ARG = 65536  # a script piped to `cumulo ssh` travels as one argument of sh -c
PER_USER = 4  # commands running at once, per user and API process


class ExecIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: list[str] = Field(min_length=1, max_length=100, description='e.g. ["sh", "-c", "ls /"]')
    timeout_seconds: int = Field(60, ge=1, le=MAX_TIMEOUT, description="killed after this long")

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str]) -> list[str]:
        if not value[0]:
            raise ValueError("the command's program must not be empty")
        if any(len(a) > MAX_ARG or "\0" in a for a in value):
            raise ValueError(f"command arguments are at most {MAX_ARG} characters, without NUL")
        return value


class ExecOut(BaseModel):
    exit_code: int | None = Field(description="null when the command was killed at its deadline")
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool = Field(description=f"a stream printed more than {MAX_OUTPUT} bytes; the rest was dropped")


def _slots(platform: Platform, user_id: str) -> asyncio.Semaphore:
    table: dict[str, asyncio.Semaphore] = platform.get_or_create("compute.exec_slots", dict)
    return table.setdefault(user_id, asyncio.Semaphore(PER_USER))


async def execute(platform: Platform, session: AsyncSession, user: Principal, ref: str, body: ExecIn) -> ExecOut:
    from cumulo.drivers.compute import compute_driver
    from cumulo.drivers.compute.docker import DockerDriver
    from cumulo.services.compute.service import get_instance

    inst = await get_instance(session, user, ref)
    if inst.status != "RUNNING" or not inst.container_id:
        raise Conflict(f"instance '{inst.name}' is {inst.status}: exec needs it RUNNING")
    if (inst.meta or {}).get("backend") == "vm":
        raise InvalidInput(f"instance '{inst.name}' is a VM: it runs no commands from the host (use its console)")
    driver = compute_driver(platform)
    if not isinstance(driver, DockerDriver):
        raise Unavailable("exec runs commands on the Docker engine only")
    slots = _slots(platform, user.user_id)
    if slots.locked():
        raise RateLimited(1, f"at most {PER_USER} commands run at once per user: wait for one to end")
    events.record(session, user_id=user.user_id, action="instance.exec", resource_type="instance",
                  resource_id=inst.id, name=inst.name, program=body.command[0][:100])  # never the arguments
    await session.commit()
    async with slots:
        result = await driver.exec_captured(inst.container_id, body.command, body.timeout_seconds, MAX_OUTPUT)
    return ExecOut(exit_code=result.exit_code, stdout=result.stdout.decode("utf-8", "replace"),
                   stderr=result.stderr.decode("utf-8", "replace"), timed_out=result.timed_out,
                   truncated=result.truncated)
